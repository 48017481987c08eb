"""The drift history in the daemon: recorded each cycle, kept over restarts, never in the way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift import cli
from fdi_drift.cloud.transports import in_process
from fdi_drift.drift.model import CycleReport, ResourceKey, ResourceStatus, Status
from fdi_drift.emulator.app import Emulator
from fdi_drift.history import ChangedBy, History, Resolution, Spell
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.service import Runtime
from tests.conftest import API_TASK, INSTANCE, PROJECT, export_instance, put_task, settings_for

API_KEY = ResourceKey(FDI_TASK, PROJECT, INSTANCE, "api_task")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def runtime_at(
    emulator: Emulator, desired: Path, clock: Clock, registry: CollectorRegistry, **overrides: Any
) -> Runtime:
    overrides.setdefault("history_db", desired.parent / "history.db")
    return Runtime(
        settings_for(desired, **overrides),
        transport=in_process(emulator),
        metrics=DaemonMetrics(registry, version="test"),
        clock=clock,
    )


def hand_edit(document: dict[str, Any]) -> None:
    document["task"]["description"] = "hand edit"


async def drifted(emulator: Emulator, desired: Path, api: httpx.AsyncClient) -> None:
    """Desired state as exported, then the API task edited by hand."""
    exporter = runtime_at(emulator, desired, Clock(0), CollectorRegistry(), history_db=None)
    await export_instance(exporter, desired)
    await exporter.aclose()
    await put_task(api, API_TASK, hand_edit)


def drift_status(report: CycleReport | None) -> ResourceStatus:
    assert report is not None
    (status,) = [s for s in report.statuses if s.status is Status.DRIFTED]
    return status


async def test_a_restart_keeps_the_drift_age_and_the_episode(
    emulator: Emulator, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    await drifted(emulator, desired_dir, api)
    first = runtime_at(emulator, desired_dir, Clock(1000), CollectorRegistry())
    await first.reload()
    assert drift_status(await first.check()).drift_since == 1000
    await first.aclose()

    registry = CollectorRegistry()
    restarted = runtime_at(emulator, desired_dir, Clock(5000), registry)
    await restarted.reload()
    status = drift_status(await restarted.check())
    assert status.drift_since == 1000
    name = "fdi_drift_resource_drift_since_timestamp_seconds"
    labels = {"kind": "FdiTask", "project_id": PROJECT, "instance_id": INSTANCE}
    samples = [
        value
        for metric in registry.collect()
        if metric.name == name
        for sample in metric.samples
        if all(sample.labels.get(k) == v for k, v in labels.items())
        for value in [sample.value]
    ]
    assert samples == [1000]
    (episode,) = History(desired_dir.parent / "history.db").episodes()
    assert (episode.key.name, episode.spell, episode.opened_at) == (
        status.key.name,
        Spell.DRIFTED,
        1000,
    )
    assert [(f.pointer, f.live, f.desired) for f in episode.fields] == [
        (c.pointer, c.live, c.desired) for c in status.changes
    ]
    await restarted.aclose()


async def test_a_fix_by_the_daemon_closes_the_episode_as_reconciled(
    emulator: Emulator, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    await drifted(emulator, desired_dir, api)
    registry = CollectorRegistry()
    runtime = runtime_at(emulator, desired_dir, Clock(1000), registry, reconcile={"mode": "auto"})
    await runtime.reload()
    outcome = await runtime.cycle()
    assert outcome is not None
    assert all(s.status is Status.IN_SYNC for s in outcome[0].statuses)
    (episode,) = History(desired_dir.parent / "history.db").episodes()
    assert (episode.resolution, episode.written, episode.closed_at) == (
        Resolution.RECONCILED,
        True,
        1000,
    )
    labels = {"kind": "FdiTask", "resolution": "reconciled"}
    assert registry.get_sample_value("fdi_drift_drift_episodes_total", labels) == 1
    assert registry.get_sample_value("fdi_drift_drift_time_to_resolve_seconds_count", labels) == 1
    assert (
        registry.get_sample_value("fdi_drift_drift_episodes_opened_total", {"kind": "FdiTask"}) == 1
    )
    assert registry.get_sample_value("fdi_drift_history_healthy") == 1
    await runtime.aclose()


async def test_a_store_that_fails_never_stops_detection(
    emulator: Emulator, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    await drifted(emulator, desired_dir, api)
    registry = CollectorRegistry()
    broken = desired_dir.parent / "no-such-folder" / "history.db"
    runtime = runtime_at(emulator, desired_dir, Clock(1000), registry, history_db=broken)
    await runtime.reload()
    assert drift_status(await runtime.check()).drift_since == 1000  # the engine's own
    assert registry.get_sample_value("fdi_drift_history_healthy") == 0
    assert runtime.history is not None and str(broken) in runtime.history.error
    await runtime.aclose()


def test_a_check_records_nothing(emulator: Emulator, desired_dir: Path) -> None:
    runtime = Runtime(
        settings_for(desired_dir, history_db=desired_dir.parent / "history.db"), history=False
    )
    assert runtime.history is None
    assert not (desired_dir.parent / "history.db").exists()


# `fdi-drift history`


def key(name: str) -> ResourceKey:
    return ResourceKey(FDI_TASK, PROJECT, INSTANCE, name)


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A configuration whose history holds a reconciled and an open episode (attributed)."""
    path = tmp_path / "history.db"
    history = History(path)

    def seen(at: float, **states: Status) -> None:
        statuses = tuple(
            ResourceStatus(key(name), state, live_id=f"id-{name}", fingerprint="d")
            for name, state in states.items()
        )
        history.record_cycle(CycleReport("r1", at - 1, at, statuses, complete=True))

    seen(1_000_000, orders=Status.DRIFTED)
    history.record_applied(key("orders"))
    seen(1_000_600, orders=Status.IN_SYNC, users=Status.DRIFTED)
    (open_one,) = history.episodes(open_only=True)
    who = ChangedBy("alice", "10.1.2.3", 1_000_590, "trace-9", "req-9", "updateTask")
    history.attribute(open_one.id, who, "found")
    history.close()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"history_db: {path}\n"
        'endpoints: {fdi: "http://127.0.0.1:9", drs: "http://127.0.0.1:9", iam: "http://127.0.0.1:9"}\n'
        "auth: {token_env: HISTORY_TEST_TOKEN}\n"
    )
    return config


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_history_lists_episodes_newest_first_as_json(
    recorded: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISTORY_TEST_TOKEN", "t")
    code, out, _ = run_cli(capsys, "history", "-c", str(recorded), "--output", "json")
    assert code == 0
    episodes = json.loads(out)["episodes"]
    assert [(e["name"], e["resolution"], e["closed_at"]) for e in episodes] == [
        ("users", None, None),
        ("orders", "reconciled", "1970-01-12T13:56:40Z"),
    ]
    assert episodes[0]["opened_at"] == "1970-01-12T13:56:40Z"
    assert episodes[0]["changed_by"] == {
        "user": "alice",
        "source_ip": "10.1.2.3",
        "time": "1970-01-12T13:56:30Z",
        "trace_id": "trace-9",
        "request_id": "req-9",
        "trace_name": "updateTask",
    }
    assert set(episodes[1]) >= {
        "kind", "name", "resource", "project_id", "instance_id", "opened_at", "closed_at",
        "fields", "changed_by", "resolution",
    }  # fmt: skip


def test_history_selects_by_selector_and_since(
    recorded: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISTORY_TEST_TOKEN", "t")
    code, out, _ = run_cli(capsys, "history", "-c", str(recorded), "FdiTask/ord*")
    assert code == 0
    assert out.splitlines()[0] == f"FdiTask orders (id-orders) in {PROJECT}/{INSTANCE}: drifted"
    assert "closed 1970-01-12T13:56:40Z after 10 min, reconciled" in out
    assert "users" not in out
    code, out, _ = run_cli(capsys, "history", "-c", str(recorded), "users")
    assert "changed by: alice from 10.1.2.3 at 1970-01-12T13:56:30Z (trace trace-9)" in out
    # Everything closed long ago: only the open episode was open in the last hour.
    code, out, _ = run_cli(capsys, "history", "-c", str(recorded), "--since", "1h")
    assert "users" in out and "orders" not in out


def test_history_errors_exit_1_and_usage_errors_say_what_is_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISTORY_TEST_TOKEN", "t")
    config = tmp_path / "config.yaml"
    config.write_text(
        'endpoints: {fdi: "http://127.0.0.1:9", drs: "http://127.0.0.1:9", iam: "http://127.0.0.1:9"}\n'
        "auth: {token_env: HISTORY_TEST_TOKEN}\n"
    )
    code, _, err = run_cli(capsys, "history", "-c", str(config))
    assert (code, err) == (1, "error: no drift history: `history_db` is not configured\n")
    config.write_text(config.read_text() + f"history_db: {tmp_path / 'none.db'}\n")
    code, _, err = run_cli(capsys, "history", "-c", str(config))
    assert (code, err) == (1, f"error: {tmp_path / 'none.db'}: no drift history recorded yet\n")
    assert not (tmp_path / "none.db").exists()
    with pytest.raises(SystemExit):
        run_cli(capsys, "history", "-c", str(config), "--since", "soon")
    assert "expected a duration such as 30m, 2h or 7d, got 'soon'" in capsys.readouterr().err


async def test_the_plan_of_one_resource_sends_nothing_and_counts_nothing(
    emulator: Emulator, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """What the status page shows as a resource's plan: `reconcile`'s, for that one resource."""
    await drifted(emulator, desired_dir, api)
    registry = CollectorRegistry()
    runtime = runtime_at(emulator, desired_dir, Clock(1000), registry)
    await runtime.reload()
    status = drift_status(await runtime.check())
    puts_before = sum(1 for r in emulator.requests if r.method == "PUT")
    text, body = await runtime.plan_for(status.key)
    assert f"PUT /v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks/{API_TASK}" in text
    assert "--apply" not in text  # no command-line advice on a page
    (planned,) = body
    assert (planned["name"], planned["result"]) == (status.key.name, "planned")
    assert sum(1 for r in emulator.requests if r.method == "PUT") == puts_before
    planned_total = registry.get_sample_value(
        "fdi_drift_reconcile_total", {"kind": "FdiTask", "result": "planned"}
    )
    assert planned_total in (None, 0)
    unknown = ResourceKey(FDI_TASK, PROJECT, INSTANCE, "nobody")
    assert await runtime.plan_for(unknown) == (
        "No plan: the resource was not in the last cycle.\n",
        [],
    )
    await runtime.aclose()
