"""Tests for reconciling against the in-process emulator: each rail, and the write itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.audit import AuditLog
from fdi_drift.drift.model import (
    BlockReason,
    ReconcileMode,
    ReconcileResult,
    ResourceStatus,
    Status,
)
from fdi_drift.emulator.app import Emulator
from fdi_drift.emulator.store import TaskStatus
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.reconciler import Correction
from fdi_drift.service import Runtime
from tests.conftest import API_TASK, INSTANCE, MYSQL_TASK, PROJECT, put_task

RuntimeFactory = Callable[..., Runtime]
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def auto(**rails: Any) -> dict[str, Any]:
    """The `reconcile:` configuration for auto mode, with these rails changed."""
    return {"mode": "auto", **{k: list(v) if isinstance(v, tuple) else v for k, v in rails.items()}}


async def prepared(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, **overrides: Any
) -> Runtime:
    """A runtime whose desired state is the export, with the API task then edited by hand."""
    overrides.setdefault("audit_log", desired_dir.parent / "audit.jsonl")
    runtime = make_runtime(**overrides)
    scope = [(FDI_TASK, Scope(PROJECT, INSTANCE))]
    await export_resources(runtime.drivers, catalog.specs(), scope, desired_dir)
    await put_task(api, API_TASK, hand_edit)
    assert await runtime.reload() is not None
    return runtime


def hand_edit(document: dict[str, Any]) -> None:
    document["task"]["description"] = "hand edit"
    source = document["task_detail"]["sourceSelectedDatasource"]
    source["bodyRaw"] = '{"pageNum":"1","pageSize":"500"}'


async def run(
    runtime: Runtime, **kwargs: Any
) -> tuple[dict[str, ResourceStatus], list[Correction]]:
    outcome = await runtime.cycle(**kwargs)
    assert outcome is not None
    report, corrections = outcome
    return {s.live_id or s.key.id: s for s in report.statuses}, corrections


def writes(emulator: Emulator) -> list[str]:
    """The emulator's log of writes, as "METHOD task-id[/action]"."""
    found = []
    for request in emulator.requests:
        if request.method in ("PUT", "POST") and "/tasks/" in request.path:
            found.append(f"{request.method} {request.path.split('/tasks/', 1)[1]}")
    return found


def stored_detail(emulator: Emulator, task_id: str = API_TASK) -> str:
    task = emulator.store.get(PROJECT, INSTANCE, task_id)
    assert task is not None
    return task.task_detail


async def test_auto_reconcile_fixes_drift_and_keeps_everything_else_byte_for_byte(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """One PUT restores the declared fields; undeclared bytes of task_detail stay as they were."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    # Trim the desired file to the two fields the person changed, so everything else is undeclared.
    path = desired_dir / PROJECT / INSTANCE / "fdi_task_v2mysql-tomysql.yaml"
    text = path.read_text()
    path.write_text(
        text[: text.index("spec:")]
        + "spec:\n  task:\n    description: mysql\n  task_detail:\n"
        + "    sourceSelectedDatasource:\n      bodyRaw:\n        pageSize: '10'\n"
    )
    await runtime.reload()
    before = stored_detail(emulator)
    statuses, corrections = await run(runtime)
    (correction,) = corrections
    assert correction.result is ReconcileResult.APPLIED
    assert statuses[API_TASK].status is Status.IN_SYNC
    assert writes(emulator)[-1] == f"PUT {API_TASK}"
    expected = before.replace(
        '"bodyRaw":"{\\"pageNum\\":\\"1\\",\\"pageSize\\":\\"500\\"}"',
        '"bodyRaw":"{\\"pageNum\\":\\"1\\",\\"pageSize\\":\\"10\\"}"',
    )
    assert expected != before
    assert stored_detail(emulator) == expected
    task = emulator.store.get(PROJECT, INSTANCE, API_TASK)
    assert task is not None and task.task["description"] == "mysql"
    again, _ = await run(runtime)
    assert again[API_TASK].status is Status.IN_SYNC
    # The audit intent holds what undoing needs: the task_detail exactly as it was.
    intent = json.loads(runtime.audit.path.read_text().splitlines()[0])
    assert intent["live_before"]["task_detail"] == before
    assert intent["live_before"]["task"]["description"] == "hand edit"


async def test_observe_and_dry_run_send_nothing(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """observe does nothing; dry-run plans the exact PUT and sends nothing."""
    runtime = await prepared(make_runtime, desired_dir, api)
    sent = writes(emulator)
    statuses, corrections = await run(runtime)
    assert corrections == [] and statuses[API_TASK].status is Status.DRIFTED
    statuses, corrections = await run(runtime, mode=ReconcileMode.DRY_RUN)
    (correction,) = corrections
    assert correction.result is ReconcileResult.PLANNED
    (request,) = correction.requests
    assert request.line == f"PUT /v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks/{API_TASK}"
    assert isinstance(request.body, dict) and request.body["task"]["description"] == "mysql"
    assert json.loads(request.body["task_detail"])["sourceSelectedDatasource"]["bodyRaw"] == (
        '{"pageNum":"1","pageSize":"10"}'
    )
    assert writes(emulator) == sent
    assert statuses[API_TASK].status is Status.DRIFTED


async def test_a_resource_can_only_be_more_restrictive(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """policy.reconcile auto under a global dry-run only plans; observe under auto does nothing."""
    runtime = await prepared(make_runtime, desired_dir, api)
    path = desired_dir / PROJECT / INSTANCE / "fdi_task_v2mysql-tomysql.yaml"
    original = path.read_text()
    path.write_text(original + "policy:\n  reconcile: auto\n")
    await runtime.reload()
    sent = writes(emulator)
    _, corrections = await run(runtime, mode=ReconcileMode.DRY_RUN)
    assert [c.result for c in corrections] == [ReconcileResult.PLANNED]
    path.write_text(original + "policy:\n  reconcile: observe\n")
    await runtime.reload()
    _, corrections = await run(runtime, mode=ReconcileMode.AUTO)
    assert corrections == []
    assert writes(emulator) == sent


async def test_a_planned_correction_carries_what_a_plan_file_saves(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """Its requests, revision and live digest; with a dry-run policy, why it is not saved."""
    runtime = await prepared(make_runtime, desired_dir, api)
    statuses, (correction,) = await run(runtime, mode=ReconcileMode.DRY_RUN)
    saved = correction.saved
    assert saved is not None and correction.unsaved == ""
    assert runtime.tree is not None and saved.revision == runtime.tree.revision
    assert saved.status.fingerprint == statuses[API_TASK].fingerprint != ""
    assert [(w.line, w.body) for w in saved.writes] == [
        (r.line, r.body) for r in correction.requests
    ]
    assert saved.running is False
    path = desired_dir / PROJECT / INSTANCE / "fdi_task_v2mysql-tomysql.yaml"
    path.write_text(path.read_text() + "policy:\n  reconcile: dry-run\n")
    await runtime.reload()
    _, (held,) = await run(runtime, mode=ReconcileMode.DRY_RUN)
    assert held.result is ReconcileResult.PLANNED and held.saved is None
    assert held.unsaved == "its policy.reconcile is dry-run: --apply does not send it"


@pytest.mark.parametrize(
    ("rails", "reason"),
    [
        ({"suspended": True}, BlockReason.SUSPENDED),
        ({"max_writes_per_cycle": 0}, BlockReason.WRITE_LIMIT),
        ({"windows": ("* 1-5 * * *",)}, BlockReason.OUTSIDE_WINDOW),
    ],
)
async def test_rails_that_hold_without_reading(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    rails: dict[str, Any],
    reason: BlockReason,
) -> None:
    """Suspension, the write cap and windows block the write: status blocked, nothing sent."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto(**rails))
    runtime.reconciler._clock = Clock()
    sent = writes(emulator)
    statuses, (correction,) = await run(runtime)
    assert correction.result is ReconcileResult.BLOCKED
    assert statuses[API_TASK].status is Status.BLOCKED
    assert statuses[API_TASK].block is reason
    assert writes(emulator) == sent


async def test_inside_a_window_the_write_happens(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """A window (UTC cron) that names the current minute lets the write through."""
    runtime = await prepared(
        make_runtime, desired_dir, api, reconcile=auto(windows=("* 1-5 * * *", "30 12 * * 1"))
    )
    runtime.reconciler._clock = Clock(NOON + 30 * 60)  # Monday 12:30 UTC
    _, (correction,) = await run(runtime)
    assert correction.result is ReconcileResult.APPLIED


async def test_write_cap_counts_writes_across_resources(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """With a cap of one, the first drifted task is written and the second blocked."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto(max_writes_per_cycle=1))
    await put_task(
        api,
        MYSQL_TASK,
        lambda d: d["task_detail"]["targetSelectedDatasource"].update(targetTable="other.table"),
    )
    statuses, corrections = await run(runtime)
    assert sorted(c.result for c in corrections) == [
        ReconcileResult.APPLIED,
        ReconcileResult.BLOCKED,
    ]
    assert {s.block for s in statuses.values()} == {None, BlockReason.WRITE_LIMIT}


async def test_invalid_tree_blocks_every_write(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """When the tree on disk is invalid, the last good one is checked but nothing is written."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    (desired_dir / "broken.yaml").write_text("kind: [")
    assert await runtime.reload() is not None  # the last good tree stays in force
    sent = writes(emulator)
    statuses, _ = await run(runtime)
    assert statuses[API_TASK].block is BlockReason.DESIRED_STATE_INVALID
    assert writes(emulator) == sent


@pytest.mark.parametrize("fault_path", [".*/tasks", f".*/tasks/{API_TASK}"])
async def test_failed_reads_are_never_written(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    fault_path: str,
) -> None:
    """A failed list or read leaves the task unknown, and unknown is never reconciled."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    emulator.faults.inject(method="GET", path=fault_path, status=500, times=None)
    sent = writes(emulator)
    statuses, corrections = await run(runtime)
    assert statuses[API_TASK].status is Status.UNKNOWN
    assert corrections == []
    assert writes(emulator) == sent


async def test_live_changed_since_the_diff_is_not_written(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """If live changes between the diff and the write, nothing is sent (stale)."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    assert runtime.tree is not None
    report = await runtime.engine.run_cycle(runtime.tree)
    await put_task(api, API_TASK, lambda d: d["task"].update(description="edited again"))
    sent = writes(emulator)
    _, (correction,) = await runtime.reconciler.run(runtime.tree, report)
    assert correction.result is ReconcileResult.STALE
    assert writes(emulator) == sent


async def test_rejected_write_backs_off_then_retries(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A 400 on the PUT fails and is audited; the next cycle waits; after the backoff, a retry."""
    runtime = await prepared(
        make_runtime, desired_dir, api, reconcile=auto(backoff_base_seconds=60.0)
    )
    clock = Clock()
    runtime.reconciler._clock = clock
    rejection = {"error_code": "FDI.3033", "error_msg": "Invalid parameter [task.task_tag]."}
    emulator.faults.inject(method="PUT", path=f".*/tasks/{API_TASK}", status=400, body=rejection)
    _, (failed,) = await run(runtime)
    assert failed.result is ReconcileResult.FAILED and "FDI.3033" in failed.detail
    clock.now += 30
    statuses, (held,) = await run(runtime)
    assert (
        held.result is ReconcileResult.BLOCKED and statuses[API_TASK].block is BlockReason.BACKOFF
    )
    assert writes(emulator).count(f"PUT {API_TASK}") == 2  # the person's edit and the rejected one
    clock.now += 31
    _, (retried,) = await run(runtime)
    assert retried.result is ReconcileResult.APPLIED
    records = [json.loads(line) for line in runtime.audit.path.read_text().splitlines()]
    assert [r.get("result") for r in records if r["event"] == "outcome"] == ["failed", "applied"]


async def test_fighting_writer_shows_as_blocked_not_flapping(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """When another writer undoes the write, the same state is not written twice: blocked."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    emulator.store.fighting = True
    _, (first,) = await run(runtime)
    assert first.result is ReconcileResult.APPLIED
    statuses, (second,) = await run(runtime)  # the other writer undid it at this cycle's list
    assert second.result is ReconcileResult.BLOCKED
    assert statuses[API_TASK].block is BlockReason.FIGHTING
    assert writes(emulator).count(f"PUT {API_TASK}") == 2  # the person's and ours, once


async def test_running_task_is_blocked_unless_stop_update_start(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A running task is blocked by default; stop-update-start stops, writes and starts it."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    emulator.store.set_status(PROJECT, INSTANCE, API_TASK, TaskStatus.RUNNING)
    statuses, _ = await run(runtime)
    assert statuses[API_TASK].block is BlockReason.RUNNING
    path = desired_dir / PROJECT / INSTANCE / "fdi_task_v2mysql-tomysql.yaml"
    path.write_text(path.read_text() + "policy:\n  running: stop-update-start\n")
    await runtime.reload()
    emulator.requests.clear()
    _, (correction,) = await run(runtime)
    assert correction.result is ReconcileResult.APPLIED
    assert writes(emulator) == [
        f"POST {API_TASK}/terminate",
        f"PUT {API_TASK}",
        f"POST {API_TASK}/run",
    ]
    task = emulator.store.get(PROJECT, INSTANCE, API_TASK)
    assert task is not None and task.status is TaskStatus.RUNNING


async def test_write_that_does_not_stick_fails_verification(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A PUT answered 200 that changed nothing is caught by the read-back: verify_failed."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    emulator.faults.inject(method="PUT", path=f".*/tasks/{API_TASK}", status=200, body=None)
    statuses, (correction,) = await run(runtime)
    assert correction.result is ReconcileResult.VERIFY_FAILED
    assert statuses[API_TASK].status is Status.DRIFTED
    outcome = json.loads(runtime.audit.path.read_text().splitlines()[-1])
    assert outcome["result"] == "verify_failed" and outcome["verification"] == {"in_sync": False}


async def test_a_request_the_service_would_refuse_is_never_sent(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A body breaking seed 000's rules marks the resource invalid, naming the file and field."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    live = (await api.get(f"/tasks/{API_TASK}")).json()
    live["task"]["task_tag"] = "x"  # live breaks the rule; desired leaves task_tag to live
    path = desired_dir / PROJECT / INSTANCE / "fdi_task_v2mysql-tomysql.yaml"
    path.write_text(path.read_text().replace("    task_tag: fdi_autotest\n", ""))
    await runtime.reload()
    emulator.faults.inject(
        method="GET", path=f".*/tasks/{API_TASK}", status=200, body=live, times=None
    )
    sent = writes(emulator)
    statuses, (correction,) = await run(runtime)
    assert correction.result is ReconcileResult.INVALID
    assert statuses[API_TASK].status is Status.INVALID
    assert "fdi_task_v2mysql-tomysql.yaml" in statuses[API_TASK].reason
    assert "task.task_tag" in statuses[API_TASK].reason
    assert writes(emulator) == sent


async def test_secret_refs_are_resolved_for_the_write_and_redacted_everywhere_else(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """The PUT carries the secret's value; the plan and the audit log show <redacted>."""
    (tmp_path / "secrets" / "kafka").mkdir(parents=True)
    (tmp_path / "secrets" / "kafka" / "password").write_text("hunter2-kafka\n")
    runtime = await prepared(
        make_runtime, desired_dir, api, reconcile=auto(), secrets_dir=tmp_path / "secrets"
    )
    path = desired_dir / PROJECT / INSTANCE / "fdi_task_v2mysql-tomysql.yaml"
    path.write_text(
        path.read_text().replace(
            "    afterImplementation:\n",
            "    afterImplementation:\n      password: {secretRef: kafka/password}\n",
        )
    )
    await runtime.reload()
    _, (correction,) = await run(runtime)
    assert correction.result is ReconcileResult.APPLIED
    sent = json.loads(stored_detail(emulator))
    assert sent["afterImplementation"]["password"] == "hunter2-kafka"
    assert "hunter2" not in json.dumps([r.body for r in correction.requests])
    assert "hunter2" not in runtime.audit.path.read_text()
    assert "<redacted>" in runtime.audit.path.read_text()


async def test_missing_secret_blocks_the_write(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A secretRef that resolves nowhere is blocked with the reference named, nothing sent."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto())
    path = desired_dir / PROJECT / INSTANCE / "fdi_task_v2mysql-tomysql.yaml"
    path.write_text(
        path.read_text().replace(
            "    afterImplementation:\n",
            "    afterImplementation:\n      password: {secretRef: kafka/password}\n",
        )
    )
    await runtime.reload()
    sent = writes(emulator)
    statuses, _ = await run(runtime)
    assert statuses[API_TASK].block is BlockReason.SECRET_UNAVAILABLE
    assert "FDI_DRIFT_SECRET_KAFKA_PASSWORD" in statuses[API_TASK].reason
    assert writes(emulator) == sent


async def test_intent_without_outcome_is_reported_at_start(
    make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """An intent whose outcome was never written (a crash mid-write) is found and counted."""
    runtime = make_runtime(audit_log=desired_dir.parent / "audit.jsonl")
    log = AuditLog(runtime.audit.path)
    done = log.intent(resource={"name": "a"}, revision="r1", live_before={}, requests=[])
    log.outcome(done, result="applied")
    crashed = log.intent(resource={"name": "b"}, revision="r1", live_before={}, requests=[])
    with runtime.audit.path.open("a") as file:
        file.write('{"event": "outcome", "id": "torn')  # a crash mid-append
    assert [i["id"] for i in runtime.unfinished_writes()] == [crashed]
    registry = runtime.metrics.registry
    assert registry.get_sample_value("fdi_drift_audit_unfinished_writes") == 1


async def test_reconcile_metrics_count_results_and_blocked_reasons(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """reconcile_total counts each result; a blocked resource carries its reason label."""
    runtime = await prepared(make_runtime, desired_dir, api, reconcile=auto(suspended=True))
    await run(runtime)
    value = runtime.metrics.registry.get_sample_value
    assert value("fdi_drift_reconcile_total", {"kind": "FdiTask", "result": "blocked"}) == 1
    labels = {
        "kind": "FdiTask",
        "region": "cn-north-4",  # the single target's, by default
        "account": "",
        "project_id": PROJECT,
        "instance_id": INSTANCE,
        "resource": API_TASK,
        "name": "fdi_task_v2mysql-tomysql",
        "shard": "0",
    }
    assert value("fdi_drift_resource_blocked", {**labels, "reason": "suspended"}) == 1
    assert value("fdi_drift_resource_drifted", labels) == 1
