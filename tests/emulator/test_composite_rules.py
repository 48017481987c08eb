"""Field rules of the composite-task bodies, as parsed values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fdi_drift.emulator.composite_rules import (
    check_operation_types,
    parse_composite_update,
    parse_create,
    parse_init,
)
from fdi_drift.emulator.validation import FieldError


def encode(body: Any) -> bytes:
    """A request body as bytes."""
    return json.dumps(body).encode()


def test_create_keeps_the_seed_example() -> None:
    """Seed 003's example request parses with every field kept."""
    body = {
        "task_name": "cdctest1",
        "task_id": "a9fe65f41****6a5d646477c52",
        "task_type": "REALTIME",
        "description": "create",
        "task_tag": "combination",
        "operation_types": ["INSERT", "UPDATE", "DELETE"],
        "source_app_id": "d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
        "target_app_id": "d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
    }
    create = parse_create(encode(body))
    assert create.task_name == "cdctest1"
    assert create.task_id == "a9fe65f41****6a5d646477c52"
    assert create.operation_types == ("INSERT", "UPDATE", "DELETE")
    assert create.task_tag == "combination"


def test_create_counts_nulls_as_absent() -> None:
    """Optional fields sent as null are absent; unknown keys are ignored."""
    body = {
        "task_name": "abc",
        "task_id": None,
        "task_type": None,
        "description": None,
        "task_tag": None,
        "operation_types": ["UPDATE"],
        "source_app_id": None,
        "surprise": 1,
    }
    create = parse_create(encode(body))
    assert (create.task_id, create.description, create.task_tag, create.source_app_id) == (
        None,
        None,
        None,
        None,
    )


def test_create_accepts_the_longest_values() -> None:
    """A 100-character name, a 64-character tag and a 1024-character description are fine."""
    body = {
        "task_name": "n" * 100,
        "task_tag": "t" * 64,
        "description": "d" * 1024,
        "task_id": "i" * 64,
        "operation_types": ["DELETE", "INSERT"],
    }
    create = parse_create(encode(body))
    assert create.operation_types == ("DELETE", "INSERT")  # order as sent


@pytest.mark.parametrize(
    "value", [None, [], ["INSERT"] * 4, ["INSERT", "INSERT"], ["X"], "INSERT", [1]]
)
def test_operation_types_rule(value: Any) -> None:
    """operation_types must be 1-3 distinct values of INSERT, UPDATE and DELETE."""
    with pytest.raises(FieldError) as caught:
        check_operation_types("operation_types", value)
    assert caught.value.field == "operation_types"


def test_init_defaults() -> None:
    """An empty init body means no task, no datasources, ext_info null and no auto mapping."""
    init = parse_init(b"{}")
    assert (init.task_id, init.source_datasource_id, init.ext_info, init.auto_mapping) == (
        None,
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("ext_info", "expected"),
    [({}, {}), ({"server_id": None}, {}), ({"server_id": ""}, {"server_id": ""})],
)
def test_init_ext_info_may_be_left_empty(ext_info: Any, expected: Any) -> None:
    """ext_info may be empty and its server_id may be empty or null."""
    assert parse_init(encode({"ext_info": ext_info})).ext_info == expected


def test_modify_needs_repulling_snapshot_and_operation_types() -> None:
    """A modify body without repulling_snapshot or operation_types names the missing field."""
    with pytest.raises(FieldError, match="repulling_snapshot"):
        parse_composite_update(encode({"operation_types": ["INSERT"]}))
    with pytest.raises(FieldError, match="operation_types"):
        parse_composite_update(encode({"repulling_snapshot": False}))
    update = parse_composite_update(
        encode({"operation_types": ["INSERT"], "repulling_snapshot": False})
    )
    assert (update.description, update.task_tag, update.repulling_snapshot) == (None, None, False)
