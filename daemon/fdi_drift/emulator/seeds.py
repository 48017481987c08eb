"""Seed documents: GET answers of every emulated kind, from files or tests, checked and completed.

A seed directory holds

    DIR/<project_id>/<instance_id>/<task_id>.json              FDI common tasks (seed 002)
    DIR/<project_id>/<instance_id>/multi-tasks/<task_id>.json  FDI composite tasks
    DIR/drs/<project_id>/<job_id>.json                         DRS v5 jobs

so `drs` is not a project id. Other files (a README, non-JSON files, other folders) are
ignored, and so are names starting with a dot. Each file is exactly what the kind's GET
answers: a common task `{"task": TaskBasicRsp, "task_detail": "<JSON object as text>"}`, a
composite task the shape composite_task.py describes, a DRS job `{"job": JobDetailResp}`
(drs_store.py). The file name must equal the task or job id, and `task.project_id`, when given,
the project folder. A bad file is a SeedError naming the file and the field.

Common tasks: missing server-side fields get defaults: `project_id` from the folder, `status`
`stop`, `created_date` the clock in epoch ms, `last_modified_date` the creation date,
`execute_status` `UNSTARTED`, `enterprise_project_id` `"0"`, `task_mode` `NORMAL`. `task_type`
is stored lower case (seeds may spell it either way). Every other key is kept as written, in the
file's order.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from fdi_drift.emulator.validation import (
    FieldError,
    check_id,
    check_string,
    check_task_detail,
    check_task_name,
    check_task_tag,
)

STATUSES = frozenset({"stop", "running"})
TASK_TYPES = frozenset({"realtime", "timing"})
DRS_FOLDER = "drs"
COMPOSITE_FOLDER = "multi-tasks"


class SeedError(ValueError):
    """A seed document is unusable; the message names the file (or caller) and the field."""


@dataclass(frozen=True, slots=True)
class SeedFile:
    """One seed file and the scope its folders give it."""

    project_id: str
    instance_id: str
    path: pathlib.Path


@dataclass(frozen=True, slots=True)
class JobSeedFile:
    """One DRS job seed file and the project its folder gives it."""

    project_id: str
    path: pathlib.Path


def instance_folders(seed_dir: pathlib.Path) -> Iterator[tuple[str, str]]:
    """(project_id, instance_id) of every instance folder, with or without tasks in it."""
    for project, instance in _instances(seed_dir):
        yield project.name, instance.name


def seed_files(seed_dir: pathlib.Path) -> Iterator[SeedFile]:
    """The common-task files of a seed directory, in a stable order."""
    for project, instance in _instances(seed_dir):
        for path in _json_files(instance):
            yield SeedFile(project.name, instance.name, path)


def composite_seed_files(seed_dir: pathlib.Path) -> Iterator[SeedFile]:
    """The composite-task files of a seed directory, in a stable order."""
    for project, instance in _instances(seed_dir):
        for path in _json_files(instance / COMPOSITE_FOLDER):
            yield SeedFile(project.name, instance.name, path)


def job_seed_files(seed_dir: pathlib.Path) -> Iterator[JobSeedFile]:
    """The DRS job files of a seed directory, in a stable order."""
    _check_root(seed_dir)
    drs = seed_dir / DRS_FOLDER
    if not drs.is_dir():
        return
    for project in _visible_dirs(drs):
        _check_folder(project)
        for path in _json_files(project):
            yield JobSeedFile(project.name, path)


def read_seed(path: pathlib.Path) -> object:
    """The parsed JSON content of one seed file."""
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise SeedError(f"{path}: not JSON: {exc}") from exc
    except OSError as exc:
        raise SeedError(f"{path}: cannot read: {exc.strerror}") from exc


def complete_task(
    body: object,
    *,
    project_id: str,
    task_id: str | None,
    now_ms: int,
    source: str,
) -> tuple[dict[str, object], str]:
    """Check a GET body and fill in server defaults; returns the task object and task_detail.

    `task_id`, when given, is what `task.task_id` must equal (the file name).
    """
    try:
        return _complete(body, project_id=project_id, task_id=task_id, now_ms=now_ms)
    except FieldError as exc:
        raise SeedError(f"{source}: {exc.field}: {exc.problem}") from exc


def _complete(
    body: object, *, project_id: str, task_id: str | None, now_ms: int
) -> tuple[dict[str, object], str]:
    if not isinstance(body, dict):
        raise FieldError("(document)", "It must be a JSON object with task and task_detail.")
    raw_task = body.get("task")
    if not isinstance(raw_task, dict):
        raise FieldError("task", "It must be an object.")
    detail = check_task_detail("task_detail", body.get("task_detail"))
    task: dict[str, object] = copy.deepcopy(raw_task)
    found_id = check_id("task.task_id", task.get("task_id"))
    if task_id is not None and found_id != task_id:
        raise FieldError("task.task_id", f"It is {found_id!r}; the file name says {task_id!r}.")
    check_task_name("task.task_name", task.get("task_name"))
    task_type = check_string("task.task_type", task.get("task_type"), 1, 10).lower()
    if task_type not in TASK_TYPES:
        raise FieldError("task.task_type", "It must be realtime or timing.")
    task["task_type"] = task_type
    for key in ("source_datasource_id", "target_datasource_id"):
        check_id(f"task.{key}", task.get(key))
    if task.setdefault("project_id", project_id) != project_id:
        raise FieldError("task.project_id", f"It must equal the project folder {project_id!r}.")
    if task.setdefault("status", "stop") not in STATUSES:
        raise FieldError("task.status", "It must be stop or running.")
    created = epoch_ms("task.created_date", task.setdefault("created_date", now_ms))
    epoch_ms("task.last_modified_date", task.setdefault("last_modified_date", created))
    if "description" in task:
        check_string("task.description", task["description"], 1, 1024)
    if "task_tag" in task:
        check_task_tag("task.task_tag", task["task_tag"])
    task.setdefault("execute_status", "UNSTARTED")
    task.setdefault("enterprise_project_id", "0")
    task.setdefault("task_mode", "NORMAL")
    return task, detail


def epoch_ms(field: str, value: object) -> int:
    """A non-negative integer (epoch milliseconds) or a FieldError naming `field`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FieldError(field, "It must be a non-negative integer (epoch milliseconds).")
    return value


def _check_root(seed_dir: pathlib.Path) -> None:
    if not seed_dir.is_dir():
        raise SeedError(f"{seed_dir}: the seed directory does not exist")


def _instances(seed_dir: pathlib.Path) -> Iterator[tuple[pathlib.Path, pathlib.Path]]:
    _check_root(seed_dir)
    for project in _visible_dirs(seed_dir):
        if project.name == DRS_FOLDER:
            continue
        _check_folder(project)
        for instance in _visible_dirs(project):
            _check_folder(instance)
            yield project, instance


def _json_files(folder: pathlib.Path) -> list[pathlib.Path]:
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.json")) if p.is_file() and not p.name.startswith(".")]


def _visible_dirs(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _check_folder(folder: pathlib.Path) -> None:
    if len(folder.name) > 64:
        raise SeedError(f"{folder}: a project or instance id has at most 64 characters")
