"""Normalization: ignore patterns, pruning, secret references and projection onto desired."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fdi_drift.drift.document import canonical_bytes
from fdi_drift.drift.normalizer import (
    IgnoreRules,
    compile_ignore,
    project,
    project_value,
    prune,
    prune_unshaped,
    remove_paths,
    strip_secret_refs,
)
from fdi_drift.errors import DocumentError
from tests.drift.json_trees import patterns_for, small_live_trees, small_trees


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


def test_remove_paths_removes_keys_and_holds_list_positions() -> None:
    """Keys are deleted, list items become None, missing paths are skipped."""
    value = {"a": {"b": 1, "c": 2}, "l": [1, 2, 3]}
    paths = [("a", "b"), ("l", 0), ("l", 2), ("a", "missing"), ("l", 9), ("x", "y")]
    assert remove_paths(value, paths) == {"a": {"c": 2}, "l": [None, 2, None]}
    assert value == {"a": {"b": 1, "c": 2}, "l": [1, 2, 3]}


def test_remove_paths_lets_a_shorter_path_win() -> None:
    """Removing a container and something inside it removes the container."""
    assert remove_paths({"a": {"b": 1}, "c": 1}, [("a", "b"), ("a",)]) == {"c": 1}
    assert remove_paths({"a": {"b": 1}, "c": 1}, [("a",), ("a", "b")]) == {"c": 1}


def test_remove_paths_refuses_the_root() -> None:
    """The root of a document cannot be removed."""
    with pytest.raises(DocumentError):
        remove_paths({"a": 1}, [()])


def test_strip_secret_refs_removes_references_and_reports_their_paths() -> None:
    """Secret references leave the copy; a list item one leaves None to hold its place."""
    spec = {
        "source": {"user": "u", "password": {"secretRef": "db/password"}},
        "targets": [{"secretRef": "t/key"}, {"pw": {"secretRef": "t/pw"}, "x": 1}],
        "not_a_ref": {"secretRef": "a/b", "other": 1},
    }
    stripped, paths = strip_secret_refs(spec)
    assert stripped == {
        "source": {"user": "u"},
        "targets": [None, {"x": 1}],
        "not_a_ref": {"secretRef": "a/b", "other": 1},
    }
    assert paths == (("source", "password"), ("targets", 0), ("targets", 1, "pw"))


def test_strip_secret_refs_copies_deeply() -> None:
    """Changing the stripped copy leaves the declared spec alone."""
    spec: dict[str, Any] = {"a": {"b": [1]}}
    stripped, _ = strip_secret_refs(spec)
    stripped["a"]["b"].append(2)
    assert spec == {"a": {"b": [1]}}


def test_project_keeps_only_what_desired_declares() -> None:
    """Undeclared keys go, keys live lacks stay absent, lists pair up by position."""
    live = {
        "task": {"task_name": "n", "status": "running", "created_date": 1},
        "list": [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5}],
        "short": [1],
    }
    desired = {
        "task": {"task_name": "x", "task_tag": "t"},
        "list": [{"a": 0}, {"b": 0}],
        "short": [1, 2],
    }
    projection = project(live, desired)
    assert projection.value == {
        "task": {"task_name": "n"},
        "list": [{"a": 1}, {"b": 4}, {"a": 5}],
        "short": [1],
    }
    assert projection.masked == ()
    assert projection.unshaped == (("list", 2),)


def test_project_decodes_nested_json_only_where_desired_holds_a_container() -> None:
    """A string holding JSON is decoded under a declared dict, compared raw under a string."""
    live = {
        "task_detail": json.dumps({"bodyRaw": '{"pageNum":"1","pageSize":"10"}', "other": 1}),
        "raw": '{"k": 1}',
    }
    desired = {"task_detail": {"bodyRaw": {"pageSize": "20"}}, "raw": '{"k": 1}'}
    assert project(live, desired).value == {
        "task_detail": {"bodyRaw": {"pageSize": "10"}},
        "raw": '{"k": 1}',
    }


def test_project_keeps_live_whole_where_types_differ() -> None:
    """A live container under a desired scalar (or the other kind of container) stays whole."""
    live = {"a": {"x": 1, "y": 2}, "b": [1, 2], "c": "not json"}
    desired = {"a": 1, "b": {"x": 1}, "c": {"x": 1}}
    projection = project(live, desired)
    assert projection.value == live
    assert set(projection.unshaped) == {("a",), ("b",)}


def test_project_records_masked_secrets_and_keeps_their_place() -> None:
    """A masked live value under anything desired declares is recorded by path."""
    live = {"db": {"password": "******", "user": "u"}, "keys": ["***", "k"], "note": "***"}
    desired = {"db": {"password": "hunter2", "user": "u"}, "keys": ["x", "k"]}
    projection = project(live, desired)
    assert projection.masked == (("db", "password"), ("keys", 0))
    assert projection.value == {"db": {"password": "******", "user": "u"}, "keys": ["***", "k"]}


def test_project_does_not_modify_live() -> None:
    """The live document passed in is left as it was."""
    live = {"a": {"b": [1, 2, 3], "c": '{"d": 1}'}}
    before = copy.deepcopy(live)
    project(live, {"a": {"b": [0], "c": {"d": 0}}})
    assert live == before


@given(small_live_trees(), small_trees())
def test_project_is_idempotent(live: Any, desired: Any) -> None:
    """Projecting a projection again changes nothing, masks and unshaped places included."""
    once = project(live, desired)
    assert project(once.value, desired) == once


@given(small_live_trees(), small_trees())
def test_project_value_is_the_value_of_project(live: Any, desired: Any) -> None:
    """The quick projection builds the same tree as the full one."""
    assert canonical_bytes(project_value(live, desired)) == canonical_bytes(
        project(live, desired).value
    )


@given(
    small_trees().flatmap(
        lambda desired: st.tuples(
            small_live_trees(), st.just(desired), st.lists(patterns_for(desired), max_size=3)
        )
    )
)
def test_prune_unshaped_equals_pruning_the_whole_projection(
    case: tuple[Any, Any, list[str]],
) -> None:
    """For desired pruned by the rules, pruning only the unshaped places is pruning it all."""
    live, desired, patterns = case
    rules = compile_ignore(patterns)
    projection = project(live, prune(desired, rules))
    before = copy.deepcopy(projection.value)
    assert prune_unshaped(projection, rules) == prune(projection.value, rules)
    assert projection.value == before
