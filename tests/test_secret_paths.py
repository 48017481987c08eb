"""End to end: a field declared as a secret reference never shows, whatever its key is called.

A desired file may declare any field as `{secretRef: NAME/KEY}`. After a write, live holds the
resolved value there in clear, under a key that does not look secret; every output (audit log,
logs, report, plan, plan file, status API and page, metrics) must still hide it, by its path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.drift.model import CycleReport, ReconcileMode, ReconcileResult, Status
from fdi_drift.drift.report import render_text, report_to_json
from fdi_drift.emulator.app import Emulator
from fdi_drift.plan import plan_to_json, render_plan
from fdi_drift.plan_file import plan_of, write_plan
from fdi_drift.reconciler import Correction
from fdi_drift.server import create_app
from fdi_drift.service import Runtime
from fdi_drift.status_views import resource_path
from tests.conftest import API_TASK, INSTANCE, PROJECT, TOKEN, put_task

RuntimeFactory = Callable[..., Runtime]

SECRET = "S3CR3T-VALUE-9f2"  # declared at sourceSelectedDatasource.connectString
NESTED_SECRET = "S3CR3T-NESTED-7c1"  # declared inside bodyRaw, a JSON string in live
HAND_SET = "HAND-SET-SECRET-1"  # what a person writes over a secret field
DESIRED = f"""\
apiVersion: fdi-drift/v1
kind: FdiTask
metadata:
  name: fdi_task_v2mysql-tomysql
  project_id: {PROJECT}
  instance_id: {INSTANCE}
  id: {API_TASK}
spec:
  task:
    description: declared description
  task_detail:
    sourceSelectedDatasource:
      connectString: {{secretRef: db/conn}}
      bodyRaw:
        apiKey: {{secretRef: api/key}}
"""


class Outputs:
    """Every text the daemon and the command line show to people or keep on disk."""

    def __init__(self, runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
        self._runtime = runtime
        self._caplog = caplog
        self._texts: list[str] = []

    async def check(self) -> CycleReport:
        """A check (nothing reconciled); its report is collected as text and JSON."""
        report = await self._runtime.check()
        assert report is not None
        self._report(report)
        await self._served()
        return report

    async def cycle(self, mode: ReconcileMode | None = None) -> list[Correction]:
        """A cycle; the report and the plan are collected as text and JSON, and as a plan file."""
        outcome = await self._runtime.cycle(mode=mode)
        assert outcome is not None
        report, corrections = outcome
        self._report(report)
        for applying in (False, True):
            self._texts.append(render_plan(corrections, applying=applying, full=True))
        self._texts.append(json.dumps(plan_to_json(corrections)))
        plan_file = self._runtime.audit.path.with_name("plan.json")
        write_plan(plan_file, plan_of(corrections, version="test", targets=(), now=0.0))
        self._texts.append(plan_file.read_bytes().decode("latin-1"))
        await self._served()
        return corrections

    def everything(self) -> str:
        """All collected texts, the audit log and every log record with its extra fields."""
        records = [
            record.getMessage() + json.dumps(record.__dict__, default=repr)
            for record in self._caplog.records
        ]
        audit = self._runtime.audit.path.read_text(encoding="utf-8")
        history = self._runtime.history
        assert history is not None
        # The store's files as bytes, write-ahead log included, besides what it answers.
        stored = [
            path.read_bytes().decode("latin-1")
            for path in history.path.parent.glob(history.path.name + "*")
        ]
        episodes = json.dumps([episode.to_json() for episode in history.episodes()])
        return "\n".join([*self._texts, audit, *records, *stored, episodes])

    def _report(self, report: CycleReport) -> None:
        self._texts.append(render_text(report, show_in_sync=True))
        self._texts.append(json.dumps(report_to_json(report)))

    async def _served(self) -> None:
        app = create_app(self._runtime.state, self._runtime.metrics)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://daemon") as http:
            report = self._runtime.state.report
            resources = (
                [f"/resources/{resource_path(s.key)}" for s in report.statuses] if report else []
            )
            pages = ("/api/v1/status", "/", "/metrics", "/history", "/api/v1/history")
            for path in (*pages, *resources, *(f"/api/v1{r}" for r in resources)):
                answer = await http.get(path)
                assert answer.status_code == 200, path
                self._texts.append(answer.text)


def stored_source(emulator: Emulator) -> dict[str, Any]:
    """The emulator's sourceSelectedDatasource of the API task, decoded."""
    task = emulator.store.get(PROJECT, INSTANCE, API_TASK)
    assert task is not None
    source: dict[str, Any] = json.loads(task.task_detail)["sourceSelectedDatasource"]
    return source


def intents(runtime: Runtime) -> list[dict[str, Any]]:
    """The intent records of the audit log, oldest first."""
    lines = runtime.audit.path.read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r.get("event") == "intent"]


def source_before(intent: dict[str, Any]) -> dict[str, Any]:
    """sourceSelectedDatasource of an intent's live_before."""
    source: dict[str, Any] = json.loads(intent["live_before"]["task_detail"])[
        "sourceSelectedDatasource"
    ]
    return source


@pytest.fixture
async def written(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> tuple[Runtime, Outputs]:
    """A runtime in auto mode that has written both secrets into the API task once."""
    caplog.set_level(logging.DEBUG)
    runtime = make_runtime(
        reconcile={"mode": "auto"},
        audit_log=desired_dir.parent / "audit.jsonl",
        history_db=desired_dir.parent / "history.db",
        environ={
            "FDI_DRIFT_TOKEN": TOKEN,
            "FDI_DRIFT_SECRET_DB_CONN": SECRET,
            "FDI_DRIFT_SECRET_API_KEY": NESTED_SECRET,
        },
    )
    (desired_dir / "api-task.yaml").write_text(DESIRED, encoding="utf-8")
    assert await runtime.reload() is not None
    outputs = Outputs(runtime, caplog)
    (correction,) = await outputs.cycle()
    assert correction.result is ReconcileResult.APPLIED
    source = stored_source(emulator)
    assert source["connectString"] == SECRET
    assert json.loads(source["bodyRaw"])["apiKey"] == NESTED_SECRET
    return runtime, outputs


async def test_a_written_secret_shows_in_no_output_when_other_drift_is_fixed(
    written: tuple[Runtime, Outputs], api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """Live holds the secrets in clear; fixing a hand-edited description shows them nowhere."""
    runtime, outputs = written
    await put_task(api, API_TASK, lambda d: d["task"].update(description="hand edit"))
    report = await outputs.check()
    (status,) = [s for s in report.statuses if s.live_id == API_TASK]
    assert [c.pointer for c in status.changes] == ["/task/description"]
    (planned,) = await outputs.cycle(ReconcileMode.DRY_RUN)
    assert planned.result is ReconcileResult.PLANNED and planned.saved is not None
    (applied,) = await outputs.cycle()
    assert applied.result is ReconcileResult.APPLIED
    # The second intent read live holding the secrets: the case that leaked before.
    _, second = intents(runtime)
    assert source_before(second)["connectString"] == "<redacted>"
    assert json.loads(source_before(second)["bodyRaw"])["apiKey"] == "<redacted>"
    assert stored_source(emulator)["connectString"] == SECRET
    shown = outputs.everything()
    assert "correction planned" in shown and "<redacted>" in shown
    assert SECRET not in shown
    assert NESTED_SECRET not in shown


async def test_a_secret_field_set_by_hand_is_not_drift_and_shows_in_no_output(
    written: tuple[Runtime, Outputs], api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A person's value at a secret path is unknowable, not drift, and hidden when rewritten."""
    runtime, outputs = written

    def hand_set(document: dict[str, Any]) -> None:
        document["task_detail"]["sourceSelectedDatasource"]["connectString"] = HAND_SET

    await put_task(api, API_TASK, hand_set)
    report = await outputs.check()
    (status,) = [s for s in report.statuses if s.live_id == API_TASK]
    assert status.status is Status.IN_SYNC and status.changes == ()
    assert await outputs.cycle() == []
    await put_task(api, API_TASK, lambda d: d["task"].update(description="hand edit"))
    (applied,) = await outputs.cycle()
    assert applied.result is ReconcileResult.APPLIED
    assert source_before(intents(runtime)[-1])["connectString"] == "<redacted>"
    assert stored_source(emulator)["connectString"] == SECRET  # written again over HAND_SET
    shown = outputs.everything()
    assert HAND_SET not in shown and SECRET not in shown and NESTED_SECRET not in shown


async def test_a_secret_inside_json_text_that_no_longer_parses_shows_in_no_output(
    written: tuple[Runtime, Outputs], api: httpx.AsyncClient
) -> None:
    """bodyRaw edited into broken JSON holding a secret drifts at bodyRaw, shown as redacted."""
    runtime, outputs = written
    broken = '{"pageNum":"1","apiKey":"' + HAND_SET + '"'

    def hand_set(document: dict[str, Any]) -> None:
        document["task_detail"]["sourceSelectedDatasource"]["bodyRaw"] = broken

    await put_task(api, API_TASK, hand_set)
    report = await outputs.check()
    (status,) = [s for s in report.statuses if s.live_id == API_TASK]
    (change,) = status.changes
    assert change.pointer == "/task_detail/sourceSelectedDatasource/bodyRaw"
    assert change.live == "<redacted>"
    (applied,) = await outputs.cycle()
    assert applied.result is ReconcileResult.APPLIED
    assert source_before(intents(runtime)[-1])["bodyRaw"] == "<redacted>"
    assert runtime.history is not None
    episode = runtime.history.episodes()[0]  # this drift, recorded with the value redacted
    assert [(f.pointer, f.live) for f in episode.fields] == [(change.pointer, "<redacted>")]
    assert episode.resolution is not None and episode.resolution.value == "reconciled"
    shown = outputs.everything()
    assert HAND_SET not in shown and SECRET not in shown and NESTED_SECRET not in shown


async def test_an_undeclared_live_value_under_a_secret_looking_key_shows_in_no_output(
    written: tuple[Runtime, Outputs], api: httpx.AsyncClient
) -> None:
    """A token live holds in clear, which desired never mentions, is hidden by its key's name."""
    _, outputs = written
    token = "LIVE-TOKEN-5d3"

    def hand_edit(document: dict[str, Any]) -> None:
        document["task_detail"]["sourceSelectedDatasource"]["accessToken"] = token
        document["task"]["description"] = "hand edit"

    await put_task(api, API_TASK, hand_edit)
    (planned,) = await outputs.cycle(ReconcileMode.DRY_RUN)
    assert planned.saved is not None  # the plan file holds the request, the token by reference
    (applied,) = await outputs.cycle()
    assert applied.result is ReconcileResult.APPLIED
    assert token not in outputs.everything()
