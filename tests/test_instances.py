"""Every instance of a project: unmanaged tasks found there, and a project-wide export."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fdi_drift.cloud.payloads import BriefTask, RomaInstance
from fdi_drift.drift.model import CycleReport, Status
from fdi_drift.emulator.app import Emulator
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.task_list import SharedTaskList
from fdi_drift.service import Runtime
from tests.conftest import INSTANCE, PROJECT, export_instance, seed_002

RuntimeFactory = Callable[..., Runtime]
SECOND_INSTANCE = "0b9e7c1d-55aa-4f3e-9d2c-7a6b5c4d3e2f"
ELSEWHERE_TASK = "7e1d2c3b4a5948f6a7b8c9d0e1f2a3b4"


def in_second_instance(emulator: Emulator) -> None:
    """A task in another instance of the same project, which no desired file names."""
    body = copy.deepcopy(seed_002())
    body["task"]["task_id"] = ELSEWHERE_TASK
    body["task"]["task_name"] = "orders_elsewhere"
    emulator.store.add_task(PROJECT, SECOND_INSTANCE, body)


async def check(runtime: Runtime) -> CycleReport:
    assert await runtime.reload() is not None
    report = await runtime.check()
    assert report is not None
    return report


async def test_tasks_in_undeclared_instances_are_unmanaged(
    make_runtime: RuntimeFactory, desired_dir: Path, emulator: Emulator
) -> None:
    """With tasks declared in one instance, the project's other instances are listed too."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    in_second_instance(emulator)
    report = await check(runtime)
    (found,) = [s for s in report.statuses if s.key.instance_id == SECOND_INSTANCE]
    assert (found.status, found.live_id, found.key.name) == (
        Status.UNMANAGED,
        ELSEWHERE_TASK,
        "orders_elsewhere",
    )
    assert report.complete
    listed = [r for r in emulator.requests if r.path == f"/v2/{PROJECT}/instances"]
    assert len(listed) == 1  # one instance list per project, shared by both task kinds


async def test_a_failed_instance_list_leaves_declared_tasks_judged(
    make_runtime: RuntimeFactory, desired_dir: Path, emulator: Emulator
) -> None:
    """The instance list failing costs unmanaged detection, not the declared tasks' verdicts."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    in_second_instance(emulator)
    emulator.faults.inject(method="GET", path=r"/instances$", status=500, times=None)
    report = await check(runtime)
    assert {s.status for s in report.statuses} == {Status.IN_SYNC}
    assert all(s.key.instance_id == INSTANCE for s in report.statuses)
    assert not report.complete


async def test_a_project_scope_exports_every_instance(
    make_runtime: RuntimeFactory, desired_dir: Path, emulator: Emulator
) -> None:
    """`--scope PROJECT` covers the tasks of each instance and the project's DRS jobs."""
    in_second_instance(emulator)
    runtime = make_runtime()
    targets = catalog.export_targets(PROJECT)
    written = await export_resources(runtime.drivers, runtime.specs, targets, desired_dir)
    folders = sorted({str(item.path.parent.relative_to(desired_dir)) for item in written})
    assert folders == sorted([f"{PROJECT}/{INSTANCE}", f"{PROJECT}/{SECOND_INSTANCE}"])
    assert len(written) == 3
    report = await check(runtime)
    assert {s.status for s in report.statuses} == {Status.IN_SYNC}
    assert len(report.statuses) == 3


class Instances:
    """An FDI client that knows only a project's instance list."""

    def __init__(self, instances: list[dict[str, Any]]) -> None:
        self._instances = instances

    async def list_instances(self, project_id: str) -> list[RomaInstance]:
        return [RomaInstance(**instance) for instance in self._instances]  # type: ignore[typeddict-item]

    async def list_tasks(self, project_id: str, instance_id: str) -> list[BriefTask]:
        raise AssertionError("not listed here")


async def test_only_running_instances_are_scopes() -> None:
    """Instances being created, deleted or in error have no tasks to list; no status is running."""
    client = Instances(
        [
            {"id": "i-running", "status": "RUNNING"},
            {"id": "i-creating", "status": "CREATING"},
            {"id": "i-error", "status": "ERROR"},
            {"id": "i-unsaid"},
        ]
    )
    scopes = await SharedTaskList(client).instance_scopes(PROJECT)  # type: ignore[arg-type]
    assert scopes == [Scope(PROJECT, "i-running"), Scope(PROJECT, "i-unsaid")]
