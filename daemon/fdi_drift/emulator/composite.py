"""The FDI composite-task routes: create (seed 003), init (seed 004) and modify.

Read, list, start and stop of composite tasks go through fdi.py's task routes. Choices where
the pages are silent:

- Bodies are checked before any task is looked up, so a bad body answers 400 naming the field.
- Create with a `task_id` some task of the instance already has answers 400 `FDI.3033` naming
  `task_id`; with a name in use, 400 `FDI.3006` naming `task_name`.
- Init with `auto_mapping` true needs `source_datasource_id` (400 naming it otherwise).
- Init with a `task_id` that is no composite task of the instance answers 400 `FDI.3150` "The
  task list is empty." (seed 004's example). Init without `task_id` answers an element under a
  new 32-hex id and stores nothing: no task is created and the id is not reserved.
- Modify of an id that is no composite task of the instance answers 404 `FDI.3083`, the 404
  body seeds 003 and 004 document. A running composite task refuses modify and init with 400
  `FDI.3023`, as common tasks refuse updates.
- The init element fills every field of seed 004's table 6: datasource names and types come
  from the synthetic catalogue (catalogue.py), `source_ds_id`/`target_ds_id` repeat the
  datasource ids, both instance ids are the FDI instance of the path, and strings the emulator
  cannot know (`source_group`, `target_group`, ids not set) are `""`. `mappings` and
  `schema_mappings` hold the first 10 records; each mapping also carries `mapping_percent`,
  the share of its source columns that `mapping` maps (100 for automatic mappings).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence

from fdi_drift.emulator.catalogue import auto_mappings, auto_schema_mappings, catalogue_of
from fdi_drift.emulator.composite_rules import (
    CompositeInit,
    parse_composite_update,
    parse_create,
    parse_init,
)
from fdi_drift.emulator.replies import (
    ErrorCode,
    Reply,
    invalid_parameter,
    json_reply,
    name_taken,
    service_error,
    task_running,
)
from fdi_drift.emulator.store import (
    IdTakenError,
    NameTakenError,
    TaskNotFoundError,
    TaskRunningError,
    TaskStore,
)
from fdi_drift.emulator.validation import FieldError

INIT_PAGE = 10  # seed 004: "Only the first 10 records are returned."


class CompositeApi:
    """Answers the composite-task routes from a TaskStore; auth and path ids are checked before."""

    def __init__(self, store: TaskStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def create(self, project_id: str, instance_id: str, body: bytes) -> Reply:
        """`POST .../multi-tasks`: 200 `{"task_id": ...}`."""
        try:
            created = self._store.create_composite(project_id, instance_id, parse_create(body))
        except FieldError as exc:
            return invalid_parameter(exc.field, exc.problem)
        except IdTakenError as exc:
            return invalid_parameter("task_id", f"Task {exc} already exists in this instance.")
        except NameTakenError as exc:
            return name_taken("task_name", exc.name, exc.holder)
        return json_reply(200, {"task_id": created.task_id})

    def init(self, project_id: str, instance_id: str, body: bytes) -> Reply:
        """`POST .../multi-tasks/init`: a JSON array of one MultiTaskInitElement."""
        try:
            init = parse_init(body)
            if init.auto_mapping and init.source_datasource_id is None:
                problem = "It is required when auto_mapping is true."
                raise FieldError("source_datasource_id", problem)
        except FieldError as exc:
            return invalid_parameter(exc.field, exc.problem)
        if init.task_id is None:
            return json_reply(200, [self._unsaved_element(instance_id, init)])
        try:
            task = self._store.init_composite(project_id, instance_id, init.task_id, init)
        except TaskNotFoundError:
            return service_error(400, ErrorCode.TASK_LIST_EMPTY, "The task list is empty.")
        except TaskRunningError:
            return task_running(init.task_id)
        element = _element(
            task.task,
            ext_info=task.ext_info,
            instance_id=instance_id,
            mappings=task.mappings,
            schema_mappings=task.schema_mappings,
        )
        return json_reply(200, [element])

    def update(self, project_id: str, instance_id: str, task_id: str, body: bytes) -> Reply:
        """`PUT .../multi-tasks/{task_id}`: 200 `{"task_id": ...}`."""
        try:
            update = parse_composite_update(body)
            self._store.update_composite(project_id, instance_id, task_id, update)
        except FieldError as exc:
            return invalid_parameter(exc.field, exc.problem)
        except TaskNotFoundError:
            return service_error(
                404,
                ErrorCode.NO_SCHEDULED_PLAN,
                "One or more scheduled tasks are not configured with scheduled plans.",
            )
        except TaskRunningError:
            return task_running(task_id)
        return json_reply(200, {"task_id": task_id})

    def _unsaved_element(self, instance_id: str, init: CompositeInit) -> dict[str, object]:
        task_id = uuid.uuid4().hex
        mappings: list[dict[str, object]] = []
        schema_mappings: list[dict[str, object]] = []
        if init.auto_mapping and init.source_datasource_id is not None:
            source = catalogue_of(init.source_datasource_id)
            now_ms = int(self._clock() * 1000)
            mappings = auto_mappings(source, task_id, now_ms)
            schema_mappings = auto_schema_mappings(source, task_id, now_ms)
        task: dict[str, object] = {"task_id": task_id}
        for key in ("source_datasource_id", "target_datasource_id"):
            value = getattr(init, key)
            if value is not None:
                task[key] = value
        return _element(
            task,
            ext_info=init.ext_info,
            instance_id=instance_id,
            mappings=mappings,
            schema_mappings=schema_mappings,
        )


def _element(
    task: Mapping[str, object],
    *,
    ext_info: object,
    instance_id: str,
    mappings: Sequence[object],
    schema_mappings: Sequence[object],
) -> dict[str, object]:
    def text(key: str) -> str:
        return str(task.get(key, ""))

    element: dict[str, object] = {"ext_info": ext_info, "task_id": text("task_id")}
    for side in ("source", "target"):
        datasource_id = text(f"{side}_datasource_id")
        catalogue = catalogue_of(datasource_id) if datasource_id else None
        element[f"{side}_datasource_id"] = datasource_id
        element[f"{side}_group"] = ""
        element[f"{side}_ds_id"] = datasource_id
        element[f"{side}_instance_id"] = instance_id
        element[f"{side}_app_id"] = text(f"{side}_app_id")
        element[f"{side}_datasource_name"] = catalogue.name if catalogue else ""
        element[f"{side}_datasource_type"] = catalogue.type if catalogue else ""
    element["mappings"] = [_with_percent(m) for m in mappings[:INIT_PAGE]]
    element["schema_mappings"] = list(schema_mappings[:INIT_PAGE])
    element["mappings_total_count"] = len(mappings)
    return element


def _with_percent(mapping: object) -> object:
    if not isinstance(mapping, dict) or "mapping_percent" in mapping:
        return mapping
    columns = mapping.get("source_columns")
    mapped = mapping.get("mapping")
    percent = 0
    if isinstance(columns, list) and columns and isinstance(mapped, list):
        percent = min(100, round(100 * len(mapped) / len(columns)))
    return {**mapping, "mapping_percent": percent}
