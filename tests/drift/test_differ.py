"""Deciding drift: preparing desired state, the cheap match, and field-level diffs."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fdi_drift.drift.differ import REDACTED, Match, diff, match, prepare_desired
from fdi_drift.drift.document import canonical_bytes, decode_text, encode, fingerprint
from fdi_drift.drift.ignore import compile_ignore, prune
from fdi_drift.drift.model import ChangeOp, FieldChange
from fdi_drift.drift.normalizer import (
    project,
    remove_paths,
    strip_secret_refs,
)
from fdi_drift.errors import DocumentError
from tests.drift.json_trees import patterns_for, small_live_trees, small_trees

NO_RULES = compile_ignore([])
TASK_FIELDS = ("task_name", "task_type", "source_datasource_id", "target_datasource_id")


def _seed_000_spec(text: str) -> dict[str, Any]:
    """Seed 000 as a desired spec: its writable task fields and the decoded task_detail."""
    document = decode_text(text, what="seed 000")
    value: Any = copy.deepcopy(document.value)
    return dict(value)


def _live_like(text: str, change: Any) -> Any:
    """Seed 000 as the service would send it after `change` edited its decoded form."""
    document = decode_text(text, what="seed 000")
    edited = copy.deepcopy(document.value)
    change(edited)
    return encode(edited, document.encoded)


def _changes(desired: Any, live: Any, ignore: list[str] | None = None) -> tuple[FieldChange, ...]:
    result = match(prepare_desired(desired, compile_ignore(ignore or [])), live)
    assert not result.in_sync
    return diff(result)


def test_prepare_desired_strips_secrets_and_ignored_paths_and_hashes_the_rest() -> None:
    """The prepared value holds neither secret references nor ignored fields."""
    spec = {"a": {"pw": {"secretRef": "db/pw"}, "ts": 1, "keep": True}}
    prepared = prepare_desired(spec, compile_ignore(["/**/ts"]))
    assert prepared.value == {"a": {"keep": True}}
    assert prepared.fingerprint == fingerprint({"a": {"keep": True}})
    assert prepared.secret_paths == (("a", "pw"),)
    assert spec["a"]["pw"] == {"secretRef": "db/pw"}


def test_prepare_desired_refuses_a_spec_that_is_not_json() -> None:
    """A YAML date in the spec fails loudly instead of comparing as a string."""
    with pytest.raises(DocumentError):
        prepare_desired({"day": datetime.date(2024, 1, 1)}, NO_RULES)  # type: ignore[dict-item]


def test_unchanged_seed_is_in_sync_whether_live_is_decoded_or_not(seed_000_text: str) -> None:
    """Live as sent (nested strings) and live decoded both match the decoded desired state."""
    prepared = prepare_desired(_seed_000_spec(seed_000_text), NO_RULES)
    assert match(prepared, orjson.loads(seed_000_text)).in_sync
    assert match(prepared, decode_text(seed_000_text, what="x").value).in_sync


def test_server_owned_fields_are_not_drift(seed_002_text: str) -> None:
    """Fields live has and desired does not declare never count."""
    live = orjson.loads(seed_002_text)
    desired = {
        "task": {field: live["task"][field] for field in ("task_name", "source_datasource_id")},
        "task_detail": {"sourceSelectedDatasource": {"sourceTable": "zhenghaotest.zh_sss01"}},
    }
    assert match(prepare_desired(desired, NO_RULES), live).in_sync


def test_page_size_and_description_changes_are_reported_exactly(seed_000_text: str) -> None:
    """Two edits give two changes, with pointers reaching inside the nested bodyRaw string."""

    def edit(value: Any) -> None:
        value["task_detail"]["sourceSelectedDatasource"]["bodyRaw"]["pageSize"] = "50"
        value["task"]["description"] = "edited by hand"

    live = _live_like(seed_000_text, edit)
    assert isinstance(live["task_detail"], str)
    changes = _changes(_seed_000_spec(seed_000_text), live)
    assert changes == (
        FieldChange("/task/description", ChangeOp.CHANGED, "mysql", "edited by hand"),
        FieldChange(
            "/task_detail/sourceSelectedDatasource/bodyRaw/pageSize", ChangeOp.CHANGED, "10", "50"
        ),
    )


def test_a_match_that_drifted_shows_both_sides(seed_000_text: str) -> None:
    """The Match carries the compared desired and projected live documents."""
    live = _live_like(seed_000_text, lambda v: v["task"].update(description="x"))
    result = match(prepare_desired({"task": {"description": "mysql"}}, NO_RULES), live)
    assert result == Match(
        False, {"task": {"description": "mysql"}}, {"task": {"description": "x"}}
    )


@pytest.mark.parametrize(
    ("desired", "live"),
    [(1, 1.0), (1, True), (1.0, True), (0, False), (1, "1"), (None, 0), ("", None)],
)
def test_number_type_differences_are_drift(desired: Any, live: Any) -> None:
    """1, 1.0, true and "1" are all different values."""
    assert _changes({"v": desired}, {"v": live}) == (
        FieldChange("/v", ChangeOp.CHANGED, desired, live),
    )


def test_missing_and_surplus_items_are_absent_and_extra() -> None:
    """A declared key live lacks is ABSENT; live list items beyond desired's are EXTRA."""
    changes = _changes(
        {"a": {"b": 1, "c": 2}, "l": [1, 2], "m": [1, 2, 3]},
        {"a": {"b": 1}, "l": [1, 2, 3, 4], "m": [1]},
    )
    assert changes == (
        FieldChange("/a/c", ChangeOp.ABSENT, 2, None),
        FieldChange("/l/2", ChangeOp.EXTRA, None, 3),
        FieldChange("/l/3", ChangeOp.EXTRA, None, 4),
        FieldChange("/m/1", ChangeOp.ABSENT, 2, None),
        FieldChange("/m/2", ChangeOp.ABSENT, 3, None),
    )


def test_a_type_change_of_a_container_is_one_change() -> None:
    """A dict where a list was declared is reported once, at its own pointer."""
    assert _changes({"a": [1]}, {"a": {"x": 1}}) == (
        FieldChange("/a", ChangeOp.CHANGED, [1], {"x": 1}),
    )


def test_changes_are_sorted_by_pointer() -> None:
    """The report lists changes in pointer order, whatever deepdiff's order."""
    changes = _changes({"z": 1, "a": {"c": 1, "b": 1}, "m": 1}, {"z": 2, "a": {"c": 2}, "m": 2})
    pointers = [change.pointer for change in changes]
    assert pointers == sorted(pointers)
    assert pointers == ["/a/b", "/a/c", "/m", "/z"]


def test_keys_that_look_private_are_compared_too() -> None:
    """Keys starting with "__" are fields like any other."""
    assert _changes({"__a": 1}, {"__a": 2}) == (FieldChange("/__a", ChangeOp.CHANGED, 1, 2),)


def test_pointers_escape_slash_and_tilde() -> None:
    """Keys holding "/" or "~" come out escaped per RFC 6901."""
    assert _changes({"a/b": {"~": 1}}, {"a/b": {"~": 2}})[0].pointer == "/a~1b/~0"


def test_a_masked_live_password_never_drifts() -> None:
    """ "******" in live matches whatever desired declares; other fields still count."""
    desired = {"db": {"db_password": "hunter2", "db_user": "app"}}
    assert match(
        prepare_desired(desired, NO_RULES), {"db": {"db_password": "******", "db_user": "app"}}
    ).in_sync
    result = match(
        prepare_desired(desired, NO_RULES), {"db": {"db_password": "******", "db_user": "x"}}
    )
    assert not result.in_sync
    assert result.desired == {"db": {"db_user": "app"}}
    assert diff(result) == (FieldChange("/db/db_user", ChangeOp.CHANGED, "app", "x"),)


def test_a_masked_list_item_keeps_later_items_in_place() -> None:
    """A masked item in a list is skipped without shifting the items after it."""
    prepared = prepare_desired({"keys": ["k1", "secret", "k3"]}, NO_RULES)
    assert match(prepared, {"keys": ["k1", "***", "k3"]}).in_sync
    result = match(prepared, {"keys": ["k1", "***", "k4"]})
    assert diff(result) == (FieldChange("/keys/2", ChangeOp.CHANGED, "k3", "k4"),)


def test_a_secret_reference_compares_as_unknowable() -> None:
    """A declared secretRef never drifts, in a dict or as a list item."""
    desired = {
        "db": {"password": {"secretRef": "db/pw"}, "user": "u"},
        "l": [{"secretRef": "a/b"}, 1],
    }
    prepared = prepare_desired(desired, NO_RULES)
    assert match(prepared, {"db": {"password": "plain", "user": "u"}, "l": ["plain", 1]}).in_sync
    result = match(prepared, {"db": {"password": "plain", "user": "u"}, "l": ["plain", 2]})
    assert diff(result) == (FieldChange("/l/1", ChangeOp.CHANGED, 1, 2),)


def test_an_ignored_path_inside_a_nested_string_never_drifts(seed_000_text: str) -> None:
    """Ignoring a field inside bodyRaw hides its changes though live holds bodyRaw as text."""

    def edit(value: Any) -> None:
        value["task_detail"]["sourceSelectedDatasource"]["bodyRaw"]["pageNum"] = "7"
        value["task_detail"]["sourceSelectedDatasource"]["dataTimestamp"] = 1700000000000

    live = _live_like(seed_000_text, edit)
    rules = compile_ignore(
        ["/task_detail/sourceSelectedDatasource/bodyRaw/pageNum", "/task_detail/**/dataTimestamp"]
    )
    assert match(prepare_desired(_seed_000_spec(seed_000_text), rules), live).in_sync
    assert not match(prepare_desired(_seed_000_spec(seed_000_text), NO_RULES), live).in_sync


def test_an_ignored_list_item_keeps_later_items_in_place() -> None:
    """Ignoring /l/1 hides that item only; the items after it still pair up by position."""
    prepared = prepare_desired({"l": ["a", "b", "c"]}, compile_ignore(["/l/1"]))
    assert match(prepared, {"l": ["a", "X", "c"]}).in_sync
    assert diff(match(prepared, {"l": ["a", "X", "d"]})) == (
        FieldChange("/l/2", ChangeOp.CHANGED, "c", "d"),
    )


def test_ignore_rules_reach_into_surplus_live_items() -> None:
    """Ignored fields inside live items desired does not declare do not show in the diff."""
    prepared = prepare_desired({"l": [{"a": 1}]}, compile_ignore(["/l/*/ts"]))
    result = match(prepared, {"l": [{"a": 1, "ts": 5}, {"a": 2, "ts": 6}]})
    assert diff(result) == (FieldChange("/l/1", ChangeOp.EXTRA, None, {"a": 2}),)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "ROOT_PASSWD",
        "pwd",
        "clientSecret",
        "secret_key",
        "token",
        "authToken",
        "private_key",
        "privateKey",
        "access_key",
        "AccessKey",
        "sk",
        "ak",
        "user_ak",
        "SK",
    ],
)
def test_secret_looking_fields_come_back_redacted(key: str) -> None:
    """A change at a secret-looking key shows neither value."""
    assert _changes({"conn": {key: "old"}}, {"conn": {key: "new"}}) == (
        FieldChange(f"/conn/{key}", ChangeOp.CHANGED, REDACTED, REDACTED),
    )


@pytest.mark.parametrize("key", ["task", "mask", "desk_id", "skip", "name", "field_name"])
def test_ordinary_fields_are_not_redacted(key: str) -> None:
    """Keys that merely contain "sk" or "ak" inside a word are shown."""
    assert _changes({key: "old"}, {key: "new"}) == (
        FieldChange(f"/{key}", ChangeOp.CHANGED, "old", "new"),
    )


def test_values_holding_secret_keys_are_redacted() -> None:
    """A dict or list value with a secret-looking key anywhere inside is redacted whole."""
    changes = _changes(
        {"endpoints": [{"host": "a", "db_password": "x"}], "plain": [{"host": "a"}]},
        {"endpoints": [], "plain": [], "extra": []},
    )
    assert changes == (
        FieldChange("/endpoints/0", ChangeOp.ABSENT, REDACTED, None),
        FieldChange("/plain/0", ChangeOp.ABSENT, {"host": "a"}, None),
    )


def test_json_text_holding_secret_keys_is_redacted() -> None:
    """A string of JSON text with a secret-looking key is redacted as well."""
    changes = _changes({"body": '{"token": "abc"}'}, {"body": '{"token": "xyz"}'})
    assert changes == (FieldChange("/body", ChangeOp.CHANGED, REDACTED, REDACTED),)


def test_match_carries_the_declared_secret_paths() -> None:
    """A drifted Match knows where desired declared secrets, so diff can hide them by path."""
    prepared = prepare_desired({"src": {"conn": {"secretRef": "db/conn"}, "n": 1}}, NO_RULES)
    assert match(prepared, {"src": {"conn": "x", "n": 2}}).secret_paths == (("src", "conn"),)


def test_a_change_at_or_below_a_secret_path_hides_both_values() -> None:
    """Whatever the key is called, a change at a declared secret or inside it shows neither side."""
    secrets = (("src", "conn"),)
    at = Match(False, {"src": {"conn": "a"}}, {"src": {"conn": "S3CR3T"}}, secrets)
    below = Match(False, {"src": {"conn": {"k": "a"}}}, {"src": {"conn": {"k": "S3CR3T"}}}, secrets)
    assert diff(at) == (FieldChange("/src/conn", ChangeOp.CHANGED, REDACTED, REDACTED),)
    assert diff(below) == (FieldChange("/src/conn/k", ChangeOp.CHANGED, REDACTED, REDACTED),)


def test_a_change_above_a_secret_path_hides_only_the_secret_inside() -> None:
    """A whole item holding a declared secret is shown with just that place redacted."""
    result = Match(False, {"l": []}, {"l": [{"conn": "S3CR3T", "n": 1}]}, (("l", 0, "conn"),))
    assert diff(result) == (FieldChange("/l/0", ChangeOp.EXTRA, None, {"conn": REDACTED, "n": 1}),)


def test_json_text_a_secret_path_runs_through_is_hidden_whole() -> None:
    """Live text that no longer parses, where a secret was declared inside it, is redacted whole."""
    desired = {"body": {"connectString": {"secretRef": "db/conn"}, "page": "1"}}
    live = {"body": '{"connectString":"S3CR3T","page":"2"'}
    assert _changes(desired, live) == (
        FieldChange("/body", ChangeOp.CHANGED, {"page": "1"}, REDACTED),
    )


def test_live_of_another_shape_where_a_secret_path_runs_is_hidden_whole() -> None:
    """An object where a list holding a secret was declared may hold it: redacted whole."""
    desired = {"l": [{"conn": {"secretRef": "db/conn"}, "n": 1}]}
    live = {"l": '{"conn": "S3CR3T"}'}
    assert _changes(desired, live) == (FieldChange("/l", ChangeOp.CHANGED, [{"n": 1}], REDACTED),)


def _reference_in_sync(desired: Any, live: Any, patterns: list[str]) -> bool:
    """The in-sync decision spelt out step by step, without match's shortcuts."""
    rules = compile_ignore(patterns)
    stripped, secrets = strip_secret_refs(desired)
    declared = prune(stripped, rules)
    projection = project(live, declared)
    shown = prune(projection.value, rules)
    unknowable = [*projection.masked, *(p for p in secrets if isinstance(p[-1], int))]
    if () in unknowable:
        return True
    if unknowable:
        declared, shown = remove_paths(declared, unknowable), remove_paths(shown, unknowable)
    return canonical_bytes(declared) == canonical_bytes(shown)


@given(
    small_trees().flatmap(
        lambda desired: st.tuples(
            st.just(desired), small_live_trees(), st.lists(patterns_for(desired), max_size=2)
        )
    )
)
def test_match_decides_as_the_plain_definition_does(case: tuple[Any, Any, list[str]]) -> None:
    """The fast paths in match never change its answer, and a drift always has changes."""
    desired, live, patterns = case
    result = match(prepare_desired(desired, compile_ignore(patterns)), live)
    assert result.in_sync is _reference_in_sync(desired, live, patterns)
    if not result.in_sync:
        assert diff(result)


@given(small_trees())
def test_a_document_matches_itself_even_as_json_text(desired: Any) -> None:
    """Live equal to desired is in sync, also when it arrives encoded as a string."""
    prepared = prepare_desired(desired, NO_RULES)
    assert match(prepared, copy.deepcopy(desired)).in_sync
    if isinstance(desired, (dict, list)):
        assert match(prepared, json.dumps(desired)).in_sync


def test_diffs_from_worker_threads_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPython 3.11's ast recursion count is shared by threads, and DeepDiff builds ASTs: two
    diffs at once could fail with a SystemError, leaving a resource unknown for a cycle."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fdi_drift.drift import differ

    running, most = 0, 0
    guard = threading.Lock()
    original = differ.DeepDiff

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        time.sleep(0.005)  # a diff long enough for another thread to start one meanwhile
        try:
            return original(*args, **kwargs)
        finally:
            with guard:
                running -= 1

    monkeypatch.setattr(differ, "DeepDiff", counted)
    pair = Match(False, {"a": [1, {"b": "x"}]}, {"a": [1, {"b": "y"}]}, ())
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: diff(pair), range(32)))
    assert most == 1
    assert {r[0].pointer for r in results} == {"/a/1/b"}
