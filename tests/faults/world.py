"""The world a fault is injected into, and what must hold in it whatever the fault.

Two common tasks on an emulator served over a real loopback socket in the test's own event
loop: the *target* (seed 000), which rows break, and the *bystander* (seed 002), which must keep
being judged. The bystander's live document holds a secret under a key that does not look
secret, declared in its desired file as a `secretRef`: no output may ever show it. The runtime
reconciles in auto mode, so a drift the row causes is also written (or refused) for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.cloud.transports import in_process
from fdi_drift.drift.model import CycleReport, ResourceStatus, Status
from fdi_drift.drift.report import render_text, report_to_json
from fdi_drift.emulator.app import Emulator, EmulatorConfig, KeyPair, serve
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.plan import plan_to_json, render_plan
from fdi_drift.reconciler import Correction
from fdi_drift.server import create_app
from fdi_drift.service import Runtime
from tests.conftest import (
    API_TASK,
    INSTANCE,
    MYSQL_TASK,
    PROJECT,
    TOKEN,
    seed_000_as_get,
    seed_002,
    settings_for,
)
from tests.processes import CLI, free_port

TARGET, BYSTANDER = API_TASK, MYSQL_TASK
SECRET = "S3CR3T-matrix-7c1f"
KEY = KeyPair(access_key="MATRIXAK0001", secret_key="matrix-secret-key-0001")
TASKS_PATH = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks"
NAMES = {TARGET: "fdi_task_v2mysql-tomysql", BYSTANDER: "fdi_task_pzy4m5"}


@dataclass
class World:
    """One fault's world: emulator, socket URL, desired state, runtime, and what it all said."""

    emulator: Emulator
    url: str
    desired: Path
    runtime: Runtime
    caplog: pytest.LogCaptureFixture
    options: dict[str, Any] = field(default_factory=dict)  # configuration keys, as in a file
    environ: dict[str, str] = field(default_factory=dict)
    reports: list[CycleReport] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    bystander_detail: str = ""

    def build(
        self, *, socket: bool = True, environ: dict[str, str] | None = None, **changes: Any
    ) -> Runtime:
        """A runtime configured like the world's own with some keys changed; it becomes the world's.

        `environ` adds variables. Without `socket` it talks to the emulator in process (the soak:
        its subject is the daemon's memory and cycles over many tasks, not the socket).
        """
        self.options = {**self.options, **changes}
        self.environ = {**self.environ, **(environ or {})}
        settings = settings_for(self.desired, self.url, environ=self.environ, **self.options)
        transport = None if socket else in_process(self.emulator)
        metrics = DaemonMetrics(CollectorRegistry(), version="t")
        self.runtime = Runtime(settings, transport=transport, metrics=metrics)
        return self.runtime

    async def cycle(self) -> CycleReport:
        """One reload and one cycle (auto mode): the report, also kept for the invariants."""
        await self.runtime.reload()
        outcome = await self.runtime.cycle()
        assert outcome is not None, "no valid desired state was ever loaded"
        report, corrections = outcome
        self.reports.append(report)
        self.corrections.extend(corrections)
        return report

    def status(self, report: CycleReport, task_id: str = TARGET) -> ResourceStatus:
        """The declared resource's status, found by name (a row may change the live id)."""
        name = NAMES[task_id]
        (found,) = [
            s for s in report.statuses if s.key.name == name and s.status is not Status.UNMANAGED
        ]
        return found

    def stored(self, task_id: str = TARGET) -> str:
        task = self.emulator.store.get(PROJECT, INSTANCE, task_id)
        assert task is not None
        return task.task_detail

    def sent(self, method: str, task_id: str = TARGET) -> int:
        """How many `method` requests for the task reached the emulator."""
        return sum(1 for r in self.emulator.requests if r.method == method and task_id in r.path)

    def inject(self, **fault: Any) -> None:
        self.emulator.faults.inject(**fault)

    def desired_file(self, task_id: str = TARGET) -> Path:
        return next(self.desired.rglob(f"{NAMES[task_id]}.yaml"))

    @contextlib.asynccontextmanager
    async def daemon(self) -> AsyncIterator[Daemon]:
        """`fdi-drift run` as a process on this world (auto mode, 1 s cycles); killed after."""
        home = self.desired.parent
        (home / "token").write_text(TOKEN)
        port = free_port()
        settings = self.runtime.settings
        config = home / "daemon.yaml"
        config.write_text(
            f"desired_state: {self.desired}\n"
            f"endpoints: {{fdi: '{self.url}', drs: '{self.url}', iam: '{self.url}'}}\n"
            f"auth: {{token_file: {home / 'token'}}}\n"
            "interval_seconds: 1\njitter_seconds: 0\nreload_seconds: 1\n"
            "retry_attempts: 2\nretry_base_delay_seconds: 0.01\nrequest_timeout_seconds: 10\n"
            f"listen: 127.0.0.1:{port}\naudit_log: {settings.audit_log}\n"
            "reconcile: {mode: auto}\n"
        )
        log = home / "daemon.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                *CLI,
                "run",
                "-c",
                str(config),
                stdout=output,
                stderr=output,
                env={**os.environ, "FDI_DRIFT_SECRET_DB_CONN": SECRET},
            )
        daemon = Daemon(process, f"http://127.0.0.1:{port}", log)
        try:
            yield daemon
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    async def outputs(self) -> str:
        """Everything a person or a program can see: reports, plans, API, page, metrics, logs."""
        texts: list[str] = []
        for report in self.reports:
            texts.append(render_text(report, show_in_sync=True))
            texts.append(json.dumps(report_to_json(report), default=str))
        texts.append(render_plan(self.corrections, applying=True, full=True))
        texts.append(json.dumps(plan_to_json(self.corrections), default=str))
        app = create_app(self.runtime.state, self.runtime.metrics)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://daemon") as daemon:
            for path in ("/", "/api/v1/status", "/metrics", "/readyz"):
                texts.append((await daemon.get(path)).text)
        audit = self.runtime.settings.audit_log
        if audit.exists() and audit.is_file():
            texts.append(audit.read_text(errors="replace"))
        texts.extend(json.dumps(vars(r), default=str) for r in self.caplog.records)
        daemon_log = self.desired.parent / "daemon.log"
        if daemon_log.exists():
            texts.append(daemon_log.read_text(errors="replace"))
        return "\n".join(texts)


@dataclass
class Daemon:
    """A daemon process of the world."""

    process: asyncio.subprocess.Process
    url: str
    log_path: Path

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def wait(self) -> int:
        return await self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass(frozen=True)
class Expect:
    """What the invariants expect of the bystander and the audit log after a row."""

    bystander: tuple[Status, ...] = (Status.IN_SYNC,)
    unfinished: int = 0  # audit intents without an outcome
    bystander_written: bool = False  # the row itself changes the bystander


async def assert_invariants(world: World, expect: Expect) -> None:
    """What holds whatever the fault: no secret shown, bystander judged, nothing lost."""
    assert world.reports, "the row ran no cycle"
    shown = await world.outputs()
    assert SECRET not in shown, "the declared secret reached an output"
    last = world.reports[-1]
    bystander = world.status(last, BYSTANDER)
    assert bystander.status in expect.bystander, (bystander.status, bystander.reason)
    audit = world.runtime.settings.audit_log
    if audit.exists() and audit.is_file():
        scan = world.runtime.audit.scan()
        assert len(scan.unfinished) == expect.unfinished, scan.unfinished
    if not expect.bystander_written:
        assert world.stored(BYSTANDER) == world.bystander_detail, "the bystander was rewritten"


def _with_secret(body: dict[str, Any]) -> dict[str, Any]:
    detail = json.loads(body["task_detail"])
    detail["sourceSelectedDatasource"]["connectString"] = SECRET
    return {**body, "task_detail": json.dumps(detail, separators=(",", ":"))}


@dataclass
class Served:
    """An emulator on a loopback socket in this loop; stopping it ends the server."""

    emulator: Emulator
    url: str
    stop: asyncio.Event
    task: asyncio.Task[None]


async def serve_emulator(emulator: Emulator) -> Served:
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(emulator, "127.0.0.1", 0, listening.set_result, stop=stop))
    url = await asyncio.wait_for(listening, 30)
    return Served(emulator, url, stop, task)


async def make_world(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    config: EmulatorConfig | None = None,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[World]:
    """The world, torn down after the row (server stopped, clients closed)."""
    caplog.set_level(logging.DEBUG)
    config = config or EmulatorConfig(tokens=frozenset({TOKEN}), key_pairs=(KEY,))
    emulator = Emulator(config) if clock is None else Emulator(config, clock=clock)
    emulator.store.add_task(PROJECT, INSTANCE, seed_000_as_get())
    emulator.store.add_task(PROJECT, INSTANCE, _with_secret(seed_002()))
    desired = tmp_path / "desired"
    desired.mkdir()
    exporting = Runtime(settings_for(desired), transport=in_process(emulator))
    await export_resources(
        exporting.drivers, catalog.specs(), [(FDI_TASK, Scope(PROJECT, INSTANCE))], desired
    )
    await exporting.aclose()
    served = await serve_emulator(emulator)
    options = {
        "reconcile": {"mode": "auto", "backoff_base_seconds": 0.0},
        "audit_log": tmp_path / "audit.jsonl",
    }
    environ = {"FDI_DRIFT_TOKEN": TOKEN, "FDI_DRIFT_SECRET_DB_CONN": SECRET}
    settings = settings_for(desired, served.url, environ=environ, **options)
    runtime = Runtime(settings, metrics=DaemonMetrics(CollectorRegistry(), version="t"))
    world = World(emulator, served.url, desired, runtime, caplog, options, environ)
    path = world.desired_file(BYSTANDER)
    path.write_text(path.read_text().replace(SECRET, "{secretRef: db/conn}"))
    world.bystander_detail = world.stored(BYSTANDER)
    emulator.requests.clear()
    try:
        yield world
    finally:
        await world.runtime.aclose()
        # Cancelled, not stopped gracefully: a row may leave a request the server would wait for.
        served.task.cancel()
        await asyncio.gather(served.task, return_exceptions=True)


RowFunction = Callable[[World], Awaitable[Expect | None]]
