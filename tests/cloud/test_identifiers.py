"""The id allowlist in front of every URL path."""

from __future__ import annotations

import pytest

from fdi_drift.cloud.identifiers import ID_RULE, check_id, is_id
from fdi_drift.errors import InvalidIdentifierError


@pytest.mark.parametrize(
    "value",
    ["9496207a5d6b44b486d79005b5815bd4", "fae7ff6c-8e07-4cf8-9e67-589cab2f017c", "a", "A_b-9" * 12],
)
def test_real_ids_pass_unchanged(value: str) -> None:
    """Hex ids, UUIDs and names of letters, digits, `_` and `-` up to 64 chars are returned."""
    assert check_id("task_id", value) == value


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65, "../admin", "a/b", "a%2Fb", "a?b=c", "a b", "id\n", "caf\u00e9", "a.b"],
)
def test_anything_else_is_refused_with_field_and_repr(value: str) -> None:
    """Empty, too long, path-changing or non-ASCII ids raise, naming the field and the value."""
    with pytest.raises(InvalidIdentifierError) as caught:
        check_id("instance_id", value)
    assert "instance_id" in str(caught.value)
    assert repr(value)[:40] in str(caught.value)


def test_long_values_are_shown_truncated() -> None:
    """A huge value is cut in the message, with its length."""
    with pytest.raises(InvalidIdentifierError) as caught:
        check_id("task_id", "/" * 10_000)
    assert len(str(caught.value)) < 200
    assert "10002 chars" in str(caught.value)


def test_non_strings_are_refused() -> None:
    """A number or None where an id belongs is refused, not formatted into a path."""
    with pytest.raises(InvalidIdentifierError, match="None"):
        check_id("project_id", None)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["a", "A_b-9" * 12, "", "x" * 65, "a/b", "a.b", None, 7])
def test_is_id_answers_what_check_id_enforces(value: object) -> None:
    """`is_id` holds exactly for the values `check_id` returns; a refusal states the rule."""
    try:
        check_id("task_id", value)  # type: ignore[arg-type]
    except InvalidIdentifierError as error:
        assert not is_id(value)
        assert f"task_id must be {ID_RULE}, got " in str(error)
    else:
        assert is_id(value)
