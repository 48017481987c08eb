"""Seed directories: loading, defaults, and errors that name the file and the field."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.drs_store import DrsStore
from fdi_drift.emulator.seeds import SeedError
from fdi_drift.emulator.store import TaskStore
from tests.emulator.conftest import (
    COMPOSITE,
    INSTANCE,
    JOB,
    ORDERS,
    PROJECT,
    SAMPLES,
    START,
    FakeClock,
    composite_body,
    job_body,
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


def write_composite(root: pathlib.Path, body: Any, name: str = COMPOSITE) -> pathlib.Path:
    """Write one composite seed under root/PROJECT/INSTANCE/multi-tasks and return its path."""
    folder = root / PROJECT / INSTANCE / "multi-tasks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


def write_job(root: pathlib.Path, body: Any, name: str = JOB) -> pathlib.Path:
    """Write one DRS job seed under root/drs/PROJECT and return its path."""
    folder = root / "drs" / PROJECT
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    return path


def composite_with(**task_fields: Any) -> dict[str, Any]:
    """The composite sample with `task` fields replaced (None removes one)."""
    body = composite_body()
    for key, value in task_fields.items():
        if value is None:
            body["task"].pop(key, None)
        else:
            body["task"][key] = value
    return body


def composite_detail(**detail_fields: Any) -> dict[str, Any]:
    """The composite sample with task_detail keys replaced."""
    body = composite_body()
    detail = json.loads(body["task_detail"])
    detail.update(detail_fields)
    body["task_detail"] = json.dumps(detail)
    return body


def job_with(**job_fields: Any) -> dict[str, Any]:
    """The DRS sample with `job` fields replaced (None removes one)."""
    body = job_body()
    for key, value in job_fields.items():
        if value is None:
            body["job"].pop(key, None)
        else:
            body["job"][key] = value
    return body


def job_base_info(**fields: Any) -> dict[str, Any]:
    """The DRS sample with base_info fields replaced (None removes one)."""
    body = job_body()
    for key, value in fields.items():
        if value is None:
            body["job"]["base_info"].pop(key, None)
        else:
            body["job"]["base_info"][key] = value
    return body


def test_samples_load_every_kind() -> None:
    """The samples hold four common tasks, one composite task and one DRS job."""
    emulator = Emulator(EmulatorConfig(seed_dir=SAMPLES))
    assert len(emulator.store.tasks(PROJECT, INSTANCE)) == 4
    assert [t.task_id for t in emulator.store.composite_tasks(PROJECT, INSTANCE)] == [COMPOSITE]
    assert [j.job_id for j in emulator.drs.jobs(PROJECT)] == [JOB]
    assert TaskStore(FakeClock()).load_composite_seed_dir(SAMPLES) == 1
    assert DrsStore(FakeClock(), lambda: False).load_seed_dir(SAMPLES) == 1


def test_drs_sample_is_a_valid_job() -> None:
    """The DRS sample is a MySQL-to-MySQL sync named within the 4-50 rule, passwords masked."""
    job = job_body()["job"]
    assert job["base_info"]["name"] == "orders-sync-prod"
    assert job["base_info"]["engine_type"] == "mysql"
    assert job["base_info"]["job_type"] == "sync"
    assert len(job["speed_limit"]) == 1
    assert job["db_object"]["object_scope"] == "table"
    passwords = [
        e["endpoint"]["db_password"] for e in job["source_endpoint"] + job["target_endpoint"]
    ]
    assert passwords == ["******", "******"]


def test_composite_sample_matches_the_demo_brief() -> None:
    """The composite sample is orders-cdc-mysql-to-dws, realtime, with every operation type."""
    task = composite_body()["task"]
    detail = json.loads(composite_body()["task_detail"])
    assert task["task_name"] == "orders-cdc-mysql-to-dws"
    assert task["task_type"] == "realtime"
    assert task["operation_types"] == ["INSERT", "UPDATE", "DELETE"]
    assert len(detail["mappings"]) >= 2 and len(detail["schema_mappings"]) >= 2


def test_drs_folder_is_not_a_project_of_tasks(tmp_path: pathlib.Path) -> None:
    """Files under drs/ load as jobs only, never as FDI tasks."""
    write_job(tmp_path, job_body())
    emulator = Emulator(EmulatorConfig(seed_dir=tmp_path))
    assert emulator.store.entries("drs", PROJECT) == []
    assert emulator.drs.get(PROJECT, JOB) is not None


def test_composite_defaults(tmp_path: pathlib.Path) -> None:
    """A composite seed without server fields gets stop, clock dates, ext_type and no mappings."""
    body = composite_with(
        status=None,
        project_id=None,
        created_date=None,
        last_modified_date=None,
        ext_type=None,
        repulling_snapshot=None,
        task_type="REALTIME",
    )
    body["task_detail"] = "{}"
    write_composite(tmp_path, body)
    store = TaskStore(FakeClock())
    assert store.load_composite_seed_dir(tmp_path) == 1
    task = store.composite(PROJECT, INSTANCE, COMPOSITE)
    assert task is not None
    assert task.task["status"] == "stop"
    assert task.task["project_id"] == PROJECT
    assert task.task["created_date"] == task.task["last_modified_date"] == int(START * 1000)
    assert (task.task["ext_type"], task.task["repulling_snapshot"]) == ("MULTI_TABLE", False)
    assert task.task["task_type"] == "realtime"
    assert json.loads(task.body()["task_detail"]) == {
        "ext_info": None,
        "mappings": [],
        "schema_mappings": [],
    }


BAD_COMPOSITES: list[tuple[str, Any, str]] = [
    ("not JSON", "{", "not JSON"),
    ("not an object", [1], "(document)"),
    ("task missing", {"task_detail": "{}"}, "task"),
    ("detail not JSON", {**composite_body(), "task_detail": "{oops"}, "task_detail"),
    ("id differs from file name", composite_with(task_id="abc"), "task.task_id"),
    ("bad name", composite_with(task_name="x"), "task.task_name"),
    ("timing", composite_with(task_type="timing"), "task.task_type"),
    ("operations missing", composite_with(operation_types=None), "task.operation_types"),
    (
        "operations repeated",
        composite_with(operation_types=["DELETE", "DELETE"]),
        "task.operation_types",
    ),
    ("bad status", composite_with(status="paused"), "task.status"),
    ("empty ext_type", composite_with(ext_type=""), "task.ext_type"),
    ("repulling a string", composite_with(repulling_snapshot="no"), "task.repulling_snapshot"),
    ("datasource id empty", composite_with(source_datasource_id=""), "task.source_datasource_id"),
    ("bad tag", composite_with(task_tag="x"), "task.task_tag"),
    ("date a string", composite_with(created_date="then"), "task.created_date"),
    ("mappings an object", composite_detail(mappings={}), "task_detail.mappings"),
    (
        "mapping without id",
        composite_detail(mappings=[{"source_table": "a", "target_table": "b"}]),
        "task_detail.mappings[0].id",
    ),
    (
        "schema mapping without target",
        composite_detail(schema_mappings=[{"id": "1", "source_schema": "a"}]),
        "task_detail.schema_mappings[0].target_schema",
    ),
    (
        "server_id a number",
        composite_detail(ext_info={"server_id": 5}),
        "task_detail.ext_info.server_id",
    ),
]


@pytest.mark.parametrize(
    ("body", "field"),
    [(b, f) for _, b, f in BAD_COMPOSITES],
    ids=[i for i, _, _ in BAD_COMPOSITES],
)
def test_bad_composite_seed_names_file_and_field(
    tmp_path: pathlib.Path, body: Any, field: str
) -> None:
    """A bad composite seed stops the emulator from starting, naming the file and the field."""
    path = write_composite(tmp_path, body)
    with pytest.raises(SeedError) as caught:
        Emulator(EmulatorConfig(seed_dir=tmp_path))
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_composite_name_clashing_with_a_common_task_is_refused(tmp_path: pathlib.Path) -> None:
    """A composite seed named like a common task of its instance is refused, naming its file."""
    write_seed(tmp_path, sample_body(ORDERS))
    path = write_composite(tmp_path, composite_with(task_name="orders-mysql-to-mysql"))
    with pytest.raises(SeedError, match=r"task\.task_name") as caught:
        Emulator(EmulatorConfig(seed_dir=tmp_path))
    assert str(path) in str(caught.value)


def test_drs_seed_drops_volatile_fields(tmp_path: pathlib.Path) -> None:
    """A DRS seed may hold progress_info and metrics; the emulator drops them."""
    write_job(tmp_path, job_with(progress_info={"progress": "3"}, metrics={"cpu_util": "1"}))
    store = DrsStore(FakeClock(), lambda: False)
    assert store.load_seed_dir(tmp_path) == 1
    job = store.get(PROJECT, JOB)
    assert job is not None and dict(job.job) == job_body()["job"]


def test_drs_seed_tuning_entry_without_availability_is_available(tmp_path: pathlib.Path) -> None:
    """A seed's tuning entry may leave out availability: the job lists it as available."""
    write_job(
        tmp_path, job_with(tuning_params={"incre_apply": [{"param_name": "a", "param_value": ""}]})
    )
    store = DrsStore(FakeClock(), lambda: False)
    store.load_seed_dir(tmp_path)
    job = store.get(PROJECT, JOB)
    assert job is not None
    assert job.job["tuning_params"] == {
        "incre_apply": [{"param_name": "a", "param_value": "", "availability": True}]
    }


BAD_JOBS: list[tuple[str, Any, str]] = [
    ("not JSON", "{", "not JSON"),
    ("not an object", [1], "(document)"),
    ("job missing", {"id": JOB}, "job"),
    ("id differs from file name", job_with(id="other"), "job.id"),
    ("id missing", job_with(id=None), "job.id"),
    ("status lower case", job_with(status="running"), "job.status"),
    ("create_time a number", job_with(create_time=1712041200000), "job.create_time"),
    ("create_time not digits", job_with(create_time="2024-04-02"), "job.create_time"),
    ("base_info missing", job_with(base_info=None), "job.base_info"),
    ("name missing", job_base_info(name=None), "job.base_info.name"),
    ("name too short", job_base_info(name="abc"), "job.base_info.name"),
    ("description with <", job_base_info(description="a<b"), "job.base_info.description"),
    ("expired_days 7", job_base_info(expired_days="7"), "job.base_info.expired_days"),
    (
        "21 tags",
        job_base_info(tags=[{"key": f"k{n}", "value": "v"} for n in range(21)]),
        "job.base_info.tags",
    ),
    (
        "speed end",
        job_with(speed_limit=[{"begin": "01:00", "end": "02:00", "speed": "5"}]),
        "job.speed_limit[0].end",
    ),
    (
        "notify without alarm_to_user",
        job_with(alarm_notify={"topic_urn": "u"}),
        "job.alarm_notify.alarm_to_user",
    ),
    (
        "endpoint without endpoint",
        job_with(
            source_endpoint=[{"db_type": "mysql", "endpoint_type": "cloud", "endpoint_role": "so"}]
        ),
        "job.source_endpoint[0].endpoint",
    ),
    (
        "policy flag a string",
        job_with(policy_config={"ddl_trans": "yes"}),
        "job.policy_config.ddl_trans",
    ),
    (
        "db_object without scope",
        job_with(db_object={"object_info": {}}),
        "job.db_object.object_scope",
    ),
    (
        "tuning group as a map (the update's shape)",
        job_with(tuning_params={"full_sync": {"a": "1"}}),
        "job.tuning_params.full_sync",
    ),
    (
        "tuning group unknown",
        job_with(tuning_params={"full_load": []}),
        "job.tuning_params.full_load",
    ),
    (
        "tuning value a number",
        job_with(tuning_params={"full_sync": [{"param_name": "a", "param_value": 1}]}),
        "job.tuning_params.full_sync[0].param_value",
    ),
    (
        "tuning name missing",
        job_with(tuning_params={"incre_apply": [{"param_value": "1"}]}),
        "job.tuning_params.incre_apply[0].param_name",
    ),
    (
        "tuning name twice",
        job_with(
            tuning_params={
                "incre_apply": [
                    {"param_name": "a", "param_value": "1"},
                    {"param_name": "a", "param_value": "2"},
                ]
            }
        ),
        "job.tuning_params.incre_apply[1].param_name",
    ),
    (
        "tuning availability a string",
        job_with(
            tuning_params={
                "incre_relay": [{"param_name": "a", "param_value": "1", "availability": "true"}]
            }
        ),
        "job.tuning_params.incre_relay[0].availability",
    ),
    (
        "tuning entry with another key",
        job_with(
            tuning_params={"full_sync": [{"param_name": "a", "param_value": "1", "range": "1-9"}]}
        ),
        "job.tuning_params.full_sync[0].range",
    ),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_JOBS], ids=[i for i, _, _ in BAD_JOBS]
)
def test_bad_job_seed_names_file_and_field(tmp_path: pathlib.Path, body: Any, field: str) -> None:
    """A bad DRS seed stops the emulator from starting, naming the file and the field."""
    path = write_job(tmp_path, body)
    with pytest.raises(SeedError) as caught:
        Emulator(EmulatorConfig(seed_dir=tmp_path))
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_overlong_drs_project_folder_is_an_error(tmp_path: pathlib.Path) -> None:
    """A DRS project folder longer than an id may be is refused."""
    (tmp_path / "drs" / ("p" * 65)).mkdir(parents=True)
    with pytest.raises(SeedError, match="64"):
        DrsStore(FakeClock(), lambda: False).load_seed_dir(tmp_path)


def test_other_files_beside_jobs_are_ignored(tmp_path: pathlib.Path) -> None:
    """READMEs, hidden files and deeper folders under drs/ are not job seeds."""
    write_job(tmp_path, job_body())
    (tmp_path / "drs" / "README.md").write_text("notes")
    (tmp_path / "drs" / PROJECT / ".hidden.json").write_text("{")
    (tmp_path / "drs" / PROJECT / "deeper").mkdir()
    (tmp_path / "drs" / PROJECT / "deeper" / "x.json").write_text("{")
    assert DrsStore(FakeClock(), lambda: False).load_seed_dir(tmp_path) == 1
