"""FdiCompositeTask rules and plans, offline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fdi_drift.drift.ignore import compile_ignore
from fdi_drift.errors import InvalidWriteError
from fdi_drift.kinds.fdi_common import decode_task
from fdi_drift.kinds.fdi_composite_task import FdiCompositeTaskSpec

SPEC = FdiCompositeTaskSpec()
NO_RULES = compile_ignore([])


def live_answer(**task: Any) -> dict[str, Any]:
    base = {
        "task_id": "t1",
        "task_name": "orders-cdc",
        "task_type": "realtime",
        "status": "stop",
        "description": "cdc",
        "operation_types": ["UPDATE", "INSERT"],
        "source_datasource_id": "src",
        "target_datasource_id": "dst",
    }
    detail = {
        "ext_info": None,
        "mappings": [{"id": "m1", "source_table": "a", "target_table": "a"}],
    }
    return {"task": {**base, **task}, "task_detail": json.dumps(detail)}


def desired(**task: Any) -> dict[str, Any]:
    spec = {"task": {"operation_types": ["INSERT", "UPDATE"], "description": "cdc", **task}}
    return SPEC.desired_document("orders-cdc", spec)


def plan(want: dict[str, Any], live: dict[str, Any] | None, **options: Any) -> list[Any]:
    document = None if live is None else decode_task(live, what="t")
    return SPEC.plan(want, document, NO_RULES, lambda ref: "", options)


def test_operation_types_compare_as_a_set() -> None:
    """INSERT,UPDATE and UPDATE,INSERT are the same desired state: nothing to write."""
    assert plan(desired(), live_answer()) == []


def test_modify_sends_the_seed_body() -> None:
    """A changed description is one PUT with operation types and repulling_snapshot false."""
    (write,) = plan(desired(description="new"), live_answer())
    assert write.action == "modify"
    assert write.body == {
        "description": "new",
        "operation_types": ["INSERT", "UPDATE"],
        "repulling_snapshot": False,
    }


def test_repulling_snapshot_only_when_asked() -> None:
    """policy.repulling_snapshot makes the PUT ask for a new snapshot, even with no drift."""
    (write,) = plan(desired(), live_answer(), repulling_snapshot=True)
    assert write.body["repulling_snapshot"] is True


def test_datasource_change_is_an_init() -> None:
    """New datasources go through init, with auto_mapping from policy."""
    (write,) = plan(desired(target_datasource_id="dst2"), live_answer(), auto_mapping=True)
    assert write.action == "init"
    assert write.body == {
        "source_datasource_id": "src",
        "target_datasource_id": "dst2",
        "auto_mapping": True,
    }


def test_create_then_init() -> None:
    """A missing task is created with seed 003's body, then initialised with seed 004's."""
    writes = plan(
        desired(source_datasource_id="src", target_datasource_id="dst"), None, auto_mapping=True
    )
    assert [w.action for w in writes] == ["create", "init"]
    assert writes[0].body == {
        "task_name": "orders-cdc",
        "task_type": "REALTIME",
        "description": "cdc",
        "operation_types": ["INSERT", "UPDATE"],
    }
    assert writes[1].body["auto_mapping"] is True


def test_create_without_datasources_is_refused() -> None:
    """Initialising needs both datasource ids: a clear error, nothing sent."""
    with pytest.raises(InvalidWriteError, match="source_datasource_id"):
        plan(desired(), None)


SECRET = "S3CR3T-VALUE"


def with_secrets(**task: Any) -> dict[str, Any]:
    """A desired document declaring ext_info.connectString, a plain-looking key, as a secret."""
    spec = {
        "task": {"operation_types": ["INSERT", "UPDATE"], "description": "cdc", **task},
        "task_detail": {"ext_info": {"connectString": {"secretRef": "db/conn"}, "mode": "cdc"}},
    }
    return SPEC.desired_document("orders-cdc", spec)


def secret_plan(want: dict[str, Any], live: dict[str, Any] | None) -> list[Any]:
    document = None if live is None else decode_task(live, what="t")
    return SPEC.plan(want, document, NO_RULES, lambda ref: SECRET, {})


def test_init_sends_a_resolved_secret_and_shows_it_redacted() -> None:
    """A secret in ext_info is sent by init; the body shown in plans and the audit hides it."""
    (write,) = secret_plan(with_secrets(), live_answer())
    assert write.action == "init"
    assert write.body["ext_info"] == {"connectString": SECRET, "mode": "cdc"}
    assert write.shown["ext_info"] == {"connectString": "<redacted>", "mode": "cdc"}
    assert SECRET not in json.dumps(write.shown)


def test_modify_shows_a_secret_task_field_redacted() -> None:
    """A task field given as a secret reference is sent resolved and shown redacted."""
    want = with_secrets(description={"secretRef": "db/description"})
    writes = secret_plan(want, live_answer())
    modify = next(w for w in writes if w.action == "modify")
    assert modify.body["description"] == SECRET
    assert modify.shown["description"] == "<redacted>"
    assert all(SECRET not in json.dumps(w.shown) for w in writes)


def test_create_resolves_secrets_and_shows_them_redacted() -> None:
    """Creating sends resolved secrets, never a secretRef mapping, and shows neither value."""
    want = with_secrets(
        description={"secretRef": "db/description"},
        source_datasource_id="src",
        target_datasource_id="dst",
    )
    create, init = secret_plan(want, None)
    assert create.body["description"] == SECRET
    assert init.body["ext_info"]["connectString"] == SECRET
    assert SECRET not in json.dumps([create.shown, init.shown])
    assert create.shown["description"] == init.shown["ext_info"]["connectString"] == "<redacted>"


def test_init_hides_live_values_under_secret_looking_keys_but_sends_them() -> None:
    """An undeclared ext_info password live holds in clear is kept in the body, hidden in shown."""
    live = live_answer()
    live["task_detail"] = json.dumps({"ext_info": {"db_password": "hunter2", "mode": "a"}})
    want = SPEC.desired_document(
        "orders-cdc",
        {"task": {"operation_types": ["INSERT"]}, "task_detail": {"ext_info": {"mode": "b"}}},
    )
    (write,) = [w for w in plan(want, live) if w.action == "init"]
    assert write.body["ext_info"] == {"db_password": "hunter2", "mode": "b"}
    assert write.shown["ext_info"] == {"db_password": "<redacted>", "mode": "b"}


def test_unwritable_fields() -> None:
    """Name, type and application ids have no update call."""
    assert SPEC.unwritable(["/task/task_name", "/task/description", "/task/source_app_id"]) == [
        "/task/task_name",
        "/task/source_app_id",
    ]


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"operation_types": []}, "operation_types"),
        ({"operation_types": ["INSERT", "INSERT"]}, "operation_types"),
        ({"operation_types": ["MERGE"]}, "operation_types"),
        ({"task_type": "TIMING"}, "task_type"),
        ({"task_tag": "ab"}, "task_tag"),
        ({"status": "running"}, "status"),
    ],
)
def test_spec_rules(task: dict[str, Any], field: str) -> None:
    """Seed 003's rules are validation problems at their pointers."""
    problems = SPEC.validate("orders-cdc", {"task": {"operation_types": ["INSERT"], **task}})
    assert f"/spec/task/{field}" in [p.pointer for p in problems]
