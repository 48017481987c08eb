"""One resource never stops the others: whatever it raises, and however slowly it answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.drift.model import (
    CycleReport,
    FieldChange,
    ReconcileResult,
    ResourceStatus,
    Status,
    UnknownReason,
)
from fdi_drift.emulator.app import Emulator
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import KindDriver, LiveDocument, LiveEntry, Scope, Write
from fdi_drift.kinds.drs_job import KIND as DRS_JOB
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.kinds.fdi_task import FdiTaskSpec
from fdi_drift.service import Runtime
from tests.conftest import (
    API_TASK,
    INSTANCE,
    MYSQL_TASK,
    PROJECT,
    export_instance,
    put_task,
    seed_002,
)

RuntimeFactory = Callable[..., Runtime]
# A message a careless exception could carry: it must never reach a status, a log or a report.
LEAKY = "hunter2-secret-in-an-exception-message"


class Boom(Exception):
    """Stands for a bug, or a library choking on a hostile document."""


def boom(*args: object, **kwargs: object) -> Any:
    raise Boom(LEAKY)


async def check(runtime: Runtime) -> CycleReport:
    assert await runtime.reload() is not None
    report = await runtime.check()
    assert report is not None
    return report


def by_id(report: CycleReport, task_id: str) -> ResourceStatus:
    (found,) = [s for s in report.statuses if s.live_id == task_id]
    return found


def status_of(report: CycleReport, task_id: str) -> tuple[Status, str]:
    found = by_id(report, task_id)
    return found.status, found.reason


class Faulty:
    """A driver that delegates to the real one, but raises at one stage for one task."""

    def __init__(self, real: KindDriver, stage: str, task_id: str) -> None:
        self.kind = real.kind
        self._real = real
        self._stage = stage
        self._task_id = task_id

    async def scopes(self, project_id: str) -> list[Scope]:
        return await self._real.scopes(project_id)

    async def list(self, scope: Scope) -> list[LiveEntry]:
        if self._stage == "list":
            boom()
        return await self._real.list(scope)

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        if self._stage == "read" and live_id == self._task_id:
            boom()
        live = await self._real.read(scope, live_id)
        if self._stage == "decode" and live_id == self._task_id:
            return LiveDocument(live.digest, boom)
        return live

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        return self._real.request_line(scope, live_id, write)

    async def send(self, scope: Scope, live_id: str, write: Write) -> str | None:
        return await self._real.send(scope, live_id, write)


@pytest.mark.parametrize("stage", ["read", "decode", "normalize", "compare", "diff"])
async def test_an_exception_at_any_stage_makes_only_that_resource_unknown(
    stage: str,
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The failing task is unknown with the stage and exception type; the other is judged."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)

    def edit(document: dict[str, Any]) -> None:
        document["task"]["description"] = "hand edit"

    await put_task(api, API_TASK, edit)  # so that both compare and diff run for it
    runtime.drivers[FDI_TASK] = Faulty(runtime.drivers[FDI_TASK], stage, API_TASK)
    if stage == "normalize":
        real = FdiTaskSpec.normalize_live

        def normalize(self: FdiTaskSpec, document: Any) -> Any:
            if document["task"]["task_id"] == API_TASK:
                boom()
            return real(self, document)

        monkeypatch.setattr(FdiTaskSpec, "normalize_live", normalize)
    elif stage == "compare":
        import fdi_drift.engine

        real_match = fdi_drift.engine.match
        monkeypatch.setattr(
            fdi_drift.engine,
            "match",
            lambda desired, live: (
                boom() if live["task"]["task_id"] == API_TASK else real_match(desired, live)
            ),
        )
    elif stage == "diff":

        async def offload(function: Callable[..., Any], argument: Any) -> tuple[FieldChange, ...]:
            boom()

        runtime.engine._offload = offload
    caplog.set_level(logging.DEBUG)
    report = await check(runtime)
    status, reason = status_of(report, API_TASK)
    assert status is Status.UNKNOWN
    assert by_id(report, API_TASK).cause is {
        "read": UnknownReason.READ_FAILED,
        "decode": UnknownReason.DECODE_FAILED,
    }.get(stage, UnknownReason.COMPARE_FAILED)
    expected_stage = {"read": "read failed", "decode": "decoding failed"}.get(stage, "")
    assert reason.startswith(
        expected_stage
        or {"normalize": "comparing", "compare": "comparing", "diff": "diffing"}[stage]
    )
    assert "internal error Boom at test_isolation.py:" in reason
    assert status_of(report, MYSQL_TASK) == (Status.IN_SYNC, "")
    shown = reason + "".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert LEAKY not in shown


async def test_a_listing_that_raises_makes_only_its_scope_unknown(
    make_runtime: RuntimeFactory, desired_dir: Path, emulator: Emulator
) -> None:
    """An exception while listing FDI tasks leaves the DRS jobs of the same tree judged."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    emulator.drs.add_job(PROJECT, _job())
    await export_resources(
        runtime.drivers, catalog.specs(), [(DRS_JOB, Scope(PROJECT))], desired_dir
    )
    runtime.drivers[FDI_TASK] = Faulty(runtime.drivers[FDI_TASK], "list", "")
    report = await check(runtime)
    fdi = [s for s in report.statuses if s.key.kind == FDI_TASK]
    drs = [s for s in report.statuses if s.key.kind == DRS_JOB]
    assert {s.status for s in fdi} == {Status.UNKNOWN}
    assert {s.cause for s in fdi} == {UnknownReason.LIST_FAILED}
    assert all("internal error Boom" in s.reason and LEAKY not in s.reason for s in fdi)
    assert [s.status for s in drs] == [Status.IN_SYNC]
    assert not report.complete


def _job() -> dict[str, Any]:
    from tests.emulator.conftest import job_body

    return job_body()


async def test_a_planning_exception_makes_only_that_resource_invalid(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An exception in a kind's plan is contained: invalid with the reason, nothing sent."""
    runtime = make_runtime(reconcile={"mode": "auto"}, audit_log=desired_dir.parent / "a")
    await export_instance(runtime, desired_dir)

    def edit(document: dict[str, Any]) -> None:
        document["task"]["description"] = "hand edit"

    def edit_detail(document: dict[str, Any]) -> None:
        document["task_detail"]["description"] = "hand edit"

    await put_task(api, API_TASK, edit)
    await put_task(api, MYSQL_TASK, edit_detail)
    real = FdiTaskSpec.plan

    def plan(self: FdiTaskSpec, desired: Any, live: Any, *args: Any) -> Any:
        if live.value["task"]["task_id"] == API_TASK:
            boom()
        return real(self, desired, live, *args)

    monkeypatch.setattr(FdiTaskSpec, "plan", plan)
    assert await runtime.reload() is not None
    outcome = await runtime.cycle()
    assert outcome is not None
    report, corrections = outcome
    results = {c.status.live_id: c.result for c in corrections}
    assert results == {API_TASK: ReconcileResult.INVALID, MYSQL_TASK: ReconcileResult.APPLIED}
    status, reason = status_of(report, API_TASK)
    assert status is Status.INVALID
    assert "could not plan a correction: internal error Boom" in reason
    assert LEAKY not in reason
    puts = [r.path for r in emulator.requests if r.method == "PUT"]
    assert [p.rsplit("/", 1)[1] for p in puts if "/tasks/" in p][-1] == MYSQL_TASK
    assert not any(p.endswith(API_TASK) for p in puts[2:])  # the two hand edits came first


async def test_a_task_nested_hundreds_of_levels_deep_is_unknown_not_a_crash(
    make_runtime: RuntimeFactory, desired_dir: Path, emulator: Emulator
) -> None:
    """A task_detail 300 levels deep (orjson accepts it) is unknown; the cycle completes."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    body = seed_002()
    deep: Any = {"leaf": 1}
    for _ in range(300):
        deep = {"k": deep}
    body["task_detail"] = json.dumps({"sourceSelectedDatasource": deep})
    emulator.store.add_task(PROJECT, INSTANCE, body)  # same id as MYSQL_TASK: replaced
    report = await check(runtime)
    status, reason = status_of(report, MYSQL_TASK)
    assert status is Status.UNKNOWN
    assert "nested deeper than 100 levels" in reason
    assert by_id(report, MYSQL_TASK).cause is UnknownReason.DECODE_FAILED
    assert status_of(report, API_TASK) == (Status.IN_SYNC, "")
    assert report.complete


async def test_a_read_that_never_answers_is_cut_at_the_cycle_deadline(
    make_runtime: RuntimeFactory, desired_dir: Path, emulator: Emulator
) -> None:
    """A hanging read is cancelled at the deadline: unknown, the rest judged, not complete."""
    runtime = make_runtime(cycle_timeout_seconds=0.5, request_timeout_seconds=60.0)
    await export_instance(runtime, desired_dir)
    emulator.faults.inject(
        path=f"/tasks/{API_TASK}$", method="GET", status=None, delay_ms=600_000, times=None
    )
    for _ in range(2):  # and the next cycle is not held up by the last one
        report = await check(runtime)
        status, reason = status_of(report, API_TASK)
        assert status is Status.UNKNOWN
        assert reason == "reading it did not finish within the cycle's deadline (0.5s)"
        assert by_id(report, API_TASK).cause is UnknownReason.DEADLINE
        assert status_of(report, MYSQL_TASK) == (Status.IN_SYNC, "")
        assert not report.complete


async def test_the_daemon_keeps_cycling_while_a_read_hangs(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With one read hanging for ever, cycles still end at their deadline and the next ones run."""
    import asyncio

    from fdi_drift.service import run_daemon
    from tests.processes import free_port

    runtime = make_runtime(
        interval_seconds=1.0,
        jitter_seconds=0.0,
        cycle_timeout_seconds=1.5,
        request_timeout_seconds=600.0,
        listen=f"127.0.0.1:{free_port()}",
    )
    await export_instance(runtime, desired_dir)
    emulator.faults.inject(
        path=f"/tasks/{API_TASK}$", method="GET", status=None, delay_ms=600_000, times=None
    )
    stop = asyncio.Event()
    three_cycles = asyncio.Event()
    observe = runtime.metrics.observe_cycle
    reports: list[CycleReport] = []

    def counting(report: CycleReport) -> None:
        observe(report)
        reports.append(report)
        if len(reports) >= 3:
            three_cycles.set()

    monkeypatch.setattr(runtime.metrics, "observe_cycle", counting)
    daemon = asyncio.create_task(run_daemon(runtime, stop=stop))
    try:
        # A guard, not a measurement: without the deadline no cycle would ever end.
        await asyncio.wait_for(three_cycles.wait(), 60)
    finally:
        stop.set()
        await daemon
    report = runtime.state.report
    assert report is not None
    assert status_of(report, API_TASK)[0] is Status.UNKNOWN
    assert status_of(report, MYSQL_TASK) == (Status.IN_SYNC, "")


async def test_a_bug_while_sending_is_a_failed_write_recorded_as_such(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """An exception in a driver's send is a failed write, audited, never 'written'."""
    runtime = make_runtime(reconcile={"mode": "auto"})
    await export_instance(runtime, desired_dir)

    def edit(document: dict[str, Any]) -> None:
        document["task"]["description"] = "hand edit"

    await put_task(api, API_TASK, edit)
    faulty = Faulty(runtime.drivers[FDI_TASK], "send", API_TASK)
    faulty.send = boom  # type: ignore[method-assign]
    runtime.drivers[FDI_TASK] = faulty
    assert await runtime.reload() is not None
    outcome = await runtime.cycle()
    assert outcome is not None
    (correction,) = outcome[1]
    assert correction.result is ReconcileResult.FAILED
    assert correction.detail.startswith(
        "write failed: update could not be sent: internal error Boom"
    )
    records = [json.loads(line) for line in runtime.audit.path.read_text().splitlines()]
    assert [r["event"] for r in records] == ["intent", "outcome"]
    assert records[1]["result"] == "failed" and LEAKY not in json.dumps(records)
