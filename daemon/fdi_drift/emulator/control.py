"""The control API under `/_emulator/`, for tests that drive the emulator over a real socket.

It has no authentication (the emulator is a test tool bound to loopback) and its requests are
neither recorded nor subject to faults or latency.

    GET    /_emulator/requests   the request log, a JSON list of {method, path, query, body,
                                 status, request_id}; request_id is the answer's X-Request-Id
    DELETE /_emulator/requests   empty the log (204)
    GET    /_emulator/faults     the planned faults still active
    POST   /_emulator/faults     plan a fault (201 {"id": n}); body keys: method, path, status,
                                 body, raw, headers, times, delay_ms, drip_ms, cut_after,
                                 processed (see faults.py); unknown keys are refused with 400
                                 so that a typo cannot go unnoticed
    DELETE /_emulator/faults     forget every planned fault (204)
    PUT    /_emulator/fighting   {"enabled": bool}: another writer undoes every update of FDI
                                 tasks (store.py) and DRS jobs (drs_store.py)
    GET    /_emulator/key-pairs  the access keys with their lockout state:
                                 [{access_key, failures, locked_until}], locked_until an
                                 X-Sdk-Date style UTC time or null; never a secret key
    PUT    /_emulator/key-pairs  [{"access_key": .., "secret_key": .., "owner"?: "DOMAIN/NAME"}]:
                                 replace every key pair (rotation, see credentials.py); answers
                                 like GET
    POST   /_emulator/traces     record a CTS trace as if someone changed a resource out of band
                                 (201 {"trace_id"}); body keys: project_id, service_type,
                                 resource_type, resource_id, trace_name (required), user
                                 ("DOMAIN/NAME", default emulator/console-user), resource_name,
                                 source_ip, trace_rating (normal), trace_type (ConsoleAction),
                                 time (epoch ms, default now); the CTS delay applies to it too
    DELETE /_emulator/traces     forget every CTS trace (204)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import orjson

from fdi_drift.emulator.credentials import KeyPair, KeyPairAuthority
from fdi_drift.emulator.cts import RATINGS, TraceStore
from fdi_drift.emulator.faults import UNSET, Fault, FaultInjector
from fdi_drift.emulator.iam import Caller
from fdi_drift.emulator.recording import RecordedRequest
from fdi_drift.emulator.replies import Reply, json_reply
from fdi_drift.emulator.signing import format_sdk_date
from fdi_drift.emulator.store import TaskStore

PREFIX = "/_emulator/"
_FAULT_KEYS = frozenset(
    {
        "method",
        "path",
        "status",
        "body",
        "raw",
        "headers",
        "times",
        "delay_ms",
        "drip_ms",
        "cut_after",
        "processed",
    }
)
_TRACE_REQUIRED = ("project_id", "service_type", "resource_type", "resource_id", "trace_name")
_TRACE_OPTIONAL = ("user", "resource_name", "source_ip", "trace_rating", "trace_type")
CONSOLE_USER = Caller("emulator", "console-user")  # who an out-of-band trace names by default
T = TypeVar("T")


class ControlApi:
    """Answers `/_emulator/...` from the emulator's request log, fault injector and key pairs.

    Without `credentials` the key-pair routes answer 404, without `traces` the trace routes.
    """

    def __init__(
        self,
        requests: list[RecordedRequest],
        faults: FaultInjector,
        store: TaskStore,
        *,
        credentials: KeyPairAuthority | None = None,
        traces: TraceStore | None = None,
    ) -> None:
        self._requests = requests
        self._faults = faults
        self._store = store
        self._credentials = credentials
        self._traces = traces

    def handle(self, method: str, path: str, body: bytes) -> Reply:
        """Answer one control request."""
        route = (method, path.removeprefix(PREFIX).rstrip("/"))
        if route == ("GET", "requests"):
            return json_reply(200, [entry.as_json() for entry in self._requests])
        if route == ("DELETE", "requests"):
            self._requests.clear()
            return Reply(204, b"")
        if route == ("GET", "faults"):
            return json_reply(200, [_describe(fault) for fault in self._faults.active])
        if route == ("POST", "faults"):
            return self._inject(body)
        if route == ("DELETE", "faults"):
            self._faults.clear()
            return Reply(204, b"")
        if route == ("PUT", "fighting"):
            return self._fighting(body)
        if route[1] == "key-pairs" and self._credentials is not None:
            if method == "GET":
                return self._key_pairs(self._credentials)
            if method == "PUT":
                return self._set_key_pairs(self._credentials, body)
        if route[1] == "traces" and self._traces is not None:
            if method == "POST":
                return _add_trace(self._traces, body)
            if method == "DELETE":
                self._traces.clear()
                return Reply(204, b"")
        return _error(404, f"no control route {method} {path}")

    def _inject(self, body: bytes) -> Reply:
        try:
            spec = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "the fault must be a JSON object")
        if not isinstance(spec, dict):
            return _error(400, "the fault must be a JSON object")
        unknown = sorted(set(spec) - _FAULT_KEYS)
        if unknown:
            return _error(400, f"unknown keys: {', '.join(unknown)}")
        try:
            fault = self._faults.inject(
                path=_typed(spec, "path", str, ""),
                method=_nullable(spec, "method", str, None),
                status=_nullable(spec, "status", int, 500),
                body=spec.get("body", UNSET),
                raw=_typed(spec, "raw", bool, False),
                headers=_headers(spec.get("headers")),
                times=_nullable(spec, "times", int, 1),
                delay_ms=_typed(spec, "delay_ms", int, 0),
                drip_ms=_typed(spec, "drip_ms", int, 0),
                cut_after=_nullable(spec, "cut_after", int, None),
                processed=_typed(spec, "processed", bool, False),
            )
        except ValueError as exc:
            return _error(400, str(exc))
        return json_reply(201, {"id": fault.id})

    def _fighting(self, body: bytes) -> Reply:
        try:
            spec = orjson.loads(body)
        except orjson.JSONDecodeError:
            spec = None
        if (
            not isinstance(spec, dict)
            or set(spec) != {"enabled"}
            or type(spec["enabled"]) is not bool
        ):
            return _error(400, 'the body must be {"enabled": true|false}')
        self._store.fighting = spec["enabled"]
        return json_reply(200, {"enabled": self._store.fighting})

    def _set_key_pairs(self, credentials: KeyPairAuthority, body: bytes) -> Reply:
        problem = 'the body must be [{"access_key": "..", "secret_key": ".."}, ...]'
        try:
            spec = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, problem)
        if not isinstance(spec, list) or not all(
            isinstance(item, dict)
            and {"access_key", "secret_key"} <= set(item) <= {"access_key", "secret_key", "owner"}
            and all(isinstance(value, str) for value in item.values())
            for item in spec
        ):
            return _error(400, problem)
        try:
            credentials.set_key_pairs(
                KeyPair(
                    item["access_key"],
                    item["secret_key"],
                    Caller.parse(item["owner"]) if "owner" in item else None,
                )
                for item in spec
            )
        except ValueError as exc:
            return _error(400, str(exc))
        return self._key_pairs(credentials)

    def _key_pairs(self, credentials: KeyPairAuthority) -> Reply:
        state = []
        for access_key in credentials.access_keys:
            until = credentials.locked_until(access_key)
            state.append(
                {
                    "access_key": access_key,
                    "failures": credentials.failures(access_key),
                    "locked_until": None if until is None else format_sdk_date(until),
                }
            )
        return json_reply(200, state)


def _add_trace(traces: TraceStore, body: bytes) -> Reply:
    problem = (
        f"the trace must be a JSON object of strings with {', '.join(_TRACE_REQUIRED)}, "
        f"and optionally {', '.join(_TRACE_OPTIONAL)} and time (epoch ms)"
    )
    try:
        spec = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(400, problem)
    if not isinstance(spec, dict):
        return _error(400, problem)
    time_ms = spec.pop("time", None)
    texts = {**dict.fromkeys(_TRACE_REQUIRED), **dict.fromkeys(_TRACE_OPTIONAL)}
    if (
        not set(_TRACE_REQUIRED) <= set(spec) <= set(texts)
        or not all(isinstance(value, str) and value for value in spec.values())
        or not (time_ms is None or (type(time_ms) is int and time_ms >= 0))
    ):
        return _error(400, problem)
    if spec.get("trace_rating", "normal") not in RATINGS:
        return _error(400, f"trace_rating must be one of {', '.join(RATINGS)}")
    try:
        caller = Caller.parse(spec["user"]) if "user" in spec else CONSOLE_USER
    except ValueError as exc:
        return _error(400, f"user: {exc}")
    rating = spec.get("trace_rating", "normal")
    trace = traces.add(
        spec["project_id"],
        trace_name=spec["trace_name"],
        service_type=spec["service_type"],
        resource_type=spec["resource_type"],
        resource_id=spec["resource_id"],
        resource_name=spec.get("resource_name", ""),
        caller=caller,
        source_ip=spec.get("source_ip", ""),
        trace_rating=rating,
        trace_type=spec.get("trace_type", "ConsoleAction"),
        code="200" if rating == "normal" else "",
        time_ms=time_ms,
    )
    return json_reply(201, {"trace_id": trace.trace_id})


def _typed(spec: Mapping[str, object], key: str, kind: type[T], default: T) -> T:
    return _checked(key, spec.get(key, default), kind)


def _nullable(spec: Mapping[str, object], key: str, kind: type[T], default: T | None) -> T | None:
    # JSON null means something for these keys: any method, no answer of its own, for ever,
    # no cut.
    value = spec.get(key, default)
    return None if value is None else _checked(key, value, kind)


def _checked(key: str, value: object, kind: type[T]) -> T:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{key} must be of type {kind.__name__}")
    return value


def _headers(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("headers must be an object of strings")
    return value


def _describe(fault: Fault) -> dict[str, object]:
    return {
        "id": fault.id,
        "method": fault.method,
        "path": fault.path.pattern,
        "status": None if fault.reply is None else fault.reply.status,
        "times": fault.times,
        "delay_ms": fault.delay_ms,
        "drip_ms": fault.drip_ms,
        "cut_after": fault.cut_after,
        "processed": fault.processed,
    }


def _error(status: int, message: str) -> Reply:
    return json_reply(status, {"error": message})
