"""Drift history: episodes that outlive restarts, in an embedded SQLite store.

An episode is one spell of a declared resource in a status that needs a person's attention:

- `drifted` and `missing` spells are drift episodes. One opens in the first cycle that sees the
  drift (`opened_at`) and stays open, its fields following the latest diff, until the resource is
  in sync again or goes away. It then closes with a `resolution`: `reconciled` when an fdi-drift
  write (the daemon's, or `fdi-drift reconcile --apply`'s, which records into the same store)
  was applied during it; `desired_changed` when live is as it was when last seen drifted and the
  desired revision moved; `reverted` when live changed back without fdi-drift; `deleted` when the
  live resource disappeared (a `missing` spell follows) or the resource is no longer declared.
- `unknown` and `blocked` spells record when a resource could not be judged or a rail held a
  fix back. They end rather than resolve: their `resolution` stays null once closed.

`changed_by` is who made the change that opened a drift episode, as Cloud Trace Service recorded
it (attribution.py looks it up after a delay); `attribution` says how that search stands:
`pending`, `found`, or why nobody is named.

Guarantees:

- The daemon and `fdi-drift reconcile` may write at once: SQLite in WAL mode, short transactions,
  and a unique index on open spells, so an episode is never opened twice.
- A restart continues open episodes: state is the store's, not the process's.
- A store that cannot be opened or written never stops detection. `History` reports the failure
  (`healthy`, `error`) and pauses; every later call tries again, and the next cycle that can
  write brings the store up to date with what it sees.
- A store written by a newer schema is never changed: it is reported, and history pauses.
- Field values are stored as the diff gives them: already redacted wherever they may be secret.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from fdi_drift.drift.model import (
    CycleReport,
    FieldChange,
    Kind,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.file_kind import kind_of
from fdi_drift.times import rfc3339

log = logging.getLogger(__name__)


class Spell(StrEnum):
    """What an episode is a spell of: a resource status."""

    DRIFTED = "drifted"
    MISSING = "missing"
    UNKNOWN = "unknown"
    BLOCKED = "blocked"


DRIFT_SPELLS = frozenset({Spell.DRIFTED, Spell.MISSING})


class Resolution(StrEnum):
    """How a drift episode ended."""

    RECONCILED = "reconciled"  # an fdi-drift write was applied during it
    DESIRED_CHANGED = "desired_changed"  # a new desired revision matches live
    REVERTED = "reverted"  # live was changed back by someone else
    DELETED = "deleted"  # the live resource, or its declaration, is gone


@dataclass(frozen=True, slots=True)
class ChangedBy:
    """Who made a change, as a Cloud Trace Service trace records it."""

    user: str
    source_ip: str | None
    time: float  # seconds since the epoch
    trace_id: str
    request_id: str | None
    trace_name: str = ""

    def to_json(self) -> dict[str, Any]:
        """As every output shows it: the time in RFC 3339."""
        return {
            "user": self.user,
            "source_ip": self.source_ip,
            "time": rfc3339(self.time),
            "trace_id": self.trace_id,
            "request_id": self.request_id,
            "trace_name": self.trace_name,
        }


@dataclass(frozen=True, slots=True)
class EpisodeField:
    """One differing field as the diff showed it last: values redacted where secret."""

    pointer: str
    op: str  # changed | absent | extra
    desired: object = None
    live: object = None


@dataclass(frozen=True, slots=True)
class Episode:
    """One recorded spell of one resource."""

    id: int
    key: ResourceKey
    resource: str  # the live id
    region: str
    spell: Spell
    opened_at: float
    closed_at: float | None
    fields: tuple[EpisodeField, ...]
    detail: str  # the status's reason: why unknown, why blocked, what is missing
    revision: str  # the desired revision when it opened
    changed_by: ChangedBy | None
    attribution: str  # pending | found | why nobody is named
    resolution: Resolution | None
    written: bool  # an fdi-drift write was applied during it

    @property
    def open(self) -> bool:
        return self.closed_at is None

    def identity(self) -> tuple[str, str, str, str, str]:
        """kind, project, instance, name and live id: what a selector matches."""
        key = self.key
        return (str(key.kind), key.project_id, key.instance_id, key.name, self.resource)

    def to_json(self) -> dict[str, Any]:
        """The episode as `fdi-drift history --output json` and the API show it."""
        key, who = self.key, self.changed_by
        return {
            "kind": str(key.kind),
            "name": key.name,
            "resource": self.resource,
            "project_id": key.project_id,
            "instance_id": key.instance_id,
            "region": self.region or None,
            "status": self.spell.value,
            "opened_at": rfc3339(self.opened_at),
            "closed_at": rfc3339(self.closed_at),
            "fields": [
                {"pointer": f.pointer, "op": f.op, "desired": f.desired, "live": f.live}
                for f in self.fields
            ],
            "detail": self.detail,
            "revision": self.revision,
            "changed_by": None if who is None else who.to_json(),
            "attribution": self.attribution or None,
            "resolution": None if self.resolution is None else self.resolution.value,
        }


@dataclass(slots=True)
class Recorded:
    """What recording one cycle did."""

    closed: list[Episode] = field(default_factory=list)
    opened: list[tuple[ResourceKey, Spell]] = field(default_factory=list)
    # When each resource's open drift episode opened: the drift age every output shows.
    drift_since: dict[ResourceKey, float] = field(default_factory=dict)


DEFAULT_MAX_AGE_SECONDS = 90 * 86400.0
DEFAULT_MAX_EPISODES = 100_000
# How long a write waits for the other process's transaction before the store counts as failed.
BUSY_SECONDS = 5.0
# Retention runs at most this often: a cycle need not scan the table every time.
_PRUNE_EVERY_SECONDS = 3600.0
# Keys whose store names are kept: a bound, well above the resources of one replica.
_IDENTITIES_KEPT = 200_000

# Statement i brings the schema from version i to i + 1 (PRAGMA user_version).
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE episodes (
        id INTEGER PRIMARY KEY,
        identity TEXT NOT NULL,       -- JSON [kind, project_id, instance_id, name, id]
        kind TEXT NOT NULL,
        project_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        name TEXT NOT NULL,
        key_id TEXT NOT NULL,
        resource TEXT NOT NULL,       -- the live id
        region TEXT NOT NULL,
        spell TEXT NOT NULL,
        opened_at REAL NOT NULL,
        closed_at REAL,
        fields TEXT NOT NULL,         -- JSON [{pointer, op, desired, live}]
        detail TEXT NOT NULL,
        revision TEXT NOT NULL,       -- the desired revision when it opened
        live_digest TEXT NOT NULL,    -- the live fingerprint when last seen in this spell
        in_sync_at REAL,              -- when the resource was last seen in sync before it
        changed_by TEXT,              -- JSON, or NULL
        attribution TEXT NOT NULL,
        resolution TEXT,
        written INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX episodes_one_open ON episodes (identity, spell) WHERE closed_at IS NULL;
    CREATE INDEX episodes_by_opened ON episodes (opened_at);
    CREATE INDEX episodes_by_identity ON episodes (identity, opened_at);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_COLUMNS = (
    "id, kind, project_id, instance_id, name, key_id, resource, region, spell, opened_at, "
    "closed_at, fields, detail, revision, changed_by, attribution, resolution, written"
)


class HistoryError(Exception):
    """The store cannot be used; the message says which file and why."""


class History:
    """The drift history of one process, in the SQLite file at `path`.

    Every method may be called from any thread (one at a time, under a lock); none raises for
    a store that fails, as the module says: writes are dropped, reads answer nothing, and
    `error` says why until a use works again.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        max_episodes: int = DEFAULT_MAX_EPISODES,
    ) -> None:
        self.path = path
        self._clock = clock
        self._max_age = max_age_seconds
        self._max_episodes = max_episodes
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.error = ""
        self._pruned_at = -_PRUNE_EVERY_SECONDS
        # When each resource was last seen in sync: where a search for who changed it begins.
        self._in_sync_at: dict[str, float] = {}
        self._identities: dict[ResourceKey, str] = {}
        self._read(lambda db: None, None)  # opened (and migrated) now, or the error recorded

    @property
    def healthy(self) -> bool:
        """Whether the last use of the store worked."""
        return not self.error

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # Writing

    def record_cycle(
        self,
        report: CycleReport,
        *,
        applied: Iterable[ResourceKey] = (),
        declared: Collection[ResourceKey] | None = None,
    ) -> Recorded:
        """Open, follow and close episodes from one cycle's statuses.

        `applied` names the resources an fdi-drift write was applied to in this cycle. A
        resource missing from the report is left alone (another replica's, or a list that did
        not finish) unless `declared` is given and does not hold it: its episodes then close,
        drift ones as `deleted`.
        """
        now = report.finished_at
        statuses: dict[str, ResourceStatus] = {}
        for status in report.statuses:
            if status.status is Status.UNMANAGED:
                continue
            identity = self._identity(status.key)
            statuses[identity] = status
        written = {self._identity(key) for key in applied}
        kept = None if declared is None else {self._identity(key) for key in declared}
        in_sync_at = self._in_sync_at

        def record(db: sqlite3.Connection) -> Recorded:
            if written:
                _mark_written(db, written)
            done = Recorded()
            still_open: set[tuple[str, Spell]] = set()
            query = (
                f"SELECT {_COLUMNS}, identity, live_digest FROM episodes WHERE closed_at IS NULL"  # noqa: S608 - constants
            )
            for row in db.execute(query).fetchall():
                identity, spell = row[-2], Spell(row[8])
                status = statuses.get(identity)
                if status is None:
                    if kept is not None and identity not in kept:
                        gone = Resolution.DELETED if spell in DRIFT_SPELLS else None
                        done.closed.append(_close(db, row, now, gone))
                    continue
                if _continues(spell, status.status):
                    still_open.add((identity, spell))
                    _follow(db, row, status)
                    if spell in DRIFT_SPELLS:
                        done.drift_since[status.key] = row[9]
                    continue
                resolution = _resolution(spell, row, status, report.revision)
                done.closed.append(_close(db, row, now, resolution))
            drifting = {identity for identity, spell in still_open if spell in DRIFT_SPELLS}
            for identity, status in statuses.items():
                for spell in _opens(status.status, identity in drifting):
                    if (identity, spell) not in still_open:
                        since = in_sync_at.get(identity)
                        if _insert(db, identity, spell, status, report.revision, now, since):
                            done.opened.append((status.key, spell))
                        if spell in DRIFT_SPELLS:
                            done.drift_since[status.key] = now
            self._prune(db, now)
            return done

        recorded = self._write(record, Recorded())
        for identity, status in statuses.items():
            if status.status is Status.IN_SYNC:
                in_sync_at[identity] = now
        return recorded

    def record_applied(self, key: ResourceKey) -> None:
        """An fdi-drift write to `key` was applied: its open drift episode closes as reconciled.

        Called as soon as the write is answered, so that another process that sees the
        resource in sync first does not take the fix for someone else's.
        """
        self._write(lambda db: _mark_written(db, {self._identity(key)}), None)

    def attribute(self, episode_id: int, changed_by: ChangedBy | None, attribution: str) -> None:
        """Record who made the change that opened an episode, or why nobody is named."""
        who = None if changed_by is None else json.dumps(_changed_by_json(changed_by))
        statement = "UPDATE episodes SET changed_by = ?, attribution = ? WHERE id = ?"
        self._write(lambda db: db.execute(statement, (who, attribution, episode_id)), None)

    def _identity(self, key: ResourceKey) -> str:
        """The key as the store names it, worked out once per key: a cycle asks for every one."""
        identity = self._identities.get(key)
        if identity is None:
            if len(self._identities) >= _IDENTITIES_KEPT:
                self._identities.clear()
            identity = self._identities[key] = _identity(key)
        return identity

    # Reading

    def episodes(
        self,
        *,
        key: ResourceKey | None = None,
        since: float | None = None,
        open_only: bool = False,
        limit: int = 1000,
    ) -> list[Episode]:
        """Episodes newest first: of one resource, open at or after `since`, open ones only."""
        where: list[str] = []
        arguments: list[object] = []
        if key is not None:
            where.append("identity = ?")
            arguments.append(self._identity(key))
        if since is not None:
            where.append("(closed_at IS NULL OR closed_at >= ?)")
            arguments.append(since)
        if open_only:
            where.append("closed_at IS NULL")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        # Only constant text is put together; every value is a parameter.
        query = f"SELECT {_COLUMNS} FROM episodes {clause} ORDER BY opened_at DESC, id DESC LIMIT ?"  # noqa: S608
        return self._read(
            lambda db: [_episode(row) for row in db.execute(query, (*arguments, limit))], []
        )

    def open_drift(self) -> dict[ResourceKey, Episode]:
        """The open drift episode (drifted or missing) of each resource that has one."""
        found: dict[ResourceKey, Episode] = {}
        for episode in self.episodes(open_only=True, limit=10_000_000):
            if episode.spell in DRIFT_SPELLS:
                found.setdefault(episode.key, episode)
        return found

    def pending(self) -> list[tuple[Episode, float | None]]:
        """Open drift episodes whose author is still looked for, oldest first, each with when
        its resource was last seen in sync before it opened (None when not known)."""
        query = (
            f"SELECT {_COLUMNS}, in_sync_at FROM episodes WHERE closed_at IS NULL "  # noqa: S608
            "AND attribution = ? AND spell IN (?, ?) ORDER BY opened_at"
        )
        arguments = (PENDING, Spell.DRIFTED.value, Spell.MISSING.value)
        return self._read(
            lambda db: [(_episode(row[:-1]), row[-1]) for row in db.execute(query, arguments)], []
        )

    # The store

    def _write(self, work: Callable[[sqlite3.Connection], _T], default: _T) -> _T:
        """`work` in one write transaction; `default` when the store fails (recorded)."""
        with self._lock:
            try:
                db = self._connection()
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, HistoryError, OSError) as error:
                self._failed(error)
                return default
            self._recovered()
            return result

    def _read(self, work: Callable[[sqlite3.Connection], _T], default: _T) -> _T:
        with self._lock:
            try:
                result = work(self._connection())
            except (sqlite3.Error, HistoryError, OSError) as error:
                self._failed(error)
                return default
            self._recovered()
            return result

    def _connection(self) -> sqlite3.Connection:
        """The connection, opened and migrated if need be; HistoryError when it cannot be."""
        if self._db is not None:
            return self._db
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISREG(mode):
                raise HistoryError(f"{self.path}: is {kind_of(mode)}, not a regular file")
        db = sqlite3.connect(
            self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
        try:
            _refuse_newer(db, self.path)  # before WAL mode, which would change its header
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            _migrate(db)
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def _failed(self, error: Exception) -> None:
        message = str(error) if isinstance(error, HistoryError) else f"{self.path}: {error}"
        if message != self.error:
            log.error("drift history paused: the store cannot be used", extra={"error": message})
        self.error = message
        if self._db is not None:
            self._db.close()
            self._db = None

    def _recovered(self) -> None:
        if self.error:
            log.warning("drift history resumed", extra={"path": str(self.path)})
            self.error = ""

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        """Retention by age and by count, at most once every `_PRUNE_EVERY_SECONDS`."""
        if now - self._pruned_at < _PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        db.execute(
            "DELETE FROM episodes WHERE closed_at IS NOT NULL AND closed_at < ?",
            (now - self._max_age,),
        )
        (count,) = db.execute("SELECT count(*) FROM episodes").fetchone()
        if count > self._max_episodes:  # the oldest closed ones go first; open ones stay
            db.execute(
                "DELETE FROM episodes WHERE id IN (SELECT id FROM episodes "
                "WHERE closed_at IS NOT NULL ORDER BY closed_at, id LIMIT ?)",
                (count - self._max_episodes,),
            )


_T = TypeVar("_T")
PENDING = "pending"
FOUND = "found"

_Row = tuple[Any, ...]


def _refuse_newer(db: sqlite3.Connection, path: Path) -> None:
    """HistoryError for a store written by a newer schema than this code knows."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: written by a newer fdi-drift (schema {version}; this one knows "
            f"{SCHEMA_VERSION}); left untouched"
        )


def _migrate(db: sqlite3.Connection) -> None:
    """Bring the schema to SCHEMA_VERSION, one migration at a time, in one transaction."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")  # one process migrates; the other waits, then finds it done
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        for migration in _MIGRATIONS[version:]:
            for statement in migration.split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _identity(key: ResourceKey) -> str:
    return json.dumps([key.kind, key.project_id, key.instance_id, key.name, key.id])


def _opens(status: Status, drifting: bool) -> tuple[Spell, ...]:
    """The spells a status opens; `drifting`: a drift episode of the resource is open."""
    if status is Status.DRIFTED:
        return (Spell.DRIFTED,)
    if status is Status.MISSING:
        return (Spell.MISSING,)
    if status is Status.BLOCKED:  # drift that a rail holds back
        return (Spell.BLOCKED,) if drifting else (Spell.DRIFTED, Spell.BLOCKED)
    if status is Status.UNKNOWN:
        return (Spell.UNKNOWN,)
    return ()


def _continues(spell: Spell, status: Status) -> bool:
    """Whether an open spell goes on when the resource is seen in `status`."""
    if spell is Spell.DRIFTED:
        # Not judged, held back, or not appliable: the drift seen last is still the news.
        return status in (Status.DRIFTED, Status.BLOCKED, Status.UNKNOWN, Status.INVALID)
    if spell is Spell.MISSING:
        return status in (Status.MISSING, Status.BLOCKED, Status.UNKNOWN, Status.INVALID)
    return status.value == spell.value


def _resolution(
    spell: Spell, row: _Row, status: ResourceStatus, revision: str
) -> Resolution | None:
    """How a spell that no longer continues ended: drift resolves, other spells just end."""
    if spell not in DRIFT_SPELLS:
        return None
    if status.status is Status.MISSING:  # drifted, and now the live resource is gone
        return Resolution.DELETED
    if row[17]:  # written
        return Resolution.RECONCILED
    if status.status is Status.IN_SYNC and revision != row[13] and status.fingerprint == row[-1]:
        return Resolution.DESIRED_CHANGED  # live as last seen drifted; the desired side moved
    return Resolution.REVERTED


def _fields(changes: Iterable[FieldChange]) -> str:
    return json.dumps(
        [
            {"pointer": c.pointer, "op": c.op.value, "desired": c.desired, "live": c.live}
            for c in changes
        ],
        ensure_ascii=False,
        default=str,
    )


def _follow(db: sqlite3.Connection, row: _Row, status: ResourceStatus) -> None:
    """An open spell seen again: its fields, detail and live digest follow what is seen now."""
    if status.status.value != row[8] and not (
        status.status is Status.BLOCKED and row[8] in DRIFT_SPELLS
    ):
        return  # seen as unknown or invalid: nothing newer about the drift itself
    fields = _fields(status.changes) if status.changes or row[8] != Spell.DRIFTED else row[11]
    digest = status.fingerprint or row[-1]
    if (fields, status.reason, digest) != (row[11], row[12], row[-1]):
        db.execute(
            "UPDATE episodes SET fields = ?, detail = ?, live_digest = ? WHERE id = ?",
            (fields, status.reason, digest, row[0]),
        )


def _insert(
    db: sqlite3.Connection,
    identity: str,
    spell: Spell,
    status: ResourceStatus,
    revision: str,
    now: float,
    in_sync_at: float | None,
) -> bool:
    """Open a spell; False when another process opened it first (the store keeps one)."""
    key = status.key
    attribution = PENDING if spell in DRIFT_SPELLS else ""
    inserted = db.execute(
        # OR IGNORE: another process opened it meanwhile, and the unique index keeps one.
        "INSERT OR IGNORE INTO episodes (identity, kind, project_id, instance_id, name, key_id, "
        "resource, region, spell, opened_at, fields, detail, revision, live_digest, in_sync_at, "
        "attribution) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            identity,
            str(key.kind),
            key.project_id,
            key.instance_id,
            key.name,
            key.id,
            status.live_id or key.id,
            status.region,
            spell.value,
            now,
            _fields(status.changes),
            status.reason,
            revision,
            status.fingerprint,
            in_sync_at,
            attribution,
        ),
    )
    return inserted.rowcount == 1


def _close(db: sqlite3.Connection, row: _Row, now: float, resolution: Resolution | None) -> Episode:
    db.execute(
        "UPDATE episodes SET closed_at = ?, resolution = ? WHERE id = ? AND closed_at IS NULL",
        (now, None if resolution is None else resolution.value, row[0]),
    )
    return _episode((*row[:10], now, *row[11:16], resolution, row[17]))


def _mark_written(db: sqlite3.Connection, identities: Collection[str]) -> None:
    db.executemany(
        "UPDATE episodes SET written = 1 WHERE identity = ? AND closed_at IS NULL "
        "AND spell IN (?, ?)",
        [(identity, Spell.DRIFTED.value, Spell.MISSING.value) for identity in identities],
    )


def _changed_by_json(who: ChangedBy) -> dict[str, Any]:
    return {
        "user": who.user,
        "source_ip": who.source_ip,
        "time": who.time,
        "trace_id": who.trace_id,
        "request_id": who.request_id,
        "trace_name": who.trace_name,
    }


def _episode(row: _Row) -> Episode:
    (
        episode_id,
        kind,
        project_id,
        instance_id,
        name,
        key_id,
        resource,
        region,
        spell,
        opened_at,
        closed_at,
        fields,
        detail,
        revision,
        changed_by,
        attribution,
        resolution,
        written,
    ) = row[:18]
    who = None if changed_by is None else json.loads(changed_by)
    return Episode(
        id=episode_id,
        key=ResourceKey(Kind(kind), project_id, instance_id, name, key_id),
        resource=resource,
        region=region,
        spell=Spell(spell),
        opened_at=opened_at,
        closed_at=closed_at,
        fields=tuple(EpisodeField(**item) for item in json.loads(fields)),
        detail=detail,
        revision=revision,
        changed_by=None if who is None else ChangedBy(**who),
        attribution=attribution,
        resolution=None if resolution is None else Resolution(resolution),
        written=bool(written),
    )
