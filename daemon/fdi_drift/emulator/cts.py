"""Cloud Trace Service (CTS) for the emulator: a trace of every successful write, and ListTraces.

    GET /v3/{project_id}/traces?trace_type=system&limit=&from=&to=&next=&...
        -> 200 {"traces": [Traces], "meta_data": {"count": n, "marker": "<trace_id>" | null}}

Facts from the CTS API reference ("Querying a Trace List", cts_api_0311) and the SDK models
(`huaweicloudsdkcts` ListTracesResponse, Traces, UserInfo, BaseUser, MetaData):

- `trace_type` is mandatory, `system` or `data`; `limit` defaults to 10, at most 200; `from`
  and `to` are 13-digit UTC millisecond timestamps, neither included, by default an hour ago
  and now (the emulator's choice: a default `to` includes the current millisecond, so that a
  trace made just now is listed); `tracker_name` of a `system` query can only be `system`
  (400 `CTS.0204`); `trace_id` makes every other criterion void; `trace_rating` is normal,
  warning or incident.
- Traces come newest first. `meta_data.count` is the number returned, `meta_data.marker` the
  id of the last one, to pass as `next` for older traces; null once everything is returned.
- A trace is a Traces object: `time` and `record_time` are epoch milliseconds, `code` the
  HTTP status as text, `trace_type` `ApiCall` for an API call, `trace_rating` `normal` for a
  success. Only the last seven days are kept, and management traces show up about a minute
  after the operation (the delay, `cts_delay_seconds`, is 0 unless configured).
- Error bodies are `{"error_code": "CTS.xxxx", "error_msg"}`. The gateway's refusals
  (authentication, project scope, throttling) are its own `APIG.*` answers, as for every route.
- ROMA Connect's FDI operations are recorded as resource type `task` with trace names
  `createTask`, `updateTask`, `deleteTask`, `operateTask` (start/stop) and `handleTask`
  (manual start/stop); DRS's as resource type `job` with `createJob`, `modifyJob`
  (`ModifyJob` on the newer pages), `deleteJob`, `startJob`, `retryJob`.

Choices where the pages are silent:

- Service types are `ROMA` and `DRS`, the services' acronyms (CTS wants "the acronym of a
  cloud service ... composed of uppercase letters"). API versions are `v2` and `v5`, the
  path's.
- Trace names per route: a common task update `updateTask`, run and terminate `operateTask`,
  a composite task's create `createTask`, its modify and its init `updateTask` (no page lists
  composite operations; init writes mappings), a DRS typed update `ModifyJob`. The resource is
  the task or job (an init without `task_id` names the id it answered, though nothing is
  stored); `resource_name` its name after the write, `""` if unknown.
- `user` is the caller (iam.py's Caller): `id`, `name`, `user_name`, `domain` {`id`, `name`},
  `account_id` (the domain id), `principal_id` (the user id), `principal_urn`
  (`iam::<account-id>:user:<name>`, the documented form) and `principal_is_root_user`
  `"false"`. No `access_key_id`, `type`, `invoked_by` or `session_context`.
- `request` and `response` are left out: a body may carry secrets (a task_detail may hold a
  data source password). `endpoint` is the scheme and host the write was sent to (the emulator
  has no console), `resource_url` the resource's API path; `location_info` and `message` are
  `""`, `read_only` false. `record_time` is `time` plus the delay, and a trace is listed only
  from then on.
- Invalid query parameters answer 400 `CTS.0003` (the one documented code for an invalid
  request) with `error_msg` `Invalid query parameter [name]. ...`; so do a `from` not before
  `to`, a span over seven days, and a `next` that names no trace of the project. A project id
  the path check refuses answers 403 `CTS.0012`. A `data` query answers no traces (the
  emulator records management traces only). `access_key_id`, `enterprise_project_id` and any
  other parameter are ignored. Empty filter values count as absent.
- Filters match exactly; `user` is the user name.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from fdi_drift.emulator.iam import Caller
from fdi_drift.emulator.replies import Reply, json_reply

MAX_LIMIT = 200
DEFAULT_LIMIT = 10
RETENTION_MS = 7 * 24 * 3600 * 1000  # "records of operations in the last seven days"
DEFAULT_WINDOW_MS = 3600 * 1000  # `from` defaults to an hour ago
RATINGS = ("normal", "warning", "incident")
API_CALL = "ApiCall"
_TIMESTAMP = re.compile(r"[0-9]{13}")
_COUNT = re.compile(r"[0-9]{1,3}")
# Query parameter -> the stored trace's attribute it must equal.
_FILTERS = {
    "service_type": "service_type",
    "user": "user_name",
    "resource_id": "resource_id",
    "resource_name": "resource_name",
    "resource_type": "resource_type",
    "trace_name": "trace_name",
    "trace_rating": "trace_rating",
}


class CtsErrorCode(StrEnum):
    """The CTS error codes the emulator answers with (the API reference's table)."""

    INVALID_REQUEST = "CTS.0003"
    INVALID_PROJECT = "CTS.0012"
    SYSTEM_TRACKER_ONLY = "CTS.0204"


@dataclass(frozen=True, slots=True)
class Operation:
    """What CTS calls a write: the service, the resource type and the trace name."""

    service_type: str
    resource_type: str
    trace_name: str
    api_version: str


UPDATE_TASK = Operation("ROMA", "task", "updateTask", "v2")
OPERATE_TASK = Operation("ROMA", "task", "operateTask", "v2")
CREATE_TASK = Operation("ROMA", "task", "createTask", "v2")
MODIFY_JOB = Operation("DRS", "job", "ModifyJob", "v5")


@dataclass(frozen=True, slots=True)
class Write:
    """A write the emulator answered with a 2xx, described for its trace."""

    operation: Operation
    project_id: str
    resource_id: str
    resource_name: str
    resource_url: str  # the resource's API path
    caller: Caller
    source_ip: str
    endpoint: str  # scheme and host the request was sent to
    code: int = 200


@dataclass(frozen=True, slots=True)
class StoredTrace:
    """One trace as CTS keeps it; `sequence` orders traces of the same millisecond."""

    project_id: str
    sequence: int
    trace_id: str
    time_ms: int
    record_time_ms: int
    trace_name: str
    service_type: str
    resource_type: str
    resource_id: str
    resource_name: str
    caller: Caller
    source_ip: str
    trace_rating: str
    trace_type: str
    request_id: str
    code: str
    api_version: str
    endpoint: str
    resource_url: str

    @property
    def user_name(self) -> str:
        return self.caller.name

    @property
    def order(self) -> tuple[int, int]:
        """Sort key, oldest first."""
        return self.time_ms, self.sequence

    def as_json(self) -> dict[str, object]:
        """The Traces object ListTraces answers; empty optional texts are left out."""
        caller = self.caller
        user = {
            "id": caller.user_id,
            "name": caller.name,
            "user_name": caller.name,
            "domain": {"id": caller.domain_id, "name": caller.domain},
            "account_id": caller.domain_id,
            "principal_id": caller.user_id,
            "principal_urn": f"iam::{caller.domain_id}:user:{caller.name}",
            "principal_is_root_user": "false",
        }
        trace: dict[str, object] = {
            "trace_id": self.trace_id,
            "trace_name": self.trace_name,
            "trace_rating": self.trace_rating,
            "trace_type": self.trace_type,
            "code": self.code,
            "api_version": self.api_version,
            "message": "",
            "time": self.time_ms,
            "record_time": self.record_time_ms,
            "user": user,
            "service_type": self.service_type,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "resource_name": self.resource_name,
            "source_ip": self.source_ip,
            "request_id": self.request_id,
            "location_info": "",
            "endpoint": self.endpoint,
            "resource_url": self.resource_url,
            "read_only": False,
        }
        optional = ("code", "api_version", "request_id", "endpoint", "resource_url")
        return {k: v for k, v in trace.items() if k not in optional or v != ""}


class TraceStore:
    """The traces of every project, kept seven days of the emulator's clock.

    A trace is listed once its `record_time` (its time plus `delay_seconds`) has passed.
    Tests reach it as `Emulator.traces`.
    """

    def __init__(self, clock: Callable[[], float], *, delay_seconds: float = 0.0) -> None:
        if delay_seconds < 0:
            raise ValueError("the CTS delay must not be negative")
        self._clock = clock
        self._delay_ms = round(delay_seconds * 1000)
        self._traces: dict[str, list[StoredTrace]] = {}
        self._sequence = itertools.count()

    def now_ms(self) -> int:
        """The emulator's clock in epoch milliseconds."""
        return int(self._clock() * 1000)

    def record(self, write: Write, request_id: str) -> StoredTrace:
        """Keep the trace of `write`, answered with `request_id`, as of now."""
        operation = write.operation
        return self.add(
            write.project_id,
            trace_name=operation.trace_name,
            service_type=operation.service_type,
            resource_type=operation.resource_type,
            resource_id=write.resource_id,
            resource_name=write.resource_name,
            caller=write.caller,
            source_ip=write.source_ip,
            request_id=request_id,
            code=str(write.code),
            api_version=operation.api_version,
            endpoint=write.endpoint,
            resource_url=write.resource_url,
        )

    def add(
        self,
        project_id: str,
        *,
        trace_name: str,
        service_type: str,
        resource_type: str,
        resource_id: str,
        caller: Caller,
        resource_name: str = "",
        source_ip: str = "",
        trace_rating: str = "normal",
        trace_type: str = API_CALL,
        request_id: str = "",
        code: str = "200",
        api_version: str = "",
        endpoint: str = "",
        resource_url: str = "",
        time_ms: int | None = None,
    ) -> StoredTrace:
        """Keep a trace made at `time_ms` (default now) under a new trace id."""
        made = self.now_ms() if time_ms is None else time_ms
        trace = StoredTrace(
            project_id=project_id,
            sequence=next(self._sequence),
            trace_id=str(uuid.uuid4()),
            time_ms=made,
            record_time_ms=made + self._delay_ms,
            trace_name=trace_name,
            service_type=service_type,
            resource_type=resource_type,
            resource_id=resource_id,
            resource_name=resource_name,
            caller=caller,
            source_ip=source_ip,
            trace_rating=trace_rating,
            trace_type=trace_type,
            request_id=request_id,
            code=code,
            api_version=api_version,
            endpoint=endpoint,
            resource_url=resource_url,
        )
        oldest = self.now_ms() - RETENTION_MS
        kept = [t for t in self._traces.get(project_id, []) if t.time_ms > oldest]
        self._traces[project_id] = [*kept, trace]
        return trace

    def recorded(self, project_id: str) -> list[StoredTrace]:
        """Every trace of the project, listed yet or not, in the order recorded."""
        return list(self._traces.get(project_id, []))

    def find(self, project_id: str, trace_id: str) -> StoredTrace | None:
        """The project's trace with that id, listed yet or not."""
        return next((t for t in self._traces.get(project_id, []) if t.trace_id == trace_id), None)

    def listed(self, project_id: str) -> list[StoredTrace]:
        """The traces ListTraces may show now: recorded, not expired; newest first."""
        now = self.now_ms()
        visible = [
            t
            for t in self._traces.get(project_id, [])
            if t.record_time_ms <= now and t.time_ms > now - RETENTION_MS
        ]
        return sorted(visible, key=lambda t: t.order, reverse=True)

    def clear(self) -> None:
        """Forget every trace."""
        self._traces.clear()


class _QueryError(ValueError):
    def __init__(self, code: CtsErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """A checked ListTraces query."""

    trace_type: str
    limit: int
    from_ms: int
    to_ms: int
    next_marker: str | None = None
    trace_id: str | None = None
    filters: Mapping[str, str] = field(default_factory=dict)


class CtsApi:
    """Answers `GET /v3/{project_id}/traces` from a TraceStore; auth and path id checked before."""

    def __init__(self, store: TraceStore) -> None:
        self._store = store

    def list_traces(self, project_id: str, params: Mapping[str, str]) -> Reply:
        """ListTraces: one page, newest first, with the marker of the next."""
        try:
            query = parse_query(params, self._store.now_ms())
            marker = None
            if query.next_marker is not None:
                marker = self._store.find(project_id, query.next_marker)
                if marker is None:
                    raise _invalid("next", "It names no trace of this project.")
        except _QueryError as exc:
            return cts_error(400, exc.code, str(exc))
        matching: list[StoredTrace] = []
        if query.trace_type == "system":
            matching = [t for t in self._store.listed(project_id) if _matches(t, query)]
        if marker is not None:
            matching = [t for t in matching if t.order < marker.order]
        page = matching[: query.limit]
        more = len(matching) > len(page)
        return json_reply(
            200,
            {
                "traces": [trace.as_json() for trace in page],
                "meta_data": {"count": len(page), "marker": page[-1].trace_id if more else None},
            },
        )


def parse_query(params: Mapping[str, str], now_ms: int) -> TraceQuery:
    """Check ListTraces' query parameters; raises _QueryError naming the first bad one."""
    given = {key: value for key, value in params.items() if value != ""}
    trace_type = given.get("trace_type")
    if trace_type not in ("system", "data"):
        raise _invalid("trace_type", "It is required and must be system or data.")
    tracker = given.get("tracker_name")
    if trace_type == "system" and tracker not in (None, "system"):
        raise _QueryError(
            CtsErrorCode.SYSTEM_TRACKER_ONLY,
            "The tracker_name parameter of a management tracker can only be set to system.",
        )
    limit = DEFAULT_LIMIT
    if "limit" in given:
        text = given["limit"]
        if not _COUNT.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
            raise _invalid("limit", f"It must be an integer from 1 to {MAX_LIMIT}.")
        limit = int(text)
    to_ms = _timestamp(given, "to", now_ms + 1)  # by default up to now, now included
    from_ms = _timestamp(given, "from", now_ms - DEFAULT_WINDOW_MS)
    if from_ms >= to_ms:
        raise _invalid("from", "It must be before to.")
    if to_ms - from_ms > RETENTION_MS:
        raise _invalid("from", "from and to must be at most seven days apart.")
    rating = given.get("trace_rating")
    if rating is not None and rating not in RATINGS:
        raise _invalid("trace_rating", f"It must be one of {', '.join(RATINGS)}.")
    return TraceQuery(
        trace_type=trace_type,
        limit=limit,
        from_ms=from_ms,
        to_ms=to_ms,
        next_marker=given.get("next"),
        trace_id=given.get("trace_id"),
        filters={key: given[key] for key in _FILTERS if key in given},
    )


def _matches(trace: StoredTrace, query: TraceQuery) -> bool:
    if query.trace_id is not None:  # "other query criteria will not take effect"
        return trace.trace_id == query.trace_id
    if not query.from_ms < trace.time_ms < query.to_ms:
        return False
    return all(getattr(trace, _FILTERS[key]) == value for key, value in query.filters.items())


def _timestamp(given: Mapping[str, str], name: str, default: int) -> int:
    if name not in given:
        return default
    if not _TIMESTAMP.fullmatch(given[name]):
        raise _invalid(name, "It must be a UTC timestamp in milliseconds, 13 digits.")
    return int(given[name])


def _invalid(name: str, problem: str) -> _QueryError:
    return _QueryError(CtsErrorCode.INVALID_REQUEST, f"Invalid query parameter [{name}]. {problem}")


def cts_error(status: int, code: CtsErrorCode, message: str) -> Reply:
    """A CTS error answer: `{"error_code": "CTS.xxxx", "error_msg": ...}`."""
    return json_reply(status, {"error_code": str(code), "error_msg": message})


def invalid_project() -> Reply:
    """The 403 for a project id the path check refuses (the error code table's CTS.0012)."""
    return cts_error(
        403,
        CtsErrorCode.INVALID_PROJECT,
        "Invalid project ID. Check whether the project ID is correct.",
    )
