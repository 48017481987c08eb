"""Fault injection: planned answers for matching requests, and random 500s and 429s.

Planned faults apply to every route except the control API; random ones to the cloud API
routes only (not IAM). Choices the emulator makes:

- `path` is a regular expression searched for in the request path (anchor it with `^...$` to
  match a whole path); `method` None matches every method.
- Faults are tried in the order they were injected; the first match is used and its `times`
  counts down (None: for ever).
- `status` None plans no answer of its own: the request gets its real answer, with the
  fault's delay, drip and cut.
- `delay_ms` is waited for before the route runs, or with `processed` after it has run.
- `processed` false (the default): a fault with a status answers instead of the route.
  `processed` true: the route runs first and changes state (a create really creates), then the
  client gets the fault's answer instead of the real one: a write whose answer was lost. Such
  a request is logged as soon as the route has run, before the delay.
- `drip_ms`: the headers go out at once, then the body one byte at a time, `drip_ms` apart
  (a slow-drip server); 0 sends the body in one piece.
- `cut_after`: the headers (with the full `Content-Length`) and this many body bytes go out,
  then the answer ends without the rest and the server drops the connection (uvicorn closes
  it, so the client sees an incomplete answer). A `cut_after` at or past the body's length
  cuts nothing. `httpx.ASGITransport` wants whole answers and fails on a cut one with an
  AssertionError; test cuts over a real socket.
- Once the answer is known, its planned delay (with `processed`), drip or cut is abandoned
  as soon as the client goes away, so a server is not kept busy for nobody.
- Without a `body`, a planned 429 answers as the API gateway does (with `Retry-After: 1` and
  the request id in the body); any other status answers
  `{"error_code": "FDI.3001", "error_msg": "Injected fault."}`. A `body` given is sent as it
  is, and a header given (`Date`, `X-Request-Id`, ...) replaces the emulator's own.
- Random faults draw one number per request from `random.Random(seed)`: below
  `throttle_rate` is a 429 (with `Retry-After: retry_after`, 1 second by default), below
  `throttle_rate + fail_rate` a 500. The same seed and the same sequence of requests give the
  same faults.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum

import orjson

from fdi_drift.emulator.replies import (
    JSON_CONTENT_TYPE,
    ErrorCode,
    Reply,
    internal_error,
    service_error,
    throttled,
)


class Unset(Enum):
    """Marks an argument left out, where None is a meaningful value (JSON null)."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned fault; `reply` None means the route's own answer, late, dripped or cut."""

    id: int
    path: re.Pattern[str]
    method: str | None
    reply: Reply | None
    times: int | None
    delay_ms: int
    drip_ms: int
    cut_after: int | None
    processed: bool

    @property
    def streamed(self) -> bool:
        """Whether the answer's body goes out dripped or cut rather than in one piece."""
        return self.drip_ms > 0 or self.cut_after is not None

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        return (self.method is None or self.method == method) and bool(self.path.search(path))


class FaultInjector:
    """The planned faults, shared by the in-process API and the control routes."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._left: dict[int, int | None] = {}
        self._next_id = 1

    def inject(
        self,
        *,
        path: str = "",
        method: str | None = None,
        status: int | None = 500,
        body: object = UNSET,
        raw: bool = False,
        headers: Mapping[str, str] | None = None,
        times: int | None = 1,
        delay_ms: int = 0,
        drip_ms: int = 0,
        cut_after: int | None = None,
        processed: bool = False,
    ) -> Fault:
        """Plan an answer for the next `times` requests matching `method` and `path`.

        `raw` sends `body` (a str or bytes) as it is, for malformed answers; otherwise `body`
        is encoded as JSON. `delay_ms`, `drip_ms`, `cut_after` and `processed` act as the
        module docstring says. Raises ValueError for arguments that make no sense.
        """
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for ever")
        for name, value in (("delay_ms", delay_ms), ("drip_ms", drip_ms), ("cut_after", cut_after)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        try:
            pattern = re.compile(path)
        except re.error as exc:
            raise ValueError(f"path is not a regular expression: {exc}") from exc
        reply = None if status is None else _reply(status, body, raw, headers or {})
        fault = Fault(
            id=self._next_id,
            path=pattern,
            method=method.upper() if method else None,
            reply=reply,
            times=times,
            delay_ms=delay_ms,
            drip_ms=drip_ms,
            cut_after=cut_after,
            processed=processed,
        )
        self._next_id += 1
        self._faults.append(fault)
        self._left[fault.id] = times
        return fault

    def clear(self) -> None:
        """Forget every planned fault."""
        self._faults.clear()
        self._left.clear()

    @property
    def active(self) -> tuple[Fault, ...]:
        """The faults still planned, in the order they are tried."""
        return tuple(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching the request, counted as used once."""
        for fault in self._faults:
            if fault.matches(method, path):
                left = self._left[fault.id]
                if left is not None:
                    if left <= 1:
                        self._faults.remove(fault)
                        del self._left[fault.id]
                    else:
                        self._left[fault.id] = left - 1
                return fault
        return None


class RandomFaults:
    """Random 500s and 429s at configured rates, repeatable through `seed`."""

    def __init__(
        self, fail_rate: float, throttle_rate: float, seed: int | None, retry_after: int = 1
    ) -> None:
        for name, rate in (("fail_rate", fail_rate), ("throttle_rate", throttle_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if fail_rate + throttle_rate > 1.0:
            raise ValueError("fail_rate + throttle_rate must not exceed 1")
        self._fail_rate = fail_rate
        self._throttle_rate = throttle_rate
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not cryptography
        self._retry_after = retry_after

    def draw(self) -> Reply | None:
        """A fault for this request, or None to answer normally."""
        if self._fail_rate == 0.0 and self._throttle_rate == 0.0:
            return None
        roll = self._random.random()
        if roll < self._throttle_rate:
            return throttled(self._retry_after)
        if roll < self._throttle_rate + self._fail_rate:
            return internal_error()
        return None


def _reply(status: int, body: object, raw: bool, headers: Mapping[str, str]) -> Reply:
    if not 200 <= status <= 599:
        raise ValueError("status must be between 200 and 599")
    extra = tuple((name.lower(), value) for name, value in headers.items())
    if raw:
        if isinstance(body, str):
            content = body.encode()
        elif isinstance(body, bytes):
            content = body
        else:
            raise ValueError("a raw body must be a string")
        reply = Reply(status, content, (("content-type", JSON_CONTENT_TYPE),))
    elif body is UNSET:
        base = (
            throttled()
            if status == 429
            else service_error(status, ErrorCode.INTERNAL, "Injected fault.")
        )
        reply = base
    else:
        try:
            content = orjson.dumps(body)
        except TypeError as exc:
            raise ValueError(f"body cannot be encoded as JSON: {exc}") from exc
        reply = Reply(status, content, (("content-type", JSON_CONTENT_TYPE),))
    given = {name for name, _ in extra}
    kept = tuple(pair for pair in reply.headers if pair[0] not in given)
    return replace(reply, headers=kept + extra)
