"""The gateway's X-Request-Id travels with every failure and every audited write."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.drift.model import ReconcileResult, Status
from fdi_drift.emulator.app import Emulator
from fdi_drift.service import Runtime
from tests.conftest import API_TASK, export_instance, put_task

RuntimeFactory = Callable[..., Runtime]


def answered(emulator: Emulator, method: str, path_end: str) -> list[str]:
    """The request ids the emulator gave its answers to these requests, oldest first."""
    return [
        r.request_id for r in emulator.requests if r.method == method and r.path.endswith(path_end)
    ]


def edit(document: dict[str, Any]) -> None:
    document["task"]["description"] = "hand edit"


async def drifted(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> tuple[Runtime, Path]:
    """A runtime in auto mode whose API task was edited by hand, and its audit log's path."""
    audit = desired_dir.parent / "audit.jsonl"
    runtime = make_runtime(reconcile={"mode": "auto"}, audit_log=audit)
    await export_instance(runtime, desired_dir)
    await put_task(api, API_TASK, edit)
    assert await runtime.reload() is not None
    emulator.requests.clear()
    return runtime, audit


async def test_an_unknown_read_names_the_request_id_of_the_failing_answer(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 503 read: the retry warning and the unknown reason name each answer's request id."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    emulator.requests.clear()
    emulator.faults.inject(method="GET", path=f"/tasks/{API_TASK}$", status=503, times=None)
    caplog.set_level(logging.WARNING)
    assert await runtime.reload() is not None
    report = await runtime.check()
    assert report is not None
    (failed,) = [s for s in report.statuses if s.live_id == API_TASK]
    first, last = answered(emulator, "GET", f"/tasks/{API_TASK}")
    assert failed.status is Status.UNKNOWN
    assert failed.reason.endswith(f"(request id {last})")
    retried = [r.getMessage() for r in caplog.records if "retry 1 of 1" in r.getMessage()]
    assert retried and f"(request id {first})" in retried[0]


async def test_an_audit_outcome_lists_every_answer_with_its_request_id(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """An applied write's outcome names the PUT's request id and those of its read-backs."""
    runtime, audit = await drifted(make_runtime, desired_dir, api, emulator)
    outcome = await runtime.cycle()
    assert outcome is not None
    (correction,) = outcome[1]
    assert correction.result is ReconcileResult.APPLIED
    record = json.loads(audit.read_text().splitlines()[-1])
    assert record["event"] == "outcome"
    (put,) = answered(emulator, "PUT", f"/tasks/{API_TASK}")
    sent = [a for a in record["answers"] if a["request"].startswith("PUT ")]
    assert sent == [
        {"request": sent[0]["request"], "status": 200, "request_id": put},
    ]
    read_back = [a["request_id"] for a in record["answers"] if a["request"].startswith("GET ")]
    assert read_back and set(read_back) <= set(answered(emulator, "GET", f"/tasks/{API_TASK}"))


async def test_a_refused_write_names_its_request_id_in_the_audit_record(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A 400 to the PUT: the failure's detail ends with that answer's request id."""
    runtime, audit = await drifted(make_runtime, desired_dir, api, emulator)
    refusal = {"error_code": "FDI.3033", "error_msg": "Invalid parameter [task]."}
    emulator.faults.inject(method="PUT", path=f"/tasks/{API_TASK}$", status=400, body=refusal)
    outcome = await runtime.cycle()
    assert outcome is not None
    (correction,) = outcome[1]
    (put,) = answered(emulator, "PUT", f"/tasks/{API_TASK}")
    assert correction.result is ReconcileResult.FAILED
    assert correction.detail.endswith(f"(request id {put})")
    record = json.loads(audit.read_text().splitlines()[-1])
    assert record["detail"] == correction.detail
    assert [a["request_id"] for a in record["answers"]] == [put]
