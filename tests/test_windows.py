"""Tests for reconcile windows: cron expressions read as cron reads them, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fdi_drift.errors import ConfigError
from fdi_drift.windows import reconcile_windows

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SUNDAY_3AM = datetime(2026, 11, 22, 3, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "moment", "inside"),
    [
        ("* 12 * * 1", MONDAY_NOON, True),  # cron counts weekdays from Sunday = 0
        ("* 12 * * 2", MONDAY_NOON, False),
        ("* 12 * * 1-5", MONDAY_NOON, True),
        ("* * * * 0", SUNDAY_3AM, True),
        ("* * * * 7", SUNDAY_3AM, True),
        ("* * * * 1-5", SUNDAY_3AM, False),
        ("* 2-4 * * sun", SUNDAY_3AM, True),
        ("0 12 23 11 *", MONDAY_NOON, True),
        ("1 12 23 11 *", MONDAY_NOON, False),
        ("*/15 * * * *", SUNDAY_3AM, True),
    ],
)
def test_windows_follow_cron_in_utc(expression: str, moment: datetime, inside: bool) -> None:
    """A moment is inside when its minute matches the expression, weekdays as cron counts them."""
    assert reconcile_windows((expression,))(moment) is inside


def test_no_windows_means_always_and_any_match_is_enough() -> None:
    """An empty list allows every minute; with several, one matching is enough."""
    assert reconcile_windows(())(MONDAY_NOON)
    assert reconcile_windows(("* 1 * * *", "* 12 * * *"))(MONDAY_NOON)


@pytest.mark.parametrize(
    ("expression", "inside"),
    [
        ("0 12 1 * 1", True),  # not the 1st, but a Monday
        ("0 12 23 * 5", True),  # not a Friday, but the 23rd
        ("0 12 1 * 5", False),  # neither
        ("0 12 23 * *", True),  # a star in one day field: the other alone decides
        ("0 12 * * 5", False),
    ],
)
def test_day_of_month_and_day_of_week_both_set_means_either(expression: str, inside: bool) -> None:
    """With both day fields restricted a day matches either one, as cron has it (not both)."""
    assert reconcile_windows((expression,))(MONDAY_NOON) is inside


@pytest.mark.parametrize(
    ("expression", "moment", "inside"),
    [
        ("0-30/15 3 * * *", SUNDAY_3AM, True),  # 0, 15, 30
        ("0-30/20 3 * * *", SUNDAY_3AM, False),  # 0, 20
        ("0 9-17/4 * * *", MONDAY_NOON, False),  # 9, 13, 17
        ("0 9-17/4 * * *", MONDAY_NOON + timedelta(hours=1), True),
        ("* * * * 1-5/2", MONDAY_NOON, True),  # Monday, Wednesday, Friday
        ("* * * * 1-5/2", MONDAY_NOON + timedelta(days=1), False),
        ("* * * nov mon", MONDAY_NOON, True),
        ("* * * dec mon", MONDAY_NOON, False),
    ],
)
def test_ranges_with_steps_and_names(expression: str, moment: datetime, inside: bool) -> None:
    """Stepped ranges take every n-th value from the range's start; month and day names work."""
    assert reconcile_windows((expression,))(moment) is inside


def test_the_whole_minute_counts_and_other_zones_are_read_in_utc() -> None:
    """Seconds within a named minute are inside; a moment in another zone is compared in UTC."""
    noon_only = reconcile_windows(("0 12 * * *",))
    assert noon_only(MONDAY_NOON + timedelta(seconds=59, microseconds=999))
    assert not noon_only(MONDAY_NOON + timedelta(minutes=1))
    assert noon_only(datetime(2026, 11, 23, 13, 0, tzinfo=timezone(timedelta(hours=1))))


@pytest.mark.parametrize("expression", ["* * *", "61 * * * *", "* * * * 9"])
def test_bad_windows_name_the_setting(expression: str) -> None:
    """An invalid expression is a configuration error naming the window."""
    with pytest.raises(ConfigError, match=r"reconcile.windows\[0\]"):
        reconcile_windows((expression,))


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("0 25 * * *", "Bad hour"),
        ("0 0 12 * * *", "5 fields"),  # cronsim's seconds-first form is not standard cron
        ("0 0 31 2 *", "Bad day-of-month"),  # a window that could never open
        ("0 0 * * 1-5/0", "Bad day-of-week"),
    ],
)
def test_a_bad_window_is_named_by_index_and_text(expression: str, why: str) -> None:
    """The error names which window, quotes its expression and says what is wrong with it."""
    with pytest.raises(ConfigError) as raised:
        reconcile_windows(("* * * * *", expression))
    assert str(raised.value).startswith(f"reconcile.windows[1]: {expression!r}: ")
    assert why in str(raised.value)
