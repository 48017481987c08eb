"""Tests for selectors and for the times and durations people type and read."""

from __future__ import annotations

import pytest

from fdi_drift.selectors import Selector
from fdi_drift.times import age, parse_duration, rfc3339

TASK = ("FdiTask", "proj1", "inst1", "orders_daily", "9496207a")
JOB = ("DrsJob", "proj1", "", "mysql-sync", "a1b2c3")


@pytest.mark.parametrize(
    ("text", "task", "job"),
    [
        ("orders_daily", True, False),
        ("orders*", True, False),
        ("9496207a", True, False),  # by id
        ("a1b2*", False, True),
        ("FdiTask/orders_daily", True, False),
        ("fditask/*", True, False),  # kinds without regard to case
        ("DrsJob/*", False, True),
        ("*/mysql-*", False, True),
        ("proj1/inst1/orders_daily", True, False),
        ("proj1//mysql-sync", False, True),  # a DRS job has no instance
        ("proj1/*/*", True, True),
        ("proj2/*/*", False, False),
    ],
)
def test_a_selector_matches_by_name_id_kind_and_scope(text: str, task: bool, job: bool) -> None:
    selector = Selector.parse(text)
    assert (selector.matches(*TASK), selector.matches(*JOB)) == (task, job)


@pytest.mark.parametrize("text", ["", "a/b/c/d", "FdiTask/", "/orders", "p/i/"])
def test_what_is_no_selector_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected NAME, ID, KIND/NAME or PROJECT/INSTANCE/NAME"):
        Selector.parse(text)


def test_durations_times_and_ages() -> None:
    assert [parse_duration(t) for t in ("90s", "30m", "2h", "7d", "1w", "1h30m", "1.5h")] == [
        90, 1800, 7200, 604800, 604800, 5400, 5400,
    ]  # fmt: skip
    for bad in ("", "2", "h", "2x", "-1h", "1h 30m"):
        with pytest.raises(ValueError, match="expected a duration such as 30m, 2h or 7d"):
            parse_duration(bad)
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(None) is None
    assert [age(s) for s in (0, 42, 303, 7500, 273600, -5)] == [
        "0 s", "42 s", "5 min", "2 h 5 min", "3 d 4 h", "0 s",
    ]  # fmt: skip
    assert age(None) == ""
