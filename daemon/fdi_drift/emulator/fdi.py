"""The FDI task routes: read, update, list, start and stop, answering as the seeds show.

Read, list, start and stop serve common and composite tasks alike; the update is for common
tasks (composite ones change through composite.py's routes). Choices where the pages are silent:

- An update body is checked before the task is looked up, so a bad body on an unknown task
  answers 400, not 404. A running task refuses updates with 400 `FDI.3023`. A composite task
  refuses this update, whatever the body, with 400 `FDI.3033` naming `task_id`.
- An update answers 200 with the updated task's read answer `{"task", "task_detail"}`, the
  shape seed 000's response table and the SDK's UpdateTaskResponse give (the page's example
  shows `null`; a client must take either).
- `run` answers 200 `{}` (its page documents no body, the SDK's RunTaskResponse no field);
  `terminate` answers 200 `{"message": "success"}`, the StopTask page's example. Both are
  idempotent (starting a running task is fine).
- List entries carry every BriefTaskRespBean field, with `""` for a string the task lacks;
  `task_type` is lower case as in the GET answer; `version` is the task's revision;
  `source_instance_id`/`target_instance_id` default to the FDI instance in the path;
  `ext_type` is `MULTI_TABLE` for composite tasks and `""` for common ones.
- A list entry's `created_date` is text, as the ListTasks page types it (String) and the SDK
  model reads it (`date`, parsed with dateutil after appending a `Z`): the task's creation
  instant as ISO 8601 UTC to the millisecond, `2022-10-26T08:19:35.897Z`. Epoch milliseconds
  as text would not parse there, and as a number it breaks the SDK's deserializer. The read
  answer keeps `created_date` an integer (epoch ms), as seed 002 shows.
- List filters match exactly, except `name` (case-insensitive substring, the SDK's "fuzzy
  match") and `task_type` (case-insensitive). `sort_field`/`sort_type` are ignored: the order
  is always created_date, then task_id.
"""

from __future__ import annotations

from collections.abc import Mapping

from fdi_drift.emulator.records import InstanceTask, TaskStatus, utc_text
from fdi_drift.emulator.replies import (
    Reply,
    invalid_parameter,
    json_reply,
    name_taken,
    task_not_found,
    task_running,
)
from fdi_drift.emulator.store import (
    NameTakenError,
    TaskNotFoundError,
    TaskRunningError,
    TaskStore,
)
from fdi_drift.emulator.validation import FieldError, TaskQuery, parse_query, parse_update

# List filters compared for equality with the task's field of the same name.
_EXACT_FILTERS = (
    "task_tag",
    "execute_status",
    "source_datasource_id",
    "target_datasource_id",
    "source_app_id",
    "target_app_id",
)


class FdiApi:
    """Answers the FDI task routes from a TaskStore; auth and path ids are checked before."""

    def __init__(self, store: TaskStore) -> None:
        self._store = store

    def get_task(self, project_id: str, instance_id: str, task_id: str) -> Reply:
        """`GET .../tasks/{task_id}`, for a task of either kind."""
        task = self._store.lookup(project_id, instance_id, task_id)
        if task is None:
            return task_not_found(task_id)
        return json_reply(200, task.body())

    def update_task(self, project_id: str, instance_id: str, task_id: str, body: bytes) -> Reply:
        """`PUT .../tasks/{task_id}`: 200 with the updated task as a read answers it."""
        if self._store.composite(project_id, instance_id, task_id) is not None:
            return invalid_parameter(
                "task_id",
                f"Task {task_id} is a composite task; modify it through "
                f"PUT .../multi-tasks/{task_id}.",
            )
        try:
            update = parse_update(body)
            updated = self._store.update(project_id, instance_id, task_id, update)
        except FieldError as exc:
            return invalid_parameter(exc.field, exc.problem)
        except TaskNotFoundError:
            return task_not_found(task_id)
        except TaskRunningError:
            return task_running(task_id)
        except NameTakenError as exc:
            return name_taken("task.task_name", exc.name, exc.holder)
        return json_reply(200, updated.body())

    def list_tasks(self, project_id: str, instance_id: str, params: Mapping[str, str]) -> Reply:
        """`GET .../tasks?offset=&limit=&...`: `{"total", "size", "entities"}`."""
        try:
            query = parse_query(params)
        except FieldError as exc:
            return invalid_parameter(exc.field, exc.problem)
        self._store.fight_back(project_id, instance_id)
        entries = self._store.entries(project_id, instance_id)
        unfiltered = query == TaskQuery(offset=query.offset, limit=query.limit)
        matching = entries if unfiltered else [task for task in entries if _matches(task, query)]
        page = matching[query.offset : query.offset + query.limit]
        return json_reply(
            200,
            {"total": len(matching), "size": len(page), "entities": [_brief(t) for t in page]},
        )

    def set_status(
        self, project_id: str, instance_id: str, task_id: str, status: TaskStatus
    ) -> Reply:
        """`POST .../tasks/{task_id}/run` and `/terminate`, for a task of either kind."""
        try:
            self._store.set_status(project_id, instance_id, task_id, status)
        except TaskNotFoundError:
            return task_not_found(task_id)
        return json_reply(200, {} if status is TaskStatus.RUNNING else {"message": "success"})


def _matches(task: InstanceTask, query: TaskQuery) -> bool:
    fields = task.task
    if query.task_id is not None and task.task_id != query.task_id:
        return False
    if query.name is not None and query.name.lower() not in task.task_name.lower():
        return False
    if query.status is not None and query.status != _status_number(task):
        return False
    if query.task_type is not None and query.task_type.lower() != str(fields["task_type"]):
        return False
    return all(
        getattr(query, key) is None or fields.get(key) == getattr(query, key)
        for key in _EXACT_FILTERS
    )


def _brief(task: InstanceTask) -> dict[str, object]:
    fields = task.task

    def text(key: str, default: str = "") -> object:
        return fields.get(key, default)

    return {
        "task_id": task.task_id,
        "task_name": task.task_name,
        "task_type": text("task_type"),
        "status": _status_number(task),
        "created_date": utc_text(task.created_date),
        "version": str(task.revision),
        "last_modified_time": task.last_modified_date,
        "execute_status": text("execute_status"),
        "source_app_id": text("source_app_id"),
        "target_app_id": text("target_app_id"),
        "source_instance_id": text("source_instance_id", task.instance_id),
        "target_instance_id": text("target_instance_id", task.instance_id),
        "ext_type": text("ext_type"),
        "enterprise_project_id": text("enterprise_project_id"),
        "task_tag": text("task_tag"),
    }


def _status_number(task: InstanceTask) -> int:
    return 1 if task.status is TaskStatus.RUNNING else 0
