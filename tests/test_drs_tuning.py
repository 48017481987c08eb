"""DRS tuning parameters end to end: exported as maps, drift at their pointers, one typed fix."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.demo import SAMPLES
from fdi_drift.drift.model import ReconcileMode, ReconcileResult, Status
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.kinds.drs_job import KIND as DRS_JOB
from fdi_drift.service import Runtime
from tests.conftest import PROJECT, TOKEN
from tests.test_composite_and_drs import JOB, cycle, edit_job, export, writes

APPLY_THREADS = "/tuning_params/incre_apply/apply_threads"


@pytest.fixture
def emulator() -> Emulator:
    """The demo samples, whose DRS job has tuning parameters in all four groups."""
    return Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN})))


@pytest.fixture
async def console(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """The DRS API as a person with the console reaches it."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url="http://cloud.test",
        headers={"X-Auth-Token": TOKEN},
    ) as client:
        yield client


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime], desired_dir: Path) -> Runtime:
    """A runtime on the emulator that corrects in auto mode, without backoff."""
    return make_runtime(
        audit_log=desired_dir.parent / "audit.jsonl",
        reconcile={"mode": "auto", "backoff_base_seconds": 0.0},
    )


async def tune(console: httpx.AsyncClient, group: str, name: str, value: str) -> None:
    """A tuning parameter changed by hand through the tuning_param update."""
    maps: dict[str, dict[str, str]] = {"incre_capture": {}, "incre_apply": {}}
    maps.setdefault(group, {})[name] = value
    await edit_job(console, "tuning_param", {"tuning_params": maps})


def tuning_puts(emulator: Emulator) -> list[dict[str, Any]]:
    """The params of every tuning_param update the emulator received."""
    bodies = [json.loads(r.body) for r in emulator.requests if r.method == "PUT"]
    return [b["job"]["params"] for b in bodies if b["job"]["type"] == "tuning_param"]


async def test_exported_tuning_is_maps_and_in_sync(runtime: Runtime, desired_dir: Path) -> None:
    """Export writes name: value maps of the parameters the job may change; a check is clean."""
    path = await export(runtime, desired_dir, DRS_JOB)
    text = path.read_text()
    assert '  tuning_params:\n    full_sync:\n      full_sync_threads: "8"\n' in text
    assert '      apply_threads: "16"\n' in text
    assert "param_name" not in text and "relay_compress" not in text  # not available to it
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    assert statuses[DRS_JOB].status is Status.IN_SYNC


async def test_a_hand_tuned_parameter_is_drift_fixed_by_one_tuning_put(
    runtime: Runtime, desired_dir: Path, emulator: Emulator, console: httpx.AsyncClient
) -> None:
    """apply_threads changed by hand drifts at its pointer; auto sends one tuning_param PUT."""
    await export(runtime, desired_dir, DRS_JOB)
    await tune(console, "incre_apply", "apply_threads", "64")
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    drifted = statuses[DRS_JOB]
    assert drifted.status is Status.DRIFTED
    assert [(c.pointer, c.live, c.desired) for c in drifted.changes] == [
        (APPLY_THREADS, "64", "16")
    ]
    emulator.requests.clear()
    _, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.APPLIED
    assert writes(emulator) == [f"PUT {JOB} tuning_param"]
    assert tuning_puts(emulator) == [
        {"tuning_params": {"incre_capture": {}, "incre_apply": {"apply_threads": "16"}}}
    ]
    again, corrections = await cycle(runtime)
    assert again[DRS_JOB].status is Status.IN_SYNC and corrections == []


async def test_an_undeclared_parameter_is_neither_drift_nor_sent(
    runtime: Runtime, desired_dir: Path, emulator: Emulator, console: httpx.AsyncClient
) -> None:
    """With apply_batch_size left out of desired state, its hand change is live's own business."""
    path = await export(runtime, desired_dir, DRS_JOB)
    path.write_text(path.read_text().replace('      apply_batch_size: "500"\n', ""))
    await tune(console, "incre_apply", "apply_batch_size", "2000")
    statuses, corrections = await cycle(runtime)
    assert statuses[DRS_JOB].status is Status.IN_SYNC and corrections == []
    await tune(console, "incre_apply", "apply_threads", "4")
    statuses, _ = await cycle(runtime, mode=ReconcileMode.OBSERVE)
    assert [c.pointer for c in statuses[DRS_JOB].changes] == [APPLY_THREADS]
    emulator.requests.clear()
    _, (correction,) = await cycle(runtime)
    assert correction.result is ReconcileResult.APPLIED
    assert tuning_puts(emulator) == [
        {"tuning_params": {"incre_capture": {}, "incre_apply": {"apply_threads": "16"}}}
    ]
    job = emulator.drs.get(PROJECT, JOB)
    assert job is not None
    apply = {e["param_name"]: e["param_value"] for e in job.job["tuning_params"]["incre_apply"]}  # type: ignore[index]
    assert apply == {
        "apply_threads": "16",
        "apply_batch_size": "2000",
        "apply_conflict_retries": "3",
    }


async def test_an_ignored_parameter_never_drifts(
    runtime: Runtime, desired_dir: Path, emulator: Emulator, console: httpx.AsyncClient
) -> None:
    """An ignore rule on a tuning pointer (map form) keeps its hand change out of the report."""
    path = await export(runtime, desired_dir, DRS_JOB)
    path.write_text(path.read_text() + f"ignore:\n  - {APPLY_THREADS}\n")
    await tune(console, "incre_apply", "apply_threads", "64")
    emulator.requests.clear()
    statuses, corrections = await cycle(runtime)
    assert statuses[DRS_JOB].status is Status.IN_SYNC and corrections == []
    assert tuning_puts(emulator) == []


async def test_declaring_an_unavailable_parameter_is_invalid_and_sends_nothing(
    runtime: Runtime, desired_dir: Path, emulator: Emulator
) -> None:
    """relay_compress is not available to the job: a differing declared value is not sent."""
    path = await export(runtime, desired_dir, DRS_JOB)
    path.write_text(
        path.read_text().replace(
            "    incre_relay:\n", "    incre_relay:\n      relay_compress: 'true'\n"
        )
    )
    emulator.requests.clear()
    statuses, (correction,) = await cycle(runtime)
    assert [(c.pointer, c.live) for c in statuses[DRS_JOB].changes] == [
        ("/tuning_params/incre_relay/relay_compress", "false")
    ]
    assert correction.result is ReconcileResult.INVALID
    assert "relay_compress: not available to this job" in correction.detail
    assert writes(emulator) == []


async def test_a_read_whose_tuning_cannot_be_mapped_is_unknown(
    runtime: Runtime, desired_dir: Path, emulator: Emulator, console: httpx.AsyncClient
) -> None:
    """A detail answering a tuning group as a map is unknown, naming the group; nothing sent."""
    await export(runtime, desired_dir, DRS_JOB)
    detail = (await console.get(f"/v5/{PROJECT}/jobs/{JOB}", params={"type": "detail"})).json()
    detail["job"]["tuning_params"]["incre_apply"] = {"apply_threads": "16"}
    emulator.faults.inject(method="GET", path=f"/jobs/{JOB}$", status=200, body=detail, times=None)
    emulator.requests.clear()
    statuses, corrections = await cycle(runtime)
    unknown = statuses[DRS_JOB]
    assert unknown.status is Status.UNKNOWN and corrections == []
    assert f"job {JOB}: tuning_params/incre_apply: an object" in unknown.reason
    assert writes(emulator) == []
