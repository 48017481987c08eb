"""Normalization: removals, secret references and projection onto desired."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fdi_drift.drift.document import canonical_bytes
from fdi_drift.drift.ignore import compile_ignore, prune
from fdi_drift.drift.normalizer import (
    project,
    project_value,
    prune_unshaped,
    remove_paths,
    strip_secret_refs,
)
from fdi_drift.errors import DocumentError
from tests.drift.json_trees import patterns_for, small_live_trees, small_trees


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


def test_strip_secret_refs_copies_only_on_the_way_to_a_reference() -> None:
    """No reference, no copy; with one, the declared spec is left as it was."""
    spec: dict[str, Any] = {"a": {"b": [1]}, "c": [{"pw": {"secretRef": "s/pw"}, "d": 2}]}
    before = copy.deepcopy(spec)
    stripped, _ = strip_secret_refs(spec)
    assert spec == before
    assert stripped["a"] is spec["a"]  # shared: nothing to strip below it
    assert stripped["c"] is not spec["c"] and stripped["c"][0] == {"d": 2}
    plain: dict[str, Any] = {"a": {"b": [1]}}
    assert strip_secret_refs(plain) == (plain, ())
    assert strip_secret_refs(plain)[0] is plain


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
