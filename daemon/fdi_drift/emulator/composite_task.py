"""Composite-task records: made by create, changed by modify and init, and checked from seeds.

A composite task's GET answer is the emulator's choice (the pages document none):

    {"task": {task_id, task_name, task_type: "realtime", status, project_id, description?,
              task_tag?, operation_types, source_app_id?, target_app_id?,
              source_datasource_id?, target_datasource_id?, created_date, last_modified_date,
              ext_type: "MULTI_TABLE", repulling_snapshot},
     "task_detail": "<compact JSON of {ext_info, mappings, schema_mappings}>"}

`mappings` holds every MultiTaskMappingElement (without `mapping_percent`, which only init
answers), `schema_mappings` every MultiTaskSchemaMappingElement; the GET never truncates.

Changes, as the emulator chooses them:

- Create: status `stop`, `repulling_snapshot` false, no datasources, `ext_info` null, no
  mappings; both dates are the clock.
- Modify: replaces `operation_types` and `repulling_snapshot`; `description` and `task_tag`
  absent from the body are removed.
- Init: the task takes `source_datasource_id`, `target_datasource_id` and `ext_info` exactly
  as sent (absent ids are removed, an absent ext_info becomes null). With `auto_mapping` the
  mappings and schema mappings are replaced by the source catalogue's (catalogue.py); without
  it they are kept.
- Both move `last_modified_date` (see records.next_modified_date) and the revision by one.

Seeds: each file is exactly a GET answer as above. Missing server fields get defaults as for
common tasks (project folder, `stop`, clock dates), plus `ext_type` `MULTI_TABLE` and
`repulling_snapshot` false; missing `task_detail` keys become null and empty lists. The
task_detail text is kept decoded and answered re-encoded compact, so a seed written compact
(as the service writes it) is answered byte for byte.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import orjson

from fdi_drift.emulator.catalogue import auto_mappings, auto_schema_mappings, catalogue_of
from fdi_drift.emulator.composite_rules import (
    CompositeCreate,
    CompositeInit,
    CompositeUpdate,
    check_ext_info,
    check_operation_types,
)
from fdi_drift.emulator.records import (
    COMPOSITE_EXT_TYPE,
    StoredComposite,
    TaskStatus,
    next_modified_date,
)
from fdi_drift.emulator.seeds import SeedError, epoch_ms
from fdi_drift.emulator.validation import (
    FieldError,
    check_id,
    check_string,
    check_task_detail,
    check_task_name,
    check_task_tag,
)

_OPTIONAL_IDS = ("source_app_id", "target_app_id", "source_datasource_id", "target_datasource_id")


def new_composite(
    create: CompositeCreate, *, project_id: str, instance_id: str, task_id: str, now_ms: int
) -> StoredComposite:
    """The record a valid create body makes."""
    task: dict[str, object] = {
        "task_id": task_id,
        "task_name": create.task_name,
        "task_type": "realtime",
        "status": str(TaskStatus.STOP),
        "project_id": project_id,
    }
    _set_optional(task, "description", create.description)
    _set_optional(task, "task_tag", create.task_tag)
    task["operation_types"] = list(create.operation_types)
    _set_optional(task, "source_app_id", create.source_app_id)
    _set_optional(task, "target_app_id", create.target_app_id)
    task.update(
        created_date=now_ms,
        last_modified_date=now_ms,
        ext_type=COMPOSITE_EXT_TYPE,
        repulling_snapshot=False,
    )
    detail: dict[str, object] = {"ext_info": None, "mappings": [], "schema_mappings": []}
    return StoredComposite(project_id, instance_id, task, detail)


def modified(current: StoredComposite, update: CompositeUpdate, now_ms: int) -> StoredComposite:
    """The record after a valid modify body."""
    task = dict(current.task)
    _set_optional(task, "description", update.description)
    _set_optional(task, "task_tag", update.task_tag)
    task["operation_types"] = list(update.operation_types)
    task["repulling_snapshot"] = update.repulling_snapshot
    return touched(current, task, dict(current.detail), now_ms)


def initialised(current: StoredComposite, init: CompositeInit, now_ms: int) -> StoredComposite:
    """The record after a valid init body naming it."""
    task = dict(current.task)
    _set_optional(task, "source_datasource_id", init.source_datasource_id)
    _set_optional(task, "target_datasource_id", init.target_datasource_id)
    detail = dict(current.detail)
    detail["ext_info"] = init.ext_info
    if init.auto_mapping and init.source_datasource_id is not None:
        source = catalogue_of(init.source_datasource_id)
        detail["mappings"] = auto_mappings(source, current.task_id, now_ms)
        detail["schema_mappings"] = auto_schema_mappings(source, current.task_id, now_ms)
    return touched(current, task, detail, now_ms)


def touched(
    current: StoredComposite, task: dict[str, object], detail: dict[str, object], now_ms: int
) -> StoredComposite:
    """`current` with new content, a later last_modified_date and the next revision."""
    task["last_modified_date"] = next_modified_date(current.last_modified_date, now_ms)
    return replace(current, task=task, detail=detail, revision=current.revision + 1)


def complete_composite(
    body: object, *, project_id: str, task_id: str | None, now_ms: int, source: str
) -> tuple[dict[str, object], dict[str, object]]:
    """Check a composite GET answer and fill in server defaults; returns task and detail.

    `task_id`, when given, is what `task.task_id` must equal (the file name).
    """
    try:
        return _complete(body, project_id=project_id, task_id=task_id, now_ms=now_ms)
    except FieldError as exc:
        raise SeedError(f"{source}: {exc.field}: {exc.problem}") from exc


def _complete(
    body: object, *, project_id: str, task_id: str | None, now_ms: int
) -> tuple[dict[str, object], dict[str, object]]:
    if not isinstance(body, dict):
        raise FieldError("(document)", "It must be a JSON object with task and task_detail.")
    raw_task = body.get("task")
    if not isinstance(raw_task, dict):
        raise FieldError("task", "It must be an object.")
    detail = _detail(check_task_detail("task_detail", body.get("task_detail")))
    task: dict[str, object] = copy.deepcopy(raw_task)
    found_id = check_id("task.task_id", task.get("task_id"))
    if task_id is not None and found_id != task_id:
        raise FieldError("task.task_id", f"It is {found_id!r}; the file name says {task_id!r}.")
    check_task_name("task.task_name", task.get("task_name"))
    task_type = check_string("task.task_type", task.setdefault("task_type", "realtime"), 1, 10)
    if task_type.lower() != "realtime":
        raise FieldError("task.task_type", "Composite tasks are realtime.")
    task["task_type"] = "realtime"
    if task.setdefault("project_id", project_id) != project_id:
        raise FieldError("task.project_id", f"It must equal the project folder {project_id!r}.")
    if task.setdefault("status", str(TaskStatus.STOP)) not in {str(s) for s in TaskStatus}:
        raise FieldError("task.status", "It must be stop or running.")
    if "description" in task:
        check_string("task.description", task["description"], 1, 1024)
    if "task_tag" in task:
        check_task_tag("task.task_tag", task["task_tag"])
    check_operation_types("task.operation_types", task.get("operation_types"))
    for key in _OPTIONAL_IDS:
        if key in task:
            check_id(f"task.{key}", task[key])
    created = epoch_ms("task.created_date", task.setdefault("created_date", now_ms))
    epoch_ms("task.last_modified_date", task.setdefault("last_modified_date", created))
    check_string("task.ext_type", task.setdefault("ext_type", COMPOSITE_EXT_TYPE), 1, 64)
    if not isinstance(task.setdefault("repulling_snapshot", False), bool):
        raise FieldError("task.repulling_snapshot", "It must be true or false.")
    return task, detail


def _detail(text: str) -> dict[str, object]:
    detail = orjson.loads(text)
    assert isinstance(detail, dict)  # check_task_detail made sure
    check_ext_info("task_detail.ext_info", detail.setdefault("ext_info", None))
    for key, names in (
        ("mappings", ("id", "source_table", "target_table")),
        ("schema_mappings", ("id", "source_schema", "target_schema")),
    ):
        records = detail.setdefault(key, [])
        if not isinstance(records, list):
            raise FieldError(f"task_detail.{key}", "It must be an array.")
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise FieldError(f"task_detail.{key}[{index}]", "It must be an object.")
            for name in names:
                check_string(f"task_detail.{key}[{index}].{name}", record.get(name), 1, 255)
    return detail


def _set_optional(task: dict[str, object], key: str, value: object) -> None:
    if value is None:
        task.pop(key, None)
    else:
        task[key] = value
