"""What each status page shows, as one JSON-shaped dict: the page and its twin read the same.

`overview`, `resource_view` and `history_view` make the data; server.py renders it through a
template, or returns it under /api/v1/ as it is, so the two cannot disagree. Times in it are
RFC 3339 strings; ages are seconds.

A resource's address is /resources/KIND/PROJECT/INSTANCE/NAME (and the same under /api/v1/):
each segment percent-encoded whole, "/" included; an empty one (a DRS job's instance) is "-";
one that is "-", only dots, or starts with "~" gets a leading "~", since a browser resolves
dot segments even when encoded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import PurePath
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool

from fdi_drift.drift.model import CycleReport, FieldChange, ResourceKey, ResourceStatus, Status
from fdi_drift.drift.report import ATTENTION_ORDER
from fdi_drift.errors import account
from fdi_drift.history import ChangedBy, Episode, EpisodeField, History, Spell
from fdi_drift.metrics import DesiredStateHealth
from fdi_drift.times import parse_duration, rfc3339

# A plan reads the resource live: a page waits this long for it, then says it is unavailable.
PLAN_TIMEOUT_SECONDS = 5.0
DEFAULT_REFRESH_SECONDS = 30
_MIN_REFRESH_SECONDS = 5
_HISTORY_LIMIT = 500
_EPISODES_PER_RESOURCE = 200
# Needing attention first, as the text report orders them.
_ORDER = {status: rank for rank, status in enumerate(ATTENTION_ORDER)}
_DRIFTING = frozenset({Status.DRIFTED, Status.MISSING, Status.BLOCKED})
_T = TypeVar("_T")


@dataclass(slots=True)
class DaemonState:
    """What the daemon knows now; written by the service, read by every request.

    `audit_records` reads a resource's writes from the audit log (blocking: it is called in a
    worker thread); `plan` returns a resource's reconcile plan as text and JSON.
    """

    health: DesiredStateHealth | None = None
    report: CycleReport | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)
    history: History | None = None
    audit_records: Callable[[ResourceKey], list[dict[str, Any]]] | None = None
    plan: Callable[[ResourceKey], Awaitable[tuple[str, list[dict[str, Any]]]]] | None = None
    desired_root: str = ""
    clock: Callable[[], float] = time.time
    plan_timeout_seconds: float = PLAN_TIMEOUT_SECONDS


class BadQuery(ValueError):
    """A query parameter a page cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What a page's query asks for: the resources' kind, status, project and instance, and
    for history the spell and how far back (`since`, a duration like 2h or 7d)."""

    kind: str = ""
    status: str = ""
    project: str = ""
    instance: str = ""
    spell: str = ""
    since: str = ""

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        """The filters in `query`; BadQuery for a status, spell or duration that is no such."""
        found = cls(**{f.name: query.get(f.name, "").strip() for f in fields(cls)})
        if found.status and found.status not in Status.__members__.values():
            raise BadQuery(f"status must be one of {', '.join(Status)}")
        if found.spell and found.spell not in Spell.__members__.values():
            raise BadQuery(f"spell must be one of {', '.join(Spell)}")
        if found.since:
            try:
                parse_duration(found.since)
            except ValueError as error:
                raise BadQuery(f"since: {error}") from None
        return found

    @property
    def since_seconds(self) -> float | None:
        return parse_duration(self.since) if self.since else None

    def admits(self, key: ResourceKey, status: Status) -> bool:
        """Whether an overview row passes: unmanaged resources only when asked for by status."""
        if self.status:
            return status.value == self.status and self.in_scope(key)
        return status is not Status.UNMANAGED and self.in_scope(key)

    def in_scope(self, key: ResourceKey) -> bool:
        """Whether a resource is of the kind, project and instance asked for."""
        return (
            (not self.kind or str(key.kind) == self.kind)
            and (not self.project or key.project_id == self.project)
            and (not self.instance or key.instance_id == self.instance)
        )


def refresh_seconds(query: Mapping[str, str]) -> int:
    """The overview's auto-refresh period from `?refresh=`: 0 turns it off."""
    text = query.get("refresh", "").strip()
    if not text:
        return DEFAULT_REFRESH_SECONDS
    if not text.isdigit() or len(text) > 6:
        raise BadQuery("refresh must be a number of seconds, 0 for none")
    return 0 if int(text) == 0 else max(int(text), _MIN_REFRESH_SECONDS)


def resource_path(key: ResourceKey) -> str:
    """The KIND/PROJECT/INSTANCE/NAME part of a resource's address (see the module's docstring)."""
    parts = (str(key.kind), key.project_id, key.instance_id, key.name)
    return "/".join(_encode_segment(part) for part in parts)


def parse_resource_path(raw: str) -> tuple[str, str, str, str] | None:
    """The kind, project, instance and name a raw (still encoded) path part names, if four."""
    segments = raw.split("/")
    if len(segments) != 4:
        return None
    kind, project, instance, name = (_decode_segment(s) for s in segments)
    return kind, project, instance, name


def _encode_segment(value: str) -> str:
    if not value:
        return "-"
    text = quote(value, safe="")
    return f"~{text}" if value == "-" or value.startswith("~") or not value.strip(".") else text


def _decode_segment(segment: str) -> str:
    value = unquote(segment)
    if value == "-":
        return ""
    return value[1:] if value.startswith("~") else value


async def overview(state: DaemonState, filters: Filters, refresh: int) -> dict[str, Any]:
    """What the overview page shows: counts, the last cycle, the desired state, the rows."""
    now = state.clock()
    report = state.report
    statuses = report.statuses if report else ()
    history, open_drift = await _read_store(
        state.history, lambda h: h.open_drift(), dict[ResourceKey, Episode]()
    )
    by_status = {s.value: 0 for s in Status}
    by_kind: dict[str, dict[str, int]] = {}
    for item in statuses:
        by_status[item.status.value] += 1
        kind = by_kind.setdefault(str(item.key.kind), {s.value: 0 for s in Status})
        kind[item.status.value] += 1
    shown = sorted(
        (s for s in statuses if filters.admits(s.key, s.status)),
        key=lambda s: (_ORDER[s.status], str(s.key.kind), s.key.name, s.key.project_id),
    )
    return {
        "now": rfc3339(now),
        "filters": asdict(filters),
        "refresh_seconds": refresh,
        "choices": _choices(s.key for s in statuses),
        "counts": {"by_status": by_status, "by_kind": dict(sorted(by_kind.items()))},
        "last_cycle": None if report is None else _cycle(report, now),
        "desired_state": desired_state_of(state),
        "history": history,
        "resources": [_row(s, open_drift.get(s.key), now) for s in shown],
        "resources_total": len(statuses),
    }


async def resource_view(state: DaemonState, where: tuple[str, str, str, str]) -> dict[str, Any]:
    """What a resource's page shows; LookupError when the last report does not hold it."""
    status = _find(state.report, where)
    if status is None:
        raise LookupError(where)
    now = state.clock()
    history, episodes = await _read_store(
        state.history,
        lambda h: h.episodes(key=status.key, limit=_EPISODES_PER_RESOURCE),
        list[Episode](),
    )
    drift = next(
        (e for e in episodes if e.open and e.spell in (Spell.DRIFTED, Spell.MISSING)), None
    )
    source = status.source
    desired_file = (
        str(PurePath(state.desired_root, source)) if source and state.desired_root else source
    )
    return {
        "now": rfc3339(now),
        "resource": {**_row(status, drift, now), "desired_file": desired_file},
        "history": history,
        "episodes": [_episode(e, now) for e in episodes],
        "audit": await _writes(state, status.key),
        "plan": await _plan(state, status.key),
    }


async def history_view(state: DaemonState, filters: Filters) -> dict[str, Any]:
    """What the history page shows: the store's episodes, newest first, filtered."""
    now = state.clock()
    seconds = filters.since_seconds
    since = None if seconds is None else now - seconds
    history, episodes = await _read_store(
        state.history, lambda h: h.episodes(since=since, limit=_HISTORY_LIMIT), list[Episode]()
    )
    # `status` is the resource's in the last report: one it no longer holds has none.
    current = {s.key: s.status.value for s in state.report.statuses} if state.report else {}
    shown = [
        e
        for e in episodes
        if filters.in_scope(e.key)
        and (not filters.status or current.get(e.key) == filters.status)
        and (not filters.spell or e.spell.value == filters.spell)
    ]
    return {
        "now": rfc3339(now),
        "filters": asdict(filters),
        "choices": _choices(e.key for e in episodes),
        "history": history,
        "episodes": [_episode(e, now) for e in shown],
        "searched": len(episodes),
        "truncated": len(episodes) >= _HISTORY_LIMIT,
    }


def _cycle(report: CycleReport, now: float) -> dict[str, Any]:
    return {
        "revision": report.revision,
        "started_at": rfc3339(report.started_at),
        "finished_at": rfc3339(report.finished_at),
        "age_seconds": round(now - report.finished_at, 3),
        "duration_seconds": round(report.finished_at - report.started_at, 3),
        "complete": report.complete,
    }


def desired_state_of(state: DaemonState) -> dict[str, Any]:
    health = state.health
    return {
        "valid": health.valid if health else None,
        "revision": health.revision if health else None,
        "error": health.error if health else "not loaded yet",
        "problems": list(state.problems),
    }


def _choices(keys: Iterable[ResourceKey]) -> dict[str, list[str]]:
    """The values each filter can take here, for the form's lists."""
    found: dict[str, set[str]] = {"kind": set(), "project": set(), "instance": set()}
    for key in keys:
        found["kind"].add(str(key.kind))
        found["project"].add(key.project_id)
        if key.instance_id:
            found["instance"].add(key.instance_id)
    return {
        **{name: sorted(values) for name, values in found.items()},
        "status": [s.value for s in ATTENTION_ORDER],
        "spell": [s.value for s in Spell],
    }


def _row(status: ResourceStatus, drift: Episode | None, now: float) -> dict[str, Any]:
    """One resource as the pages list it: identity, status, changes, drift age, attribution."""
    key = status.key
    drifting = status.status in _DRIFTING
    since = drift.opened_at if drift else status.drift_since if drifting else None
    return {
        **_identity(key),
        "id": status.live_id or key.id,
        "region": status.region,
        "account": status.account,
        "status": status.status.value,
        "reason": status.reason,
        "block": status.block.value if status.block else None,
        "cause": status.cause.value if status.cause else None,
        "source": status.source,
        "changes": _changes(status.changes),
        "drift_since": rfc3339(since),
        "drift_age_seconds": None if since is None else round(now - since, 3),
        "episode_id": drift.id if drift else None,
        "changed_by": _changed_by(drift.changed_by) if drift else None,
        "attribution": drift.attribution if drift else None,
    }


def _identity(key: ResourceKey) -> dict[str, Any]:
    path = resource_path(key)
    return {
        "kind": str(key.kind),
        "project_id": key.project_id,
        "instance_id": key.instance_id,
        "name": key.name,
        "links": {"page": f"/resources/{path}", "api": f"/api/v1/resources/{path}"},
    }


def _changes(changes: Iterable[FieldChange | EpisodeField]) -> list[dict[str, Any]]:
    return [
        {"pointer": c.pointer, "op": str(c.op), "live": c.live, "desired": c.desired}
        for c in changes
    ]


def _changed_by(who: ChangedBy | None) -> dict[str, Any] | None:
    return None if who is None else who.to_json()


def _episode(episode: Episode, now: float) -> dict[str, Any]:
    end = episode.closed_at if episode.closed_at is not None else now
    return {
        **_identity(episode.key),
        "id": episode.id,
        "live_id": episode.resource,
        "region": episode.region,
        "spell": episode.spell.value,
        "open": episode.open,
        "opened_at": rfc3339(episode.opened_at),
        "closed_at": rfc3339(episode.closed_at),
        "duration_seconds": round(end - episode.opened_at, 3),
        "resolution": episode.resolution.value if episode.resolution else None,
        "written": episode.written,
        "detail": episode.detail,
        "revision": episode.revision,
        "changed_by": _changed_by(episode.changed_by),
        "attribution": episode.attribution,
        "fields": _changes(episode.fields),
    }


async def _read_store(
    history: History | None, read: Callable[[History], _T], nothing: _T
) -> tuple[dict[str, Any], _T]:
    """What `read` gets from the store, and whether it is available (else why not)."""
    if history is None:
        return {"available": False, "error": "no history store is configured"}, nothing
    try:
        # In a worker thread: the store's lock may be held by a cycle's write that waits out
        # another process's transaction, and this loop also answers /metrics.
        found = await run_in_threadpool(read, history)
    except Exception as error:  # a page shows what it has
        return {"available": False, "error": account(error)}, nothing
    if not history.healthy:  # the store answers nothing while it fails
        return {"available": False, "error": history.error}, nothing
    return {"available": True, "error": ""}, found


async def _writes(state: DaemonState, key: ResourceKey) -> dict[str, Any]:
    """The resource's writes from the audit log: one per intent, its outcome beside it."""
    if state.audit_records is None:
        return {"available": False, "error": "no audit log is configured", "writes": []}
    try:
        records = await run_in_threadpool(state.audit_records, key)
    except Exception as error:
        return {"available": False, "error": account(error), "writes": []}
    writes: dict[str, dict[str, Any]] = {}
    for record in records:  # newest first: an outcome before its intent
        write = writes.setdefault(
            str(record.get("id")),
            {"id": str(record.get("id")), "intent_at": None, "revision": None, "requests": []}
            | {"outcome_at": None, "result": None, "detail": None},
        )
        if record.get("event") == "intent":
            requests = record.get("requests")
            write["intent_at"] = _moment(record.get("time"))
            write["revision"] = _text(record.get("revision"))
            write["requests"] = [
                _text(r.get("request")) for r in requests or () if isinstance(r, dict)
            ]
        elif record.get("event") == "outcome":
            write["outcome_at"] = _moment(record.get("time"))
            write["result"] = _text(record.get("result"))
            write["detail"] = _text(record.get("detail"))
    return {"available": True, "error": "", "writes": list(writes.values())}


def _moment(value: object) -> str | None:
    """An audit record's time in the pages' RFC 3339 form; as written if it is not one."""
    try:
        return rfc3339(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return _text(value)


def _text(value: object) -> str | None:
    """A value from the audit log as text: the log is a file anyone with access could edit."""
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


async def _plan(state: DaemonState, key: ResourceKey) -> dict[str, Any]:
    """The resource's reconcile plan, read live under a deadline; else why there is none."""
    error = "this process makes no plans"
    if state.plan is not None:
        try:
            text, body = await asyncio.wait_for(state.plan(key), state.plan_timeout_seconds)
        except TimeoutError:
            error = f"no plan within {state.plan_timeout_seconds:g} s"
        except Exception as failure:
            error = account(failure)
        else:
            return {"available": True, "error": "", "text": text, "json": body}
    return {"available": False, "error": error, "text": None, "json": None}


def _find(report: CycleReport | None, where: tuple[str, str, str, str]) -> ResourceStatus | None:
    for status in report.statuses if report else ():
        key = status.key
        if (str(key.kind), key.project_id, key.instance_id, key.name) == where:
            return status
    return None


def compact(value: object) -> str:
    """A JSON value as compact text, for a table cell."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
