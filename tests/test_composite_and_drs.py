"""Composite tasks and DRS jobs through the same engine, reconciler and export as common tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.cloud.transports import in_process
from fdi_drift.demo import SAMPLES
from fdi_drift.drift.model import (
    ChangeOp,
    Kind,
    ReconcileMode,
    ReconcileResult,
    ResourceStatus,
    Status,
)
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.drs_job import KIND as DRS_JOB
from fdi_drift.kinds.fdi_composite_task import KIND as FDI_COMPOSITE_TASK
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.reconciler import Correction
from fdi_drift.service import Runtime
from tests.conftest import INSTANCE, PROJECT, TOKEN, settings_for

COMPOSITE = "5c0e7d2a9b3f4e61a8d47f1b2c3e9a60"
JOB = "b84f2d6a-1c3e-4a5b-9d7f-0e2c4a6b8jb01"
FDI = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}"
SAMPLE_DESCRIPTION = "Orders, items and customers from the shop MySQL into DWS, change data capture"


@pytest.fixture
def cloud() -> Emulator:
    """The demo samples: four common tasks, one composite task, one DRS job."""
    return Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN})))


@pytest.fixture
async def http(cloud: Emulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cloud),
        base_url="http://cloud.test",
        headers={"X-Auth-Token": TOKEN},
    )


@pytest.fixture
def runtime(cloud: Emulator, desired_dir: Path) -> Runtime:
    settings = settings_for(
        desired_dir,
        audit_log=desired_dir.parent / "audit.jsonl",
        reconcile={"mode": "auto", "backoff_base_seconds": 0.0},
    )
    return Runtime(
        settings,
        transport=in_process(cloud),
        metrics=DaemonMetrics(CollectorRegistry(), version="test"),
    )


async def export(runtime: Runtime, desired: Path, kind: Kind) -> Path:
    scope = Scope(PROJECT) if kind == DRS_JOB else Scope(PROJECT, INSTANCE)
    (written,) = [
        item
        for item in await export_resources(
            runtime.drivers, catalog.specs(), [(kind, scope)], desired
        )
        if item.kind == kind
    ]
    return written.path


async def cycle(
    runtime: Runtime, **kwargs: Any
) -> tuple[dict[Kind, ResourceStatus], list[Correction]]:
    await runtime.reload(strict=True)
    outcome = await runtime.cycle(**kwargs)
    assert outcome is not None
    report, corrections = outcome
    declared = {s.key.kind: s for s in report.statuses if s.status is not Status.UNMANAGED}
    return declared, corrections


def writes(cloud: Emulator) -> list[str]:
    """The writes the emulator saw: "METHOD last-path-segment", plus the type of DRS updates."""
    seen = []
    for request in cloud.requests:
        if request.method not in ("PUT", "POST"):
            continue
        line = f"{request.method} {request.path.rsplit('/', 1)[-1]}"
        if request.path.startswith("/v5/"):
            line += f" {json.loads(request.body)['job']['type']}"
        seen.append(line)
    return seen


async def edit_job(http: httpx.AsyncClient, update_type: str, params: dict[str, Any]) -> None:
    """A typed update by hand, as a person with the console would make it."""
    body = {"job": {"type": update_type, "params": params}}
    answer = await http.put(f"/v5/{PROJECT}/jobs/{JOB}", json=body)
    assert answer.status_code == 200, answer.text


async def edit_composite(http: httpx.AsyncClient, **fields: Any) -> None:
    body = {
        "operation_types": ["INSERT", "UPDATE", "DELETE"],
        "repulling_snapshot": False,
        "description": SAMPLE_DESCRIPTION,
        "task_tag": "orders-cdc",
        **fields,
    }
    answer = await http.put(f"{FDI}/multi-tasks/{COMPOSITE}", json=body)
    assert answer.status_code == 200, answer.text


# --- DRS jobs ---------------------------------------------------------------------------------


async def test_drs_export_then_check_is_in_sync(runtime: Runtime, desired_dir: Path) -> None:
    """An exported job, masked passwords as secret placeholders, is in sync."""
    path = await export(runtime, desired_dir, DRS_JOB)
    assert path.parent.name == "drs-jobs"
    assert "secretRef" in path.read_text() and "******" not in path.read_text()
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    assert statuses[DRS_JOB].status is Status.IN_SYNC


async def test_drs_speed_and_policy_drift_is_fixed_by_exactly_two_typed_puts(
    runtime: Runtime, desired_dir: Path, cloud: Emulator, http: httpx.AsyncClient
) -> None:
    """Hand edits to speed_limit and policy_config: two PUTs, typed speed_limit then policy."""
    await export(runtime, desired_dir, DRS_JOB)
    await edit_job(
        http, "speed_limit", {"speed_limit": [{"begin": "01:00", "end": "06:59", "speed": "500"}]}
    )
    policy = dict(cloud.drs.get(PROJECT, JOB).job["policy_config"])  # type: ignore[union-attr]
    await edit_job(http, "policy", {"policy_config": {**policy, "conflict_policy": "ignore"}})
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    drifted = statuses[DRS_JOB]
    assert drifted.status is Status.DRIFTED
    assert [(c.pointer, c.live, c.desired) for c in drifted.changes] == [
        ("/policy_config/conflict_policy", "ignore", "overwrite"),
        ("/speed_limit/0/speed", "500", "50"),
    ]
    cloud.requests.clear()
    statuses, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.APPLIED
    assert writes(cloud) == [f"PUT {JOB} speed_limit", f"PUT {JOB} policy"]
    again, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    assert again[DRS_JOB].status is Status.IN_SYNC


async def test_drs_rename_is_one_put_of_type_name(
    runtime: Runtime, desired_dir: Path, cloud: Emulator, http: httpx.AsyncClient
) -> None:
    """A job renamed by hand (bound by id) is renamed back with one PUT of type name."""
    await export(runtime, desired_dir, DRS_JOB)
    await edit_job(http, "name", {"base_info": {"name": "orders-sync-tmp"}})
    cloud.requests.clear()
    _, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.APPLIED
    assert writes(cloud) == [f"PUT {JOB} name"]
    assert cloud.drs.get(PROJECT, JOB).job["base_info"]["name"] == "orders-sync-prod"  # type: ignore[union-attr]


async def test_drs_ignore_rule_missing_and_unknown(
    runtime: Runtime, desired_dir: Path, cloud: Emulator, http: httpx.AsyncClient
) -> None:
    """An ignored field never drifts; an absent job is missing; a failed read is unknown."""
    path = await export(runtime, desired_dir, DRS_JOB)
    path.write_text(path.read_text() + "ignore:\n  - /speed_limit/*/speed\n")
    await edit_job(
        http, "speed_limit", {"speed_limit": [{"begin": "01:00", "end": "06:59", "speed": "9"}]}
    )
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    assert statuses[DRS_JOB].status is Status.IN_SYNC
    cloud.faults.inject(method="GET", path=f".*/jobs/{JOB}", status=500, times=None)
    statuses, corrections = await cycle(runtime)
    assert statuses[DRS_JOB].status is Status.UNKNOWN and corrections == []
    cloud.faults.clear()
    path.write_text(path.read_text().replace(f"id: {JOB}", "id: no-such-job"))
    statuses, _ = await cycle(runtime)
    assert statuses[DRS_JOB].status is Status.MISSING


async def test_drs_dry_run_plans_typed_requests(
    runtime: Runtime, desired_dir: Path, cloud: Emulator, http: httpx.AsyncClient
) -> None:
    """Dry-run shows each typed PUT, passwords never, and sends nothing."""
    await export(runtime, desired_dir, DRS_JOB)
    await edit_job(http, "description", {"base_info": {"description": "temporary"}})
    cloud.requests.clear()
    _, (correction,) = await cycle(runtime, mode=ReconcileMode.DRY_RUN)
    assert correction.result is ReconcileResult.PLANNED
    (request,) = correction.requests
    assert request.line == f"PUT /v5/{PROJECT}/jobs/{JOB} (type description)"
    assert request.body == {
        "base_info": {"description": "Orders database to the reporting replica, production"}
    }
    assert writes(cloud) == []


async def test_drs_update_answered_200_with_an_error_is_a_failed_write(
    runtime: Runtime, desired_dir: Path, cloud: Emulator, http: httpx.AsyncClient
) -> None:
    """An update whose 200 says failed (UpdateJobResponse's error_code) fails with that code."""
    await export(runtime, desired_dir, DRS_JOB)
    await edit_job(http, "description", {"base_info": {"description": "temporary"}})
    failed = {
        "id": JOB,
        "name": "orders-sync-prod",
        "status": "failed",
        "error_code": "DRS.10030010",
        "error_msg": "The job is being modified, try again later.",
    }
    cloud.faults.inject(method="PUT", path=f"/jobs/{JOB}$", status=200, body=failed)
    _, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.FAILED
    assert "HTTP 200 DRS.10030010: The job is being modified" in correction.detail
    (outcome,) = audit_outcomes(runtime)
    assert outcome["result"] == "failed" and "DRS.10030010" in outcome["detail"]
    assert cloud.drs.get(PROJECT, JOB).job["base_info"]["description"] == "temporary"  # type: ignore[union-attr]


# --- composite tasks ---------------------------------------------------------------------------


async def test_composite_export_check_and_nested_drift(
    runtime: Runtime, desired_dir: Path, http: httpx.AsyncClient
) -> None:
    """Exported composite tasks are in sync; a changed operation type drifts at its pointer."""
    await export(runtime, desired_dir, FDI_COMPOSITE_TASK)
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    assert statuses[FDI_COMPOSITE_TASK].status is Status.IN_SYNC
    await edit_composite(http, operation_types=["INSERT", "UPDATE"])
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    drifted = statuses[FDI_COMPOSITE_TASK]
    assert [(c.pointer, c.op) for c in drifted.changes] == [
        ("/task/operation_types/2", ChangeOp.ABSENT)
    ]


async def test_composite_fix_is_a_modify_verified_by_a_clean_check(
    runtime: Runtime, desired_dir: Path, cloud: Emulator, http: httpx.AsyncClient
) -> None:
    """A changed description is put back with PUT multi-tasks/{id}; the next check is clean."""
    path = await export(runtime, desired_dir, FDI_COMPOSITE_TASK)
    path.write_text(path.read_text() + "ignore:\n  - /task/task_tag\n")
    await edit_composite(http, description="hand edit", task_tag="elsewhere")
    cloud.requests.clear()
    _, (planned,) = await cycle(runtime, mode=ReconcileMode.DRY_RUN)
    assert [r.line for r in planned.requests] == [f"PUT {FDI}/multi-tasks/{COMPOSITE}"]
    assert writes(cloud) == []
    _, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.APPLIED
    assert writes(cloud) == [f"PUT {COMPOSITE}"]
    task = cloud.store.composite(PROJECT, INSTANCE, COMPOSITE)
    assert task is not None and task.task["description"].startswith("Orders, items")
    assert task.task["task_tag"] == "elsewhere"  # ignored, so left as live has it
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    assert statuses[FDI_COMPOSITE_TASK].status is Status.IN_SYNC


def declared_new(desired: Path, *, allow_create: bool) -> None:
    policy = (
        "  allow_create: true\n  auto_mapping: true\n" if allow_create else "  auto_mapping: true\n"
    )
    (desired / "new.yaml").write_text(
        "apiVersion: fdi-drift/v1\nkind: FdiCompositeTask\n"
        f"metadata: {{name: payments-cdc, project_id: {PROJECT}, instance_id: {INSTANCE}}}\n"
        "spec:\n  task:\n    operation_types: [INSERT, UPDATE]\n    description: payments CDC\n"
        "    source_datasource_id: 8a0d5c3e71f24b9c9e6a2d4f0b1c3e57\n"
        "    target_datasource_id: 2f6b9e1d4a7c4d3b8e5f0a9c6d2b1e84\n"
        f"policy:\n{policy}"
    )


async def test_missing_composite_is_created_only_with_allow_create_and_auto(
    runtime: Runtime, desired_dir: Path, cloud: Emulator
) -> None:
    """Without allow_create it stays missing; dry-run plans; auto creates then initialises."""
    declared_new(desired_dir, allow_create=False)
    statuses, corrections = await cycle(runtime)
    assert statuses[FDI_COMPOSITE_TASK].status is Status.MISSING and corrections == []
    declared_new(desired_dir, allow_create=True)
    _, (planned,) = await cycle(runtime, mode=ReconcileMode.DRY_RUN)
    assert [r.line for r in planned.requests] == [
        f"POST {FDI}/multi-tasks",
        f"POST {FDI}/multi-tasks/init",
    ]
    assert writes(cloud) == []
    statuses, (created,) = await cycle(runtime)
    assert created.result is ReconcileResult.APPLIED
    new_id = created.status.live_id
    assert new_id and f"id: {new_id}" in created.detail
    assert writes(cloud) == ["POST multi-tasks", "POST init"]
    init = json.loads(next(r.body for r in cloud.requests if r.path.endswith("/init")))
    assert init["task_id"] == new_id and init["auto_mapping"] is True
    audit = [
        json.loads(line) for line in (desired_dir.parent / "audit.jsonl").read_text().splitlines()
    ]
    assert audit[-1]["created"] == new_id
    statuses, corrections = await cycle(runtime)
    assert statuses[FDI_COMPOSITE_TASK].status is Status.IN_SYNC and corrections == []
    assert (
        len(
            [
                t
                for t in cloud.store.composite_tasks(PROJECT, INSTANCE)
                if t.task_name == "payments-cdc"
            ]
        )
        == 1
    )


async def test_failed_init_after_create_is_finished_next_cycle_without_a_second_create(
    runtime: Runtime, desired_dir: Path, cloud: Emulator
) -> None:
    """Create succeeds, init fails: reported; the next cycle finds it by name and only inits."""
    declared_new(desired_dir, allow_create=True)
    cloud.faults.inject(method="POST", path=r".*/multi-tasks/init", status=500, times=None)
    _, (failed,) = await cycle(runtime)
    assert failed.result is ReconcileResult.FAILED
    created = failed.status.live_id
    assert f"created {created}" in failed.detail and "finds it by name" in failed.detail
    cloud.faults.clear()
    cloud.requests.clear()
    statuses, (finished,) = await cycle(runtime)
    assert finished.result is ReconcileResult.APPLIED
    assert writes(cloud) == ["POST init"]
    assert statuses[FDI_COMPOSITE_TASK].live_id == created
    names = [t.task_name for t in cloud.store.composite_tasks(PROJECT, INSTANCE)]
    assert names.count("payments-cdc") == 1


async def test_unwritable_composite_drift_is_blocked(
    runtime: Runtime, desired_dir: Path, cloud: Emulator
) -> None:
    """A differing application id has no update call: blocked as not_writable, nothing sent."""
    path = await export(runtime, desired_dir, FDI_COMPOSITE_TASK)
    path.write_text(path.read_text().replace("source_app_id: 7f245167", "source_app_id: 00000000"))
    cloud.requests.clear()
    statuses, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.BLOCKED
    assert statuses[FDI_COMPOSITE_TASK].block is not None
    assert statuses[FDI_COMPOSITE_TASK].block.value == "not_writable"
    assert writes(cloud) == []


async def test_composite_read_failure_is_unknown(
    runtime: Runtime, desired_dir: Path, cloud: Emulator
) -> None:
    """A failed read of the composite task makes it unknown and nothing is written."""
    await export(runtime, desired_dir, FDI_COMPOSITE_TASK)
    cloud.faults.inject(method="GET", path=f".*/tasks/{COMPOSITE}", status=502, times=None)
    statuses, corrections = await cycle(runtime)
    assert statuses[FDI_COMPOSITE_TASK].status is Status.UNKNOWN and corrections == []


def audit_outcomes(runtime: Runtime) -> list[dict[str, Any]]:
    lines = runtime.audit.path.read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "outcome"]


async def test_a_create_whose_answer_was_lost_is_found_by_name_not_sent_again(
    runtime: Runtime, desired_dir: Path, cloud: Emulator
) -> None:
    """The create was made but its answer lost: read back by name, initialised, one task."""
    declared_new(desired_dir, allow_create=True)
    cloud.faults.inject(method="POST", path=r".*/multi-tasks$", status=504, processed=True)
    _, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.APPLIED
    assert writes(cloud) == ["POST multi-tasks", "POST init"]
    (task,) = [
        t for t in cloud.store.composite_tasks(PROJECT, INSTANCE) if t.task_name == "payments-cdc"
    ]
    assert correction.status.live_id == task.task_id
    (outcome,) = audit_outcomes(runtime)
    assert outcome["result"] == "applied" and outcome["created"] == task.task_id
    assert "create (answer lost: POST" in outcome["detail"] and "it was made" in outcome["detail"]


async def test_a_lost_answer_to_a_create_that_was_not_made_fails_and_is_not_resent(
    runtime: Runtime, desired_dir: Path, cloud: Emulator
) -> None:
    """A 500 before the create took effect: one POST, nothing created, the audit says failed."""
    declared_new(desired_dir, allow_create=True)
    cloud.faults.inject(method="POST", path=r".*/multi-tasks$", status=500)
    _, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.FAILED
    assert writes(cloud) == ["POST multi-tasks"]
    assert "the read-back shows it was not made" in correction.detail
    assert not [
        t for t in cloud.store.composite_tasks(PROJECT, INSTANCE) if t.task_name == "payments-cdc"
    ]
    (outcome,) = audit_outcomes(runtime)
    assert outcome["result"] == "failed" and "created" not in outcome
