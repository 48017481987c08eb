"""Who changed it: drift episodes attributed from the emulator's Cloud Trace Service traces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.cloud.transports import in_process
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.iam import Caller
from fdi_drift.history import History
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.service import Runtime
from tests.conftest import (
    API_TASK,
    BASE_URL,
    INSTANCE,
    PROJECT,
    TOKEN,
    export_instance,
    put_task,
    seed_000_as_get,
    seed_002,
    settings_for,
)

ALICE = "alice-token-51d2"


class Clock:
    """One clock for the emulator and the daemon, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


def emulated(clock: Clock, delay: float = 0.0) -> Emulator:
    config = EmulatorConfig(
        tokens=frozenset({TOKEN, ALICE}),
        token_users=((ALICE, Caller("acme", "alice")),),
        cts_delay_seconds=delay,
    )
    emulator = Emulator(config, clock=clock)
    emulator.store.add_task(PROJECT, INSTANCE, seed_002())
    emulator.store.add_task(PROJECT, INSTANCE, seed_000_as_get())
    return emulator


def runtime(emulator: Emulator, desired: Path, clock: Clock, **overrides: Any) -> Runtime:
    overrides.setdefault("history_db", desired.parent / "history.db")
    return Runtime(
        settings_for(desired, **overrides),
        transport=in_process(emulator),
        metrics=DaemonMetrics(CollectorRegistry(), version="test"),
        clock=clock,
    )


async def edit_as(emulator: Emulator, token: str) -> str:
    """A hand edit of the API task through the emulator as the token's user; its request id."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url=f"{BASE_URL}/v2/{PROJECT}/fdi/instances/{INSTANCE}",
        headers={"X-Auth-Token": token},
    ) as client:
        await put_task(client, API_TASK, lambda d: d["task"].update(description="hand edit"))
    (put,) = [r for r in emulator.requests if r.method == "PUT"][-1:]
    return put.request_id


async def exported(emulator: Emulator, desired: Path, clock: Clock) -> None:
    exporter = runtime(emulator, desired, clock, history_db=None)
    await export_instance(exporter, desired)
    await exporter.aclose()


async def cycle(emulator: Emulator, desired: Path, clock: Clock, **overrides: Any) -> History:
    """One check by a fresh runtime (as after a restart); the history it recorded."""
    checker = runtime(emulator, desired, clock, **overrides)
    await checker.reload()
    await checker.check()
    await checker.aclose()
    return History(desired.parent / "history.db")


async def test_an_edit_by_a_known_user_names_that_user(clock: Clock, desired_dir: Path) -> None:
    emulator = emulated(clock)
    await exported(emulator, desired_dir, clock)
    await cycle(emulator, desired_dir, clock)  # in sync: the search starts here
    clock.now += 60
    request_id = await edit_as(emulator, ALICE)
    clock.now += 60
    (episode,) = (await cycle(emulator, desired_dir, clock)).episodes()
    assert episode.attribution == "found"
    assert episode.changed_by is not None
    who = episode.changed_by
    assert (who.user, who.request_id, who.trace_name) == ("alice", request_id, "updateTask")
    assert who.time == pytest.approx(clock.now - 60, abs=1)
    assert who.source_ip == "127.0.0.1"
    assert who.trace_id


async def test_a_late_trace_is_found_by_a_later_cycle(clock: Clock, desired_dir: Path) -> None:
    emulator = emulated(clock, delay=300)
    await exported(emulator, desired_dir, clock)
    await edit_as(emulator, ALICE)
    clock.now += 60
    (episode,) = (await cycle(emulator, desired_dir, clock)).episodes()
    assert (episode.attribution, episode.changed_by) == ("pending", None)
    clock.now += 300  # CTS delivers the trace
    (episode,) = (await cycle(emulator, desired_dir, clock)).episodes()
    assert episode.changed_by is not None and episode.changed_by.user == "alice"


async def test_no_trace_within_the_window_names_nobody_and_says_why(
    clock: Clock, desired_dir: Path
) -> None:
    emulator = emulated(clock)
    await exported(emulator, desired_dir, clock)
    await edit_as(emulator, ALICE)
    emulator.traces.clear()  # as if the edit had left no trace
    history = await cycle(emulator, desired_dir, clock)
    assert history.episodes()[0].attribution == "pending"
    clock.now += 30 * 60
    (episode,) = (await cycle(emulator, desired_dir, clock)).episodes()
    assert episode.changed_by is None
    assert episode.attribution == "no write trace found within 30 minutes"
    assert episode.open  # detection is untouched


@pytest.mark.parametrize(
    ("status", "attribution"),
    [
        (403, "no permission to read Cloud Trace Service: "),
        (500, None),  # retried, like a trace not yet delivered
    ],
)
async def test_a_refusal_is_final_and_a_failure_is_retried(
    clock: Clock, desired_dir: Path, status: int, attribution: str | None
) -> None:
    emulator = emulated(clock)
    await exported(emulator, desired_dir, clock)
    await edit_as(emulator, ALICE)
    emulator.faults.inject(path=r"/traces$", method="GET", status=status, times=None)
    history = await cycle(emulator, desired_dir, clock, retry_attempts=1)
    (episode,) = history.episodes()
    assert episode.open and episode.changed_by is None
    if attribution is None:
        assert episode.attribution == "pending"
        emulator.faults.clear()
        (episode,) = (await cycle(emulator, desired_dir, clock)).episodes()
        assert episode.changed_by is not None and episode.changed_by.user == "alice"
    else:
        assert episode.attribution.startswith(attribution)
        assert "403" in episode.attribution
