"""Tests for JSON pointer syntax: escaping, unescaping, splitting and children."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fdi_drift.drift.pointer import (
    child_pointer,
    escape,
    has_stray_tilde,
    parse_pointer,
    split_pointer,
    unescape,
)
from fdi_drift.errors import DocumentError


@given(st.text(max_size=8))
def test_unescape_inverts_escape(key: str) -> None:
    """Every key comes back from its escaped segment, which holds no "/" and no stray "~"."""
    segment = escape(key)
    assert "/" not in segment and not has_stray_tilde(segment)
    assert unescape(segment) == key


@pytest.mark.parametrize(
    ("text", "stray"),
    [("a~0b", False), ("~1", False), ("/a~1b/~0", False), ("a~", True), ("~2", True), ("~/", True)],
)
def test_a_stray_tilde_is_one_not_starting_an_escape(text: str, stray: bool) -> None:
    """Only "~0" and "~1" are escapes; any other "~" is stray, at a segment's end too."""
    assert has_stray_tilde(text) is stray


def test_child_pointer_escapes_keys_and_writes_indexes_in_decimal() -> None:
    """A key holding "/" or "~" is escaped; an index is its decimal string; the root is ""."""
    assert child_pointer("", "a/b") == "/a~1b"
    assert child_pointer("/spec", "m~n") == "/spec/m~0n"
    assert child_pointer("/list", 3) == "/list/3"


def test_split_pointer_reads_what_parse_pointer_refuses() -> None:
    """A stray "~" stays as written, where parse_pointer raises; escapes are read alike."""
    assert split_pointer("/a~1b/m~0n") == parse_pointer("/a~1b/m~0n") == ("a/b", "m~n")
    assert split_pointer("/a~b") == ("a~b",)
    assert split_pointer("") == ()
    with pytest.raises(DocumentError, match="'~' must be followed by '0' or '1'"):
        parse_pointer("/a~b")
