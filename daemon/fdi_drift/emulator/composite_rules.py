"""Field rules of the composite-task bodies: create (seed 003), init (seed 004) and modify.

The emulator's own choices where the pages are silent:

- As for common tasks, an optional field sent as `null` counts as absent and keys the pages do
  not list are ignored; `""` breaks an optional field's minimum length.
- `task_type` may only be spelt `REALTIME` (composite tasks are real-time only).
- `operation_types` must hold 1-3 distinct values of INSERT, UPDATE and DELETE; they are stored
  in the order sent.
- `ext_info.server_id` is a string of at most 64 characters (the page says it "can be left
  empty", so `""` is accepted); `auto_mapping` must be a JSON boolean when given.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import orjson

from fdi_drift.emulator.validation import (
    FieldError,
    check_id,
    check_string,
    check_task_name,
    check_task_tag,
)


class OperationType(StrEnum):
    """A change a composite (CDC) task carries over."""

    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class CompositeCreate:
    """A valid create body; `None` means absent."""

    task_name: str
    task_id: str | None
    description: str | None
    task_tag: str | None
    operation_types: tuple[str, ...]
    source_app_id: str | None
    target_app_id: str | None


@dataclass(frozen=True, slots=True)
class CompositeInit:
    """A valid init body; `ext_info` None is JSON null (also what an absent one becomes)."""

    ext_info: dict[str, object] | None
    source_datasource_id: str | None
    target_datasource_id: str | None
    task_id: str | None
    auto_mapping: bool


@dataclass(frozen=True, slots=True)
class CompositeUpdate:
    """A valid modify body; `None` means absent (and clears the field)."""

    description: str | None
    task_tag: str | None
    operation_types: tuple[str, ...]
    repulling_snapshot: bool


def parse_create(body: bytes) -> CompositeCreate:
    """Check a create body against seed 003's rules, naming the first bad field."""
    document = _object_body(body)
    task_type = document.get("task_type")
    if task_type is not None and task_type != "REALTIME":
        raise FieldError("task_type", "Composite tasks support only REALTIME.")
    return CompositeCreate(
        task_name=check_task_name("task_name", document.get("task_name")),
        task_id=_optional_id(document, "task_id"),
        description=_optional_description(document),
        task_tag=_optional_tag(document),
        operation_types=check_operation_types("operation_types", document.get("operation_types")),
        source_app_id=_optional_id(document, "source_app_id"),
        target_app_id=_optional_id(document, "target_app_id"),
    )


def parse_init(body: bytes) -> CompositeInit:
    """Check an init body against seed 004's rules, naming the first bad field."""
    document = _object_body(body)
    auto_mapping = document.get("auto_mapping")
    if auto_mapping is not None and not isinstance(auto_mapping, bool):
        raise FieldError("auto_mapping", "It must be true or false.")
    return CompositeInit(
        ext_info=check_ext_info("ext_info", document.get("ext_info")),
        source_datasource_id=_optional_id(document, "source_datasource_id"),
        target_datasource_id=_optional_id(document, "target_datasource_id"),
        task_id=_optional_id(document, "task_id"),
        auto_mapping=bool(auto_mapping),
    )


def parse_composite_update(body: bytes) -> CompositeUpdate:
    """Check a modify body, naming the first bad field."""
    document = _object_body(body)
    repulling = document.get("repulling_snapshot")
    if repulling is None:
        raise FieldError("repulling_snapshot", "It is required.")
    if not isinstance(repulling, bool):
        raise FieldError("repulling_snapshot", "It must be true or false.")
    return CompositeUpdate(
        description=_optional_description(document),
        task_tag=_optional_tag(document),
        operation_types=check_operation_types("operation_types", document.get("operation_types")),
        repulling_snapshot=repulling,
    )


def check_operation_types(field: str, value: object) -> tuple[str, ...]:
    """1-3 distinct values of INSERT, UPDATE, DELETE."""
    if value is None:
        raise FieldError(field, "It is required.")
    if not isinstance(value, list) or not 1 <= len(value) <= 3:
        raise FieldError(field, "It must be an array of 1-3 values.")
    allowed = {str(kind) for kind in OperationType}
    if not all(isinstance(item, str) and item in allowed for item in value):
        raise FieldError(field, "Each value must be INSERT, UPDATE or DELETE.")
    if len(set(value)) != len(value):
        raise FieldError(field, "The values must be distinct.")
    return tuple(value)


def check_ext_info(field: str, value: object) -> dict[str, object] | None:
    """`null` or `{server_id?}` with server_id a string of at most 64 characters."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError(field, "It must be an object or null.")
    server_id = value.get("server_id")
    if server_id is None:
        return {}
    return {"server_id": check_string(f"{field}.server_id", server_id, 0, 64)}


def _object_body(body: bytes) -> dict[str, object]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FieldError("body", f"The request body is not JSON: {exc}.") from exc
    if not isinstance(document, dict):
        raise FieldError("body", "The request body must be a JSON object.")
    return document


def _optional_id(document: dict[str, object], key: str) -> str | None:
    value = document.get(key)
    return None if value is None else check_id(key, value)


def _optional_description(document: dict[str, object]) -> str | None:
    value = document.get("description")
    return None if value is None else check_string("description", value, 1, 1024)


def _optional_tag(document: dict[str, object]) -> str | None:
    value = document.get("task_tag")
    return None if value is None else check_task_tag("task_tag", value)
