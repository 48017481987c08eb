"""Tests for the drift history store: episodes, resolutions, restarts, two writers, failures."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest

from fdi_drift import history as history_module
from fdi_drift.drift.model import (
    ChangeOp,
    CycleReport,
    FieldChange,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.history import (
    ChangedBy,
    History,
    Resolution,
    Spell,
)
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from tests.conftest import INSTANCE, PROJECT

ORDERS = ResourceKey(FDI_TASK, PROJECT, INSTANCE, "orders")
USERS = ResourceKey(FDI_TASK, PROJECT, INSTANCE, "users")
CHANGE = FieldChange("/task/description", ChangeOp.CHANGED, desired="nightly", live="hourly")


def status(
    key: ResourceKey, state: Status, *, digest: str = "d1", changes: tuple[FieldChange, ...] = ()
) -> ResourceStatus:
    if state is Status.DRIFTED and not changes:
        changes = (CHANGE,)
    return ResourceStatus(key, state, live_id=f"id-{key.name}", changes=changes, fingerprint=digest)


def cycle(at: float, *statuses: ResourceStatus, revision: str = "r1") -> CycleReport:
    return CycleReport(revision, at - 1, at, statuses, complete=True)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


def test_an_episode_opens_once_follows_the_drift_and_keeps_its_start(store: Path) -> None:
    history = History(store)
    history.record_cycle(cycle(100, status(ORDERS, Status.IN_SYNC)))
    first = history.record_cycle(cycle(160, status(ORDERS, Status.DRIFTED)))
    assert (first.opened, first.drift_since) == ([(ORDERS, Spell.DRIFTED)], {ORDERS: 160})
    later = FieldChange("/task/description", ChangeOp.CHANGED, desired="nightly", live="daily")
    second = history.record_cycle(cycle(220, status(ORDERS, Status.DRIFTED, changes=(later,))))
    assert (second.opened, second.drift_since) == ([], {ORDERS: 160})
    (episode,) = history.episodes()
    assert (episode.spell, episode.opened_at, episode.closed_at) == (Spell.DRIFTED, 160, None)
    assert [(f.pointer, f.desired, f.live) for f in episode.fields] == [
        ("/task/description", "nightly", "daily")
    ]
    assert (episode.resource, episode.revision, episode.attribution) == (
        "id-orders",
        "r1",
        "pending",
    )
    assert history.open_drift() == {ORDERS: episode}
    (pending, in_sync_at) = history.pending()[0]
    assert (pending.id, in_sync_at) == (episode.id, 100)


def test_a_restart_continues_open_episodes(store: Path) -> None:
    History(store).record_cycle(cycle(160, status(ORDERS, Status.DRIFTED)))
    restarted = History(store)
    recorded = restarted.record_cycle(cycle(220, status(ORDERS, Status.DRIFTED)))
    assert (recorded.opened, recorded.drift_since) == ([], {ORDERS: 160})
    (episode,) = restarted.episodes()
    assert (episode.opened_at, episode.closed_at) == (160, None)


@pytest.mark.parametrize(
    ("after", "revision", "applied", "resolution"),
    [
        (status(ORDERS, Status.IN_SYNC, digest="d2"), "r1", False, Resolution.REVERTED),
        # Live as last seen drifted, and a new desired revision that matches it.
        (status(ORDERS, Status.IN_SYNC, digest="d1"), "r2", False, Resolution.DESIRED_CHANGED),
        # Live changed and the revision moved too: someone changed live back.
        (status(ORDERS, Status.IN_SYNC, digest="d2"), "r2", False, Resolution.REVERTED),
        (status(ORDERS, Status.IN_SYNC, digest="d2"), "r1", True, Resolution.RECONCILED),
        (status(ORDERS, Status.MISSING), "r1", False, Resolution.DELETED),
    ],
    ids=["reverted", "desired changed", "both moved", "reconciled", "deleted live"],
)
def test_how_a_drift_episode_resolves(
    store: Path, after: ResourceStatus, revision: str, applied: bool, resolution: Resolution
) -> None:
    history = History(store)
    history.record_cycle(cycle(160, status(ORDERS, Status.DRIFTED)))
    closed = history.record_cycle(
        cycle(220, after, revision=revision), applied=[ORDERS] if applied else []
    ).closed
    assert [(e.spell, e.closed_at, e.resolution) for e in closed] == [
        (Spell.DRIFTED, 220, resolution)
    ]
    drift = [e for e in history.episodes() if e.spell is Spell.DRIFTED]
    assert [(e.closed_at, e.resolution) for e in drift] == [(220, resolution)]


def test_a_write_recorded_by_another_process_makes_the_fix_reconciled(store: Path) -> None:
    """`fdi-drift reconcile` records its write; the daemon then sees the resource in sync."""
    daemon, command = History(store), History(store)
    daemon.record_cycle(cycle(160, status(ORDERS, Status.DRIFTED)))
    command.record_applied(ORDERS)
    (closed,) = daemon.record_cycle(cycle(220, status(ORDERS, Status.IN_SYNC, digest="d2"))).closed
    assert closed.resolution is Resolution.RECONCILED
    assert command.episodes()[0].resolution is Resolution.RECONCILED


def test_an_undeclared_resource_closes_as_deleted_and_an_unreported_one_stays_open(
    store: Path,
) -> None:
    history = History(store)
    history.record_cycle(cycle(160, status(ORDERS, Status.DRIFTED), status(USERS, Status.DRIFTED)))
    # Neither is reported (another replica's, or a list that did not finish): both stay open.
    assert history.record_cycle(cycle(220)).closed == []
    # Only USERS is still declared: ORDERS was removed from the desired state.
    (closed,) = history.record_cycle(cycle(280), declared={USERS}).closed
    assert (closed.key, closed.resolution) == (ORDERS, Resolution.DELETED)
    assert list(history.open_drift()) == [USERS]


def test_unknown_and_blocked_spells_end_without_resolving_the_drift(store: Path) -> None:
    history = History(store)
    history.record_cycle(cycle(100, status(ORDERS, Status.DRIFTED)))
    history.record_cycle(cycle(160, status(ORDERS, Status.UNKNOWN)))  # drift stays open
    history.record_cycle(cycle(220, status(ORDERS, Status.BLOCKED)))
    spells = {e.spell: e for e in history.episodes()}
    assert spells[Spell.DRIFTED].open
    assert (spells[Spell.UNKNOWN].opened_at, spells[Spell.UNKNOWN].closed_at) == (160, 220)
    assert spells[Spell.UNKNOWN].resolution is None
    assert spells[Spell.BLOCKED].open
    closed = history.record_cycle(cycle(280, status(ORDERS, Status.IN_SYNC, digest="d2"))).closed
    assert {(e.spell, e.resolution) for e in closed} == {
        (Spell.DRIFTED, Resolution.REVERTED),
        (Spell.BLOCKED, None),
    }
    assert sum(1 for e in history.episodes() if e.spell is Spell.DRIFTED) == 1


def test_blocked_drift_seen_first_opens_the_drift_episode_too(store: Path) -> None:
    history = History(store)
    history.record_cycle(cycle(100, status(ORDERS, Status.BLOCKED, changes=(CHANGE,))))
    assert {e.spell for e in history.episodes(open_only=True)} == {Spell.DRIFTED, Spell.BLOCKED}


def test_attribution_is_recorded_and_read_back(store: Path) -> None:
    history = History(store)
    history.record_cycle(cycle(160, status(ORDERS, Status.DRIFTED)))
    (episode,) = history.episodes()
    who = ChangedBy("alice", "10.0.0.7", 150.5, "trace-1", "req-1", "updateTask")
    history.attribute(episode.id, who, "found")
    (found,) = History(store).episodes()
    assert (found.changed_by, found.attribution) == (who, "found")
    assert History(store).pending() == []


def test_episodes_are_read_newest_first_by_resource_and_since(store: Path) -> None:
    history = History(store)
    history.record_cycle(cycle(100, status(ORDERS, Status.DRIFTED)))
    history.record_cycle(cycle(200, status(ORDERS, Status.IN_SYNC), status(USERS, Status.DRIFTED)))
    history.record_cycle(cycle(300, status(ORDERS, Status.DRIFTED), status(USERS, Status.DRIFTED)))
    assert [(e.key.name, e.opened_at) for e in history.episodes()] == [
        ("orders", 300),
        ("users", 200),
        ("orders", 100),
    ]
    assert [e.opened_at for e in history.episodes(key=ORDERS)] == [300, 100]
    assert [e.opened_at for e in history.episodes(since=250)] == [300, 200]  # open at 250
    assert [e.opened_at for e in history.episodes(limit=1)] == [300]


def test_retention_keeps_open_episodes_and_the_newest_closed_ones(tmp_path: Path) -> None:
    history = History(tmp_path / "h.db", max_age_seconds=10_000, max_episodes=3)
    at = 0.0
    for _ in range(4):  # four closed episodes of ORDERS; USERS stays drifted throughout
        at += 100
        history.record_cycle(
            cycle(at, status(ORDERS, Status.DRIFTED), status(USERS, Status.DRIFTED))
        )
        at += 100
        history.record_cycle(
            cycle(at, status(ORDERS, Status.IN_SYNC), status(USERS, Status.DRIFTED))
        )
    # Retention ran at the first cycle only; an hour later it runs again.
    history.record_cycle(
        cycle(at + 3600, status(USERS, Status.DRIFTED), status(ORDERS, Status.IN_SYNC))
    )
    kept = history.episodes()
    assert [(e.key.name, e.opened_at) for e in kept] == [
        ("orders", 700),
        ("orders", 500),
        ("users", 100),
    ]
    # By age: everything closed more than 10,000 s before the run goes.
    history.record_cycle(cycle(at + 3600 + 20_000, status(USERS, Status.DRIFTED)))
    assert [(e.key.name, e.open) for e in history.episodes()] == [("users", True)]


def _record_many(path: str, worker: int, cycles: int) -> None:
    history = History(Path(path))
    for number in range(cycles):
        at = 1000.0 + number
        drifted = Status.DRIFTED if (number // 5) % 2 == 0 else Status.IN_SYNC
        history.record_cycle(cycle(at, status(ORDERS, drifted), status(USERS, Status.DRIFTED)))
    assert history.healthy, history.error


def test_two_processes_recording_at_once_keep_one_open_episode_each(store: Path) -> None:
    """The daemon and `fdi-drift reconcile` write the same store at the same time."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record_many, args=(str(store), n, 60)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    history = History(store)
    assert sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    users = history.episodes(key=USERS)
    assert len(users) == 1 and users[0].open  # never opened twice
    assert sum(1 for e in history.episodes(key=ORDERS) if e.open) <= 1


def test_a_store_that_cannot_be_written_pauses_history_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "missing-folder" / "history.db"
    history = History(path)
    assert not history.healthy and str(path) in history.error
    assert history.record_cycle(cycle(160, status(ORDERS, Status.DRIFTED))).closed == []
    assert history.episodes() == [] and history.open_drift() == {}
    path.parent.mkdir()
    history.record_cycle(cycle(220, status(ORDERS, Status.DRIFTED)))
    assert history.error == ""
    assert [e.opened_at for e in history.episodes()] == [220]


@pytest.mark.parametrize("damage", ["not a database", "a directory", "a FIFO", "newer schema"])
def test_an_unusable_store_is_reported_and_never_changed(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "history.db"
    if damage == "not a database":
        path.write_bytes(b"this is not SQLite\n" * 100)
    elif damage == "a directory":
        path.mkdir()
    elif damage == "a FIFO":
        os.mkfifo(path)
    else:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 99")
    before = None if path.is_dir() or damage == "a FIFO" else path.read_bytes()
    history = History(path)
    history.record_cycle(cycle(160, status(ORDERS, Status.DRIFTED)))
    assert not history.healthy
    assert str(path) in history.error
    if damage == "newer schema":
        assert "written by a newer fdi-drift (schema 99; this one knows 1)" in history.error
    if damage in ("a directory", "a FIFO"):
        assert f"is {damage}, not a regular file" in history.error
    if before is not None:
        assert path.read_bytes() == before


def test_a_store_of_an_older_schema_is_migrated_and_keeps_its_episodes(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    History(store).record_cycle(cycle(160, status(ORDERS, Status.DRIFTED)))
    added = "ALTER TABLE episodes ADD COLUMN note TEXT NOT NULL DEFAULT ''"
    monkeypatch.setattr(history_module, "_MIGRATIONS", (*history_module._MIGRATIONS, added))
    monkeypatch.setattr(history_module, "SCHEMA_VERSION", 2)
    (episode,) = History(store).episodes()
    assert episode.opened_at == 160
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert db.execute("SELECT note FROM episodes").fetchall() == [("",)]
