"""The emulated cloud's FDI state, in memory, keyed by project, instance and task id.

One instance holds common tasks and composite tasks in one namespace: a task id or a task name
belongs to at most one task of either kind. Behaviour the public pages leave open, as the
emulator chooses it:

- An update replaces `task_name`, `task_type`, both datasource ids and `task_detail`; an optional
  field (`description`, `task_tag`) absent from the update is removed, as the seed's "not
  displayed when the request parameter is empty" implies. Datasource and app names are kept:
  the emulator has no datasource catalogue to look new ids up in. Composite tasks change as
  composite_task.py says.
- `last_modified_date` becomes the clock in epoch ms, or the previous value + 1 if that is not
  larger, so every update is visible to change detection even within one millisecond.
- Task names are unique within an instance: an update to another task's name is refused, and
  so is a composite task created with a name or an id already in use.
- A running task refuses updates (and composite inits). Starting and stopping change `status`
  only, not `last_modified_date` (they are not configuration changes).
- Each task has a `revision`, 1 when added and + 1 on every update or init; the task list shows
  it as `version`.
- The store knows an instance from the moment a seed directory has its folder (tasks in it or
  not) or a task is added or created in it, and remembers that moment (`instances`, for the
  ROMA instance list); nothing forgets an instance.
- `add_task` (`add_composite_task`) with the id of a task of the same kind replaces that task;
  with the id of a task of the other kind it raises SeedError.
- With `fighting` on, another writer undoes every update and composite init (not a creation):
  when the instance is next listed, the task gets back the content it had before, as a person
  or a second controller would write it (a new `last_modified_date`, revision + 1). The undo
  waits for the next list so that the writer's own read-back still sees its update. DRS jobs
  obey the same switch (drs_store.py).
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace

from fdi_drift.emulator.composite_rules import CompositeCreate, CompositeInit, CompositeUpdate
from fdi_drift.emulator.composite_task import (
    complete_composite,
    initialised,
    modified,
    new_composite,
    touched,
)
from fdi_drift.emulator.records import (
    InstanceTask,
    StoredComposite,
    StoredTask,
    TaskStatus,
    next_modified_date,
)
from fdi_drift.emulator.seeds import (
    SeedError,
    complete_task,
    composite_seed_files,
    instance_folders,
    read_seed,
    seed_files,
)
from fdi_drift.emulator.validation import TaskUpdate

__all__ = [
    "IdTakenError",
    "NameTakenError",
    "StoredComposite",
    "StoredTask",
    "TaskNotFoundError",
    "TaskRunningError",
    "TaskStatus",
    "TaskStore",
]

_Scope = tuple[str, str]


class TaskNotFoundError(LookupError):
    """The instance holds no task (of the kind asked for) with this id."""


class TaskRunningError(RuntimeError):
    """The task is running, so it cannot be updated."""


class NameTakenError(ValueError):
    """Another task of the instance already has the requested name."""

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(f"task name {name!r} is used by task {holder}")
        self.name = name
        self.holder = holder


class IdTakenError(ValueError):
    """A task of the instance already has the requested id."""


class TaskStore:
    """All emulated FDI tasks; changes happen through the emulated APIs or the `add_` methods."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._tasks: dict[_Scope, dict[str, StoredTask]] = {}
        self._composites: dict[_Scope, dict[str, StoredComposite]] = {}
        self.fighting = False
        self._undo: dict[_Scope, dict[str, InstanceTask]] = {}
        self._known_since: dict[_Scope, int] = {}

    def add_task(
        self, project_id: str, instance_id: str, response_body: Mapping[str, object]
    ) -> StoredTask:
        """Add (or replace) a task from a GET response body of seed 002; raises SeedError."""
        return self._add(project_id, instance_id, dict(response_body), None, "add_task")

    def add_composite_task(
        self, project_id: str, instance_id: str, response_body: Mapping[str, object]
    ) -> StoredComposite:
        """Add (or replace) a composite task from its GET answer; raises SeedError."""
        source = "add_composite_task"
        return self._add_composite(project_id, instance_id, dict(response_body), None, source)

    def load_seed_dir(self, seed_dir: pathlib.Path) -> int:
        """Load every `<project>/<instance>/<task_id>.json`; raises SeedError naming the file.

        Every instance folder becomes known, with or without tasks.
        """
        for project_id, instance_id in instance_folders(seed_dir):
            self._know(project_id, instance_id)
        count = 0
        names = self._names()
        for seed in seed_files(seed_dir):
            body = read_seed(seed.path)
            source = str(seed.path)
            self._add(seed.project_id, seed.instance_id, body, seed.path.stem, source, names)
            count += 1
        return count

    def load_composite_seed_dir(self, seed_dir: pathlib.Path) -> int:
        """Load every `<project>/<instance>/multi-tasks/<task_id>.json` (after the common ones)."""
        count = 0
        names = self._names()
        for seed in composite_seed_files(seed_dir):
            body = read_seed(seed.path)
            source = str(seed.path)
            self._add_composite(
                seed.project_id, seed.instance_id, body, seed.path.stem, source, names
            )
            count += 1
        return count

    def _names(self) -> dict[tuple[str, str, str], str]:
        """(project, instance, task name) -> task id, of both kinds: a bulk load checks names by
        it instead of scanning every task once per file (quadratic at 10,000 seeds)."""
        names: dict[tuple[str, str, str], str] = {}
        every: list[InstanceTask] = [t for tasks in self._tasks.values() for t in tasks.values()]
        every.extend(t for tasks in self._composites.values() for t in tasks.values())
        for task in every:
            names[(task.project_id, task.instance_id, task.task_name)] = task.task_id
        return names

    def get(self, project_id: str, instance_id: str, task_id: str) -> StoredTask | None:
        """The common task, or None."""
        return self._tasks.get((project_id, instance_id), {}).get(task_id)

    def instances(self, project_id: str) -> dict[str, int]:
        """The project's known instances: id to the epoch ms the store first knew of it."""
        return {
            instance_id: since
            for (project, instance_id), since in self._known_since.items()
            if project == project_id
        }

    def composite(self, project_id: str, instance_id: str, task_id: str) -> StoredComposite | None:
        """The composite task, or None."""
        return self._composites.get((project_id, instance_id), {}).get(task_id)

    def lookup(self, project_id: str, instance_id: str, task_id: str) -> InstanceTask | None:
        """The task of either kind, or None."""
        found = self.get(project_id, instance_id, task_id)
        return found if found is not None else self.composite(project_id, instance_id, task_id)

    def tasks(self, project_id: str, instance_id: str) -> list[StoredTask]:
        """The instance's common tasks, oldest first (created_date, then task_id)."""
        return sorted(self._tasks.get((project_id, instance_id), {}).values(), key=_age)

    def composite_tasks(self, project_id: str, instance_id: str) -> list[StoredComposite]:
        """The instance's composite tasks, oldest first."""
        return sorted(self._composites.get((project_id, instance_id), {}).values(), key=_age)

    def entries(self, project_id: str, instance_id: str) -> list[InstanceTask]:
        """Every task of the instance, both kinds, in the task list's order (oldest first)."""
        scope = (project_id, instance_id)
        both: list[InstanceTask] = [*self._tasks.get(scope, {}).values()]
        both.extend(self._composites.get(scope, {}).values())
        return sorted(both, key=_age)

    def update(
        self, project_id: str, instance_id: str, task_id: str, update: TaskUpdate
    ) -> StoredTask:
        """Apply a valid update body; raises TaskNotFoundError, TaskRunningError, NameTakenError."""
        current = self.get(project_id, instance_id, task_id)
        if current is None:
            raise TaskNotFoundError(task_id)
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
        self._remember(current)
        return updated

    def create_composite(
        self, project_id: str, instance_id: str, create: CompositeCreate
    ) -> StoredComposite:
        """Create a composite task; raises IdTakenError, NameTakenError."""
        task_id = create.task_id or uuid.uuid4().hex
        if self.lookup(project_id, instance_id, task_id) is not None:
            raise IdTakenError(task_id)
        self._check_name_free(project_id, instance_id, task_id, create.task_name)
        created = new_composite(
            create,
            project_id=project_id,
            instance_id=instance_id,
            task_id=task_id,
            now_ms=self._now_ms(),
        )
        self._composites.setdefault((project_id, instance_id), {})[task_id] = created
        self._know(project_id, instance_id)
        return created

    def update_composite(
        self, project_id: str, instance_id: str, task_id: str, update: CompositeUpdate
    ) -> StoredComposite:
        """Modify a composite task; raises TaskNotFoundError, TaskRunningError."""
        current = self._stopped_composite(project_id, instance_id, task_id)
        return self._keep(current, modified(current, update, self._now_ms()))

    def init_composite(
        self, project_id: str, instance_id: str, task_id: str, init: CompositeInit
    ) -> StoredComposite:
        """Initialise a composite task; raises TaskNotFoundError, TaskRunningError."""
        current = self._stopped_composite(project_id, instance_id, task_id)
        return self._keep(current, initialised(current, init, self._now_ms()))

    def fight_back(self, project_id: str, instance_id: str) -> int:
        """Undo the instance's updates since it was last listed (with `fighting` on)."""
        undone = self._undo.pop((project_id, instance_id), {})
        for task_id, before in undone.items():
            if isinstance(before, StoredComposite):
                now = self.composite(project_id, instance_id, task_id)
                if now is not None:
                    restored = touched(now, dict(before.task), dict(before.detail), self._now_ms())
                    self._composites[(project_id, instance_id)][task_id] = restored
            else:
                current = self.get(project_id, instance_id, task_id)
                if current is not None:
                    self._tasks[(project_id, instance_id)][task_id] = self._modified(
                        current, dict(before.task), before.task_detail
                    )
        return len(undone)

    def set_status(
        self, project_id: str, instance_id: str, task_id: str, status: TaskStatus
    ) -> InstanceTask:
        """Start or stop a task of either kind; raises TaskNotFoundError."""
        scope = (project_id, instance_id)
        composite = self.composite(project_id, instance_id, task_id)
        if composite is not None:
            changed = replace(composite, task={**composite.task, "status": str(status)})
            self._composites[scope][task_id] = changed
            return changed
        current = self.get(project_id, instance_id, task_id)
        if current is None:
            raise TaskNotFoundError(task_id)
        common = replace(current, task={**current.task, "status": str(status)})
        self._tasks[scope][task_id] = common
        return common

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _know(self, project_id: str, instance_id: str) -> None:
        self._known_since.setdefault((project_id, instance_id), self._now_ms())

    def _modified(self, current: StoredTask, task: dict[str, object], detail: str) -> StoredTask:
        task["last_modified_date"] = next_modified_date(current.last_modified_date, self._now_ms())
        return replace(current, task=task, task_detail=detail, revision=current.revision + 1)

    def _stopped_composite(
        self, project_id: str, instance_id: str, task_id: str
    ) -> StoredComposite:
        current = self.composite(project_id, instance_id, task_id)
        if current is None:
            raise TaskNotFoundError(task_id)
        if current.status is TaskStatus.RUNNING:
            raise TaskRunningError(task_id)
        return current

    def _keep(self, before: StoredComposite, after: StoredComposite) -> StoredComposite:
        self._composites[(after.project_id, after.instance_id)][after.task_id] = after
        self._remember(before)
        return after

    def _remember(self, before: InstanceTask) -> None:
        if self.fighting:
            undo = self._undo.setdefault((before.project_id, before.instance_id), {})
            undo.setdefault(before.task_id, before)

    def _check_name_free(self, project_id: str, instance_id: str, task_id: str, name: str) -> None:
        for other in self.entries(project_id, instance_id):
            if other.task_name == name and other.task_id != task_id:
                raise NameTakenError(name, other.task_id)

    def _add(
        self,
        project_id: str,
        instance_id: str,
        body: object,
        file_task_id: str | None,
        source: str,
        names: dict[tuple[str, str, str], str] | None = None,
    ) -> StoredTask:
        _check_scope(project_id, instance_id, source)
        task, detail = complete_task(
            body,
            project_id=project_id,
            task_id=file_task_id,
            now_ms=self._now_ms(),
            source=source,
        )
        stored = StoredTask(project_id, instance_id, task, detail)
        other_kind = self.composite(project_id, instance_id, stored.task_id)
        self._check_addable(stored, other_kind, source, names)
        self._tasks.setdefault((project_id, instance_id), {})[stored.task_id] = stored
        self._know(project_id, instance_id)
        return stored

    def _add_composite(
        self,
        project_id: str,
        instance_id: str,
        body: object,
        file_task_id: str | None,
        source: str,
        names: dict[tuple[str, str, str], str] | None = None,
    ) -> StoredComposite:
        _check_scope(project_id, instance_id, source)
        task, detail = complete_composite(
            body,
            project_id=project_id,
            task_id=file_task_id,
            now_ms=self._now_ms(),
            source=source,
        )
        stored = StoredComposite(project_id, instance_id, task, detail)
        self._check_addable(
            stored, self.get(project_id, instance_id, stored.task_id), source, names
        )
        self._composites.setdefault((project_id, instance_id), {})[stored.task_id] = stored
        self._know(project_id, instance_id)
        return stored

    def _check_addable(
        self,
        stored: InstanceTask,
        other_kind: object,
        source: str,
        names: dict[tuple[str, str, str], str] | None,
    ) -> None:
        """Refuse an id of the other kind or a name taken; `names`, a bulk load's index of
        names, is checked instead of the store, and kept up to date."""
        if other_kind is not None:
            raise SeedError(
                f"{source}: task.task_id: a task of the other kind has the id {stored.task_id!r}"
            )
        try:
            if names is None:
                self._check_name_free(
                    stored.project_id, stored.instance_id, stored.task_id, stored.task_name
                )
            else:
                named = (stored.project_id, stored.instance_id, stored.task_name)
                holder = names.get(named)
                if holder is not None and holder != stored.task_id:
                    raise NameTakenError(stored.task_name, holder)
                names[named] = stored.task_id
        except NameTakenError as exc:
            raise SeedError(f"{source}: task.task_name: {exc}") from exc


def _age(task: InstanceTask) -> tuple[int, str]:
    return task.created_date, task.task_id


def _check_scope(project_id: str, instance_id: str, source: str) -> None:
    for what, value in (("project_id", project_id), ("instance_id", instance_id)):
        if not 1 <= len(value) <= 64:
            raise SeedError(f"{source}: {what}: it must have 1-64 characters")
