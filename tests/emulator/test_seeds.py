"""Seed directories: loading, defaults, and errors that name the file and the field."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.seeds import SeedError
from fdi_drift.emulator.store import TaskStore
from tests.emulator.conftest import (
    INSTANCE,
    ORDERS,
    PROJECT,
    SAMPLES,
    START,
    FakeClock,
    sample_body,
)


def write_seed(root: pathlib.Path, body: Any, name: str = ORDERS) -> pathlib.Path:
    """Write one seed file under root/PROJECT/INSTANCE and return its path."""
    folder = root / PROJECT / INSTANCE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


def orders_with(**task_fields: Any) -> dict[str, Any]:
    """The orders sample with `task` fields replaced (None removes one)."""
    body = sample_body(ORDERS)
    for key, value in task_fields.items():
        if value is None:
            body["task"].pop(key, None)
        else:
            body["task"][key] = value
    return body


def test_samples_load() -> None:
    """The bundled samples load as four tasks of one instance."""
    store = TaskStore(FakeClock())
    assert store.load_seed_dir(SAMPLES) == 4
    assert len(store.tasks(PROJECT, INSTANCE)) == 4


def test_missing_server_fields_get_defaults(tmp_path: pathlib.Path) -> None:
    """A seed without server-side fields gets status stop, clock dates and its folders' ids."""
    body = orders_with(
        status=None,
        created_date=None,
        last_modified_date=None,
        project_id=None,
        execute_status=None,
    )
    write_seed(tmp_path, body)
    store = TaskStore(FakeClock())
    store.load_seed_dir(tmp_path)
    task = store.get(PROJECT, INSTANCE, ORDERS)
    assert task is not None
    assert task.task["status"] == "stop"
    assert task.task["created_date"] == task.task["last_modified_date"] == int(START * 1000)
    assert task.task["project_id"] == PROJECT
    assert task.task["execute_status"] == "UNSTARTED"
    assert task.task_detail == body["task_detail"]


def test_task_type_is_stored_lower_case(tmp_path: pathlib.Path) -> None:
    """A seed may spell task_type in capitals; answers show it lower case."""
    write_seed(tmp_path, orders_with(task_type="REALTIME"))
    store = TaskStore(FakeClock())
    store.load_seed_dir(tmp_path)
    task = store.get(PROJECT, INSTANCE, ORDERS)
    assert task is not None and task.task["task_type"] == "realtime"


def test_other_files_are_ignored(tmp_path: pathlib.Path) -> None:
    """READMEs, non-JSON files, hidden folders and deeper folders are not seeds."""
    write_seed(tmp_path, sample_body(ORDERS))
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / PROJECT / INSTANCE / "notes.txt").write_text("{")
    (tmp_path / ".git" / "x").mkdir(parents=True)
    (tmp_path / ".git" / "x" / "y.json").write_text("{")
    (tmp_path / PROJECT / INSTANCE / "deeper").mkdir()
    (tmp_path / PROJECT / INSTANCE / "deeper" / "z.json").write_text("{")
    assert TaskStore(FakeClock()).load_seed_dir(tmp_path) == 1


BAD_SEEDS: list[tuple[str, Any, str]] = [
    ("not JSON", "{", "not JSON"),
    ("not an object", [1], "(document)"),
    ("task missing", {"task_detail": "{}"}, "task"),
    ("detail not JSON", {**sample_body(ORDERS), "task_detail": "{oops"}, "task_detail"),
    ("detail missing", {"task": sample_body(ORDERS)["task"]}, "task_detail"),
    ("id differs from file name", orders_with(task_id="abc"), "task.task_id"),
    ("id missing", orders_with(task_id=None), "task.task_id"),
    ("bad name", orders_with(task_name="-x"), "task.task_name"),
    ("bad type", orders_with(task_type="batch"), "task.task_type"),
    ("bad status", orders_with(status="paused"), "task.status"),
    ("other project", orders_with(project_id="elsewhere"), "task.project_id"),
    ("date a string", orders_with(created_date="yesterday"), "task.created_date"),
    ("negative date", orders_with(last_modified_date=-1), "task.last_modified_date"),
    ("bad tag", orders_with(task_tag="no"), "task.task_tag"),
    ("empty description", orders_with(description=""), "task.description"),
    ("source id missing", orders_with(source_datasource_id=None), "task.source_datasource_id"),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_SEEDS], ids=[i for i, _, _ in BAD_SEEDS]
)
def test_bad_seed_names_file_and_field(tmp_path: pathlib.Path, body: Any, field: str) -> None:
    """A bad seed file stops the emulator from starting, naming the file and the field."""
    path = write_seed(tmp_path, body)
    with pytest.raises(SeedError) as caught:
        Emulator(EmulatorConfig(seed_dir=tmp_path))
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_duplicate_names_in_an_instance_are_refused(tmp_path: pathlib.Path) -> None:
    """Two seeds of one instance with the same task name are refused, naming the second file."""
    write_seed(tmp_path, sample_body(ORDERS))
    twin = orders_with(task_id="second-task")
    path = write_seed(tmp_path, twin, name="second-task")
    with pytest.raises(SeedError, match=r"task\.task_name") as caught:
        TaskStore(FakeClock()).load_seed_dir(tmp_path)
    assert str(path) in str(caught.value)


def test_missing_seed_directory_is_an_error(tmp_path: pathlib.Path) -> None:
    """A seed directory that does not exist is named in the error."""
    with pytest.raises(SeedError, match="does not exist") as caught:
        Emulator(EmulatorConfig(seed_dir=tmp_path / "nowhere"))
    assert "nowhere" in str(caught.value)


def test_overlong_folder_name_is_an_error(tmp_path: pathlib.Path) -> None:
    """A project folder longer than an id may be is refused."""
    (tmp_path / ("p" * 65) / INSTANCE).mkdir(parents=True)
    with pytest.raises(SeedError, match="64"):
        TaskStore(FakeClock()).load_seed_dir(tmp_path)
