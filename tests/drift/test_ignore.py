"""Ignore rules: pattern matching, validation and pruning."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fdi_drift.drift.ignore import REMOVED, IgnoreRules, compile_ignore, prune
from fdi_drift.errors import DocumentError
from tests.drift.json_trees import patterns_for, small_trees


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/task/description", ("task", "description"), True),
        ("/task/description", ("task",), False),
        ("/task/description", ("task", "description", "x"), False),
        ("/task/*", ("task", "status"), True),
        ("/task/*", ("task",), False),
        ("/task/*", ("task", "a", "b"), False),
        ("/*/id", ("x", "id"), True),
        ("/**/dataTimestamp", ("dataTimestamp",), True),
        ("/**/dataTimestamp", ("task_detail", "src", "dataTimestamp"), True),
        ("/**/dataTimestamp", ("task_detail", "dataTimestamp", "x"), False),
        ("/task_detail/**/dataTimestamp", ("task_detail", "dataTimestamp"), True),
        ("/task_detail/**/dataTimestamp", ("task_detail", "a", "b", "dataTimestamp"), True),
        ("/task_detail/**/dataTimestamp", ("task", "dataTimestamp"), False),
        ("/a/**", ("a",), True),
        ("/a/**", ("a", "b", "c"), True),
        ("/a/**", ("b",), False),
        ("/**", (), True),
        ("/a/**/b/**/c", ("a", "x", "b", "y", "z", "c"), True),
        ("/a/**/b/**/c", ("a", "c", "b"), False),
        ("/a~1b/c~0d", ("a/b", "c~d"), True),
        ("/a~1b", ("a", "b"), False),
        ("/a~01", ("a~1",), True),
        ("/mappingTable/1", ("mappingTable", 1), True),
        ("/mappingTable/1", ("mappingTable", 10), False),
        ("/mappingTable/*/isAddMapping", ("mappingTable", 3, "isAddMapping"), True),
        ("/", ("",), True),
    ],
)
def test_ignore_patterns_match_exactly_the_paths_they_name(
    pattern: str, path: tuple[str | int, ...], matches: bool
) -> None:
    """`*` is one segment, `**` any number, "~0"/"~1" are escapes, indexes are decimal."""
    assert compile_ignore([pattern]).matches(path) is matches


def test_ignore_rules_match_when_any_pattern_does() -> None:
    """Several patterns act as one rule set."""
    rules = compile_ignore(["/a/b", "/c/*"])
    assert rules.matches(("a", "b"))
    assert rules.matches(("c", 0))
    assert not rules.matches(("a", "c"))


def test_no_patterns_match_nothing() -> None:
    """An empty rule set ignores nothing, not even the root."""
    rules = compile_ignore([])
    assert not rules.matches(())
    assert not rules.matches(("a",))
    assert prune({"a": 1}, rules) == {"a": 1}


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("task/description", "must start with '/'"),
        ("", "must start with '/'"),
        ("/a**/b", "'**' must be a whole segment"),
        ("/a/***", "'**' must be a whole segment"),
        ("/a~2", "'~' must be followed by '0' or '1'"),
        ("/a~", "'~' must be followed by '0' or '1'"),
    ],
)
def test_compile_ignore_names_where_and_the_bad_pattern(pattern: str, reason: str) -> None:
    """A malformed pattern raises DocumentError naming the place it came from and itself."""
    with pytest.raises(DocumentError) as raised:
        compile_ignore(["/fine", pattern], where="/ignore/3")
    assert str(raised.value) == f"/ignore/3: ignore pattern {pattern!r}: {reason}"


def test_ignore_rules_compare_by_their_patterns() -> None:
    """Two rule sets with the same patterns are equal and hash alike."""
    assert compile_ignore(["/a"]) == IgnoreRules(("/a",))
    assert hash(compile_ignore(["/a"])) == hash(IgnoreRules(("/a",)))


def test_prune_removes_keys_and_holds_list_positions() -> None:
    """Matched keys go; a matched list item becomes None so later items keep their index."""
    value = {"a": {"t": 1, "keep": 2}, "l": [{"t": 1}, "x", "y"], "t": 0}
    rules = compile_ignore(["/**/t", "/l/1"])
    assert prune(value, rules) == {"a": {"keep": 2}, "l": [{}, None, "y"]}


def test_prune_does_not_modify_its_input() -> None:
    """The document passed in is left as it was."""
    value = {"a": {"b": [1, {"c": 2}]}}
    before = copy.deepcopy(value)
    prune(value, compile_ignore(["/a/b/1/c", "/a/b/0"]))
    assert value == before


def test_prune_returns_the_same_object_when_nothing_matches() -> None:
    """Nothing to remove means nothing is copied."""
    value = {"a": {"b": [1, 2]}}
    assert prune(value, compile_ignore(["/a/c", "/**/z"])) is value


@given(
    small_trees().flatmap(
        lambda tree: st.tuples(st.just(tree), st.lists(patterns_for(tree), max_size=3))
    )
)
def test_prune_is_idempotent_and_leaves_no_match(case: tuple[Any, list[str]]) -> None:
    """Pruning twice equals pruning once, and no matched key survives."""
    tree, patterns = case
    rules = compile_ignore(patterns)
    once = prune(tree, rules)
    assert prune(once, rules) == once

    def check(node: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                assert not rules.matches((*path, key))
                check(item, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if rules.matches((*path, index)):
                    assert item is None
                else:
                    check(item, (*path, index))

    check(once, ())


def test_prune_at_answers_removed_only_below_the_root() -> None:
    """A node the rules match whole is REMOVED; the root is pruned inside, never removed."""
    rules = compile_ignore(["/a/**", "/b/c"])
    assert rules.prune_at({"x": 1}, ("a", "k")) is REMOVED
    assert rules.prune_at({"c": 1, "d": 2}, ("b",)) == {"d": 2}
    assert compile_ignore(["/**"]).prune_at({"a": 1}, ()) == {}
