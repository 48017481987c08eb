"""A failing audit log blocks writes, never detection; a damaged one never stops a start."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.drift.model import BlockReason, ReconcileResult, Status
from fdi_drift.emulator.app import Emulator
from fdi_drift.service import Runtime
from tests.conftest import API_TASK, MYSQL_TASK, export_instance, put_task
from tests.processes import cli

RuntimeFactory = Callable[..., Runtime]
real_write = os.write


def full_disk(when: Callable[[bytes], bool]) -> Callable[[int, bytes], int]:
    """os.write that fails with ENOSPC for the data `when` picks, as a full disk would."""

    def write(descriptor: int, data: bytes) -> int:
        if when(bytes(data)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(descriptor, data)

    return write


def edit(document: dict[str, Any]) -> None:
    document["task"]["description"] = "hand edit"


async def drifted_runtime(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> Runtime:
    runtime = make_runtime(
        reconcile={"mode": "auto"},
        audit_log=desired_dir.parent / "audit.jsonl",
    )
    await export_instance(runtime, desired_dir)
    await put_task(api, API_TASK, edit)
    assert await runtime.reload() is not None
    return runtime


def puts(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "PUT" and r.path.endswith(API_TASK))


async def test_no_intent_means_no_write_and_detection_goes_on(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the disk full, the drifted task is blocked (audit_unavailable), nothing is sent."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    sent_before = puts(emulator)
    monkeypatch.setattr("fdi_drift.audit.os.write", full_disk(lambda data: True))
    outcome = await runtime.cycle()
    assert outcome is not None
    report, (correction,) = outcome
    statuses = {s.live_id: s for s in report.statuses}
    assert statuses[API_TASK].status is Status.BLOCKED
    assert statuses[API_TASK].block is BlockReason.AUDIT_UNAVAILABLE
    assert "No space left on device; nothing was sent" in statuses[API_TASK].reason
    assert statuses[MYSQL_TASK].status is Status.IN_SYNC  # detection went on
    assert correction.result is ReconcileResult.BLOCKED
    assert puts(emulator) == sent_before
    assert runtime.state.report is report  # the cycle was published, not lost
    # Once the disk has room again, the next cycle writes (nothing was held against it).
    monkeypatch.setattr("fdi_drift.audit.os.write", real_write)
    outcome = await runtime.cycle()
    assert outcome is not None
    assert [c.result for c in outcome[1]] == [ReconcileResult.APPLIED]
    assert puts(emulator) == sent_before + 1


async def test_an_outcome_the_disk_refused_is_written_with_the_next_record(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The write happened; its outcome waits in memory and lands before the next intent."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    monkeypatch.setattr(
        "fdi_drift.audit.os.write", full_disk(lambda data: b'"event":"outcome"' in data)
    )
    outcome = await runtime.cycle()
    assert outcome is not None
    assert [c.result for c in outcome[1]] == [ReconcileResult.APPLIED]
    assert runtime.audit.pending == 1
    assert len(runtime.audit.scan().unfinished) == 1
    monkeypatch.setattr("fdi_drift.audit.os.write", real_write)
    await put_task(api, API_TASK, lambda document: document["task"].update(description="again"))
    outcome = await runtime.cycle()
    assert outcome is not None
    assert [c.result for c in outcome[1]] == [ReconcileResult.APPLIED]
    scan = runtime.audit.scan()
    assert (scan.unfinished, scan.records, scan.damaged) == ((), 4, ())


async def test_a_damaged_audit_log_is_counted_and_never_stops_a_start(
    make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """Garbage and a torn line are skipped, counted in a metric; unfinished intents still found."""
    path = desired_dir.parent / "audit.jsonl"
    path.write_bytes(
        b'{"event":"intent","id":"a1","resource":{}}\n'
        b"\x00\xff not a record\n"
        b'{"event":"outcome","id":"a1"}\n'
        b'{"event":"intent","id":"b2","resource":{}}\n'
        b'{"event":"outcome","id":"b'
    )
    runtime = make_runtime(audit_log=path)
    assert [intent["id"] for intent in runtime.unfinished_writes()] == ["b2"]
    registry = runtime.metrics.registry
    assert registry.get_sample_value("fdi_drift_audit_damaged_lines") == 2.0
    assert registry.get_sample_value("fdi_drift_audit_unfinished_writes") == 1.0


@pytest.mark.parametrize("device", ["/dev/full", "/dev/zero"])
def test_an_audit_path_that_is_a_device_is_refused_at_start(config: Path, device: str) -> None:
    """`reconcile` and `run` refuse a device as the audit log, saying what it is."""
    config.write_text(config.read_text() + f"audit_log: {device}\n")
    for command in ("reconcile", "run"):
        result = cli(command, "-c", str(config))
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"audit log {device} is a character device, not a regular file" in result.stderr
