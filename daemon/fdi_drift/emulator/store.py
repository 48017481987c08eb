"""The emulated cloud's task state, in memory, keyed by project, instance and task id.

Behaviour the public pages leave open, as the emulator chooses it:

- An update replaces `task_name`, `task_type`, both datasource ids and `task_detail`; an optional
  field (`description`, `task_tag`) absent from the update is removed, as the seed's "not
  displayed when the request parameter is empty" implies. Datasource and app names are kept:
  the emulator has no datasource catalogue to look new ids up in.
- `last_modified_date` becomes the clock in epoch ms, or the previous value + 1 if that is not
  larger, so every update is visible to change detection even within one millisecond.
- Task names are unique within an instance: an update to another task's name is refused.
- A running task refuses updates. Starting and stopping change `status` only, not
  `last_modified_date` (they are not configuration changes).
- Each task has a `revision`, 1 when added and + 1 on every update; the task list shows it
  as `version`.
- `add_task` with the id of a task the instance already holds replaces that task.
- With `fighting` on, another writer undoes every update: when the instance is next listed,
  the task gets back the fields and task_detail it had before the update, as a person or a
  second controller would write them (a new `last_modified_date`, revision + 1). The undo waits
  for the next list so that the writer's own read-back still sees its update.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from fdi_drift.emulator.seeds import SeedError, complete_task, read_seed, seed_files
from fdi_drift.emulator.validation import TaskUpdate


class TaskStatus(StrEnum):
    """A task's `status` as TaskBasicRsp spells it."""

    STOP = "stop"
    RUNNING = "running"


class TaskNotFoundError(LookupError):
    """The instance holds no task with this id."""


class TaskRunningError(RuntimeError):
    """The task is running, so it cannot be updated."""


class NameTakenError(ValueError):
    """Another task of the instance already has the requested name."""

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(f"task name {name!r} is used by task {holder}")
        self.name = name
        self.holder = holder


@dataclass(frozen=True, slots=True)
class StoredTask:
    """One task as the service keeps it: the TaskBasicRsp object and the task_detail text."""

    project_id: str
    instance_id: str
    task: Mapping[str, object]
    task_detail: str
    revision: int = 1

    @property
    def task_id(self) -> str:
        return str(self.task["task_id"])

    @property
    def task_name(self) -> str:
        return str(self.task["task_name"])

    @property
    def status(self) -> TaskStatus:
        return TaskStatus(str(self.task["status"]))

    @property
    def created_date(self) -> int:
        return _as_int(self.task["created_date"])

    @property
    def last_modified_date(self) -> int:
        return _as_int(self.task["last_modified_date"])

    def body(self) -> dict[str, object]:
        """The GET answer: `{"task": {...}, "task_detail": "..."}` (a fresh top-level copy)."""
        return {"task": dict(self.task), "task_detail": self.task_detail}


class TaskStore:
    """All emulated FDI tasks; changes happen through the emulated APIs or `add_task`."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._tasks: dict[tuple[str, str], dict[str, StoredTask]] = {}
        self.fighting = False
        self._undo: dict[tuple[str, str], dict[str, StoredTask]] = {}

    def add_task(
        self, project_id: str, instance_id: str, response_body: Mapping[str, object]
    ) -> StoredTask:
        """Add (or replace) a task from a GET response body of seed 002; raises SeedError."""
        return self._add(project_id, instance_id, dict(response_body), None, "add_task")

    def load_seed_dir(self, seed_dir: pathlib.Path) -> int:
        """Load every `<project>/<instance>/<task_id>.json`; raises SeedError naming the file."""
        count = 0
        for seed in seed_files(seed_dir):
            self._add(
                seed.project_id,
                seed.instance_id,
                read_seed(seed.path),
                seed.path.stem,
                str(seed.path),
            )
            count += 1
        return count

    def get(self, project_id: str, instance_id: str, task_id: str) -> StoredTask | None:
        """The task, or None."""
        return self._tasks.get((project_id, instance_id), {}).get(task_id)

    def tasks(self, project_id: str, instance_id: str) -> list[StoredTask]:
        """The instance's tasks, oldest first (created_date, then task_id), a stable order."""
        held = self._tasks.get((project_id, instance_id), {}).values()
        return sorted(held, key=lambda t: (t.created_date, t.task_id))

    def update(
        self, project_id: str, instance_id: str, task_id: str, update: TaskUpdate
    ) -> StoredTask:
        """Apply a valid update body; raises TaskNotFoundError, TaskRunningError, NameTakenError."""
        current = self._require(project_id, instance_id, task_id)
        if current.status is TaskStatus.RUNNING:
            raise TaskRunningError(task_id)
        self._check_name_free(project_id, instance_id, task_id, update.task_name)
        task = dict(current.task)
        task["task_name"] = update.task_name
        task["task_type"] = update.task_type
        task["source_datasource_id"] = update.source_datasource_id
        task["target_datasource_id"] = update.target_datasource_id
        for key, value in (("description", update.description), ("task_tag", update.task_tag)):
            if value is None:
                task.pop(key, None)
            else:
                task[key] = value
        updated = self._modified(current, task, update.task_detail)
        self._tasks[(project_id, instance_id)][task_id] = updated
        if self.fighting:
            self._undo.setdefault((project_id, instance_id), {}).setdefault(task_id, current)
        return updated

    def fight_back(self, project_id: str, instance_id: str) -> int:
        """Undo the instance's updates since it was last listed (with `fighting` on)."""
        undone = self._undo.pop((project_id, instance_id), {})
        held = self._tasks.get((project_id, instance_id), {})
        for task_id, before in undone.items():
            current = held.get(task_id)
            if current is not None:
                held[task_id] = self._modified(current, dict(before.task), before.task_detail)
        return len(undone)

    def _modified(self, current: StoredTask, task: dict[str, object], detail: str) -> StoredTask:
        now_ms = int(self._clock() * 1000)
        task["last_modified_date"] = max(now_ms, current.last_modified_date + 1)
        return replace(current, task=task, task_detail=detail, revision=current.revision + 1)

    def set_status(
        self, project_id: str, instance_id: str, task_id: str, status: TaskStatus
    ) -> StoredTask:
        """Start or stop a task; raises TaskNotFoundError."""
        current = self._require(project_id, instance_id, task_id)
        changed = replace(current, task={**current.task, "status": str(status)})
        self._tasks[(project_id, instance_id)][task_id] = changed
        return changed

    def _require(self, project_id: str, instance_id: str, task_id: str) -> StoredTask:
        found = self.get(project_id, instance_id, task_id)
        if found is None:
            raise TaskNotFoundError(task_id)
        return found

    def _check_name_free(self, project_id: str, instance_id: str, task_id: str, name: str) -> None:
        for other in self._tasks.get((project_id, instance_id), {}).values():
            if other.task_name == name and other.task_id != task_id:
                raise NameTakenError(name, other.task_id)

    def _add(
        self,
        project_id: str,
        instance_id: str,
        body: object,
        file_task_id: str | None,
        source: str,
    ) -> StoredTask:
        for what, value in (("project_id", project_id), ("instance_id", instance_id)):
            if not 1 <= len(value) <= 64:
                raise SeedError(f"{source}: {what}: it must have 1-64 characters")
        task, detail = complete_task(
            body,
            project_id=project_id,
            task_id=file_task_id,
            now_ms=int(self._clock() * 1000),
            source=source,
        )
        stored = StoredTask(project_id, instance_id, task, detail)
        try:
            self._check_name_free(project_id, instance_id, stored.task_id, stored.task_name)
        except NameTakenError as exc:
            raise SeedError(f"{source}: task.task_name: {exc}") from exc
        self._tasks.setdefault((project_id, instance_id), {})[stored.task_id] = stored
        return stored


def _as_int(value: object) -> int:
    if isinstance(value, int):
        return value
    raise TypeError(f"expected an integer, got {value!r}")
