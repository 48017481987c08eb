"""Retry safety and the total deadline: writes are repeated only when they never left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable

import httpx
import pytest

from fdi_drift.cloud.client import MAYBE_PROCESSED, ApiClient
from fdi_drift.errors import OutcomeUnknownError, TransportError
from tests.cloud.fakes import FakeTime, Script, json_response, make_api

OK = json_response(200, {"ok": True})
FDI_500 = json_response(500, {"error_code": "FDI.0500", "error_msg": "internal error"})
DEADLINE_SECONDS = 30.0


async def guarded(api: ApiClient, method: str, path: str = "/x") -> object:
    """`api.request`, failing the test instead of hanging when nothing ends the attempt."""
    try:
        return await asyncio.wait_for(api.request(method, path), DEADLINE_SECONDS)
    except TimeoutError:
        pytest.fail(f"{method} {path} still running after {DEADLINE_SECONDS}s: no total deadline")


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.ReadError,
        httpx.WriteError,
        httpx.RemoteProtocolError,
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_writes_that_may_have_been_processed_are_not_retried(
    failure: type[httpx.TransportError], method: str
) -> None:
    """A write failing once it may have reached the service raises OutcomeUnknownError at once."""
    clock = FakeTime()
    script = Script(failure, OK)
    api = make_api(script, clock)
    with pytest.raises(OutcomeUnknownError) as caught:
        await api.request(method, "/v2/p/multi-tasks", json={"task_name": "t"})
    assert isinstance(caught.value.__cause__, failure)
    assert caught.value.request == f"{method} /v2/p/multi-tasks"
    assert MAYBE_PROCESSED in str(caught.value) and failure.__name__ in str(caught.value)
    assert len(script.seen) == 1 and clock.sleeps == []


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError]
)
async def test_writes_that_never_left_are_retried_then_raise_transport_error(
    failure: type[httpx.TransportError],
) -> None:
    """A write that failed before it was sent is retried like a read, then TransportError."""
    clock = FakeTime()
    script = Script(failure)
    api = make_api(script, clock)
    with pytest.raises(TransportError) as caught:
        await api.request("POST", "/x", json={})
    assert type(caught.value) is TransportError
    assert isinstance(caught.value.__cause__, failure)
    assert len(script.seen) == 4 and clock.sleeps == [0.5, 1.0, 2.0]


async def test_write_answered_5xx_is_not_retried() -> None:
    """A 500 to a write raises OutcomeUnknownError with the status, code and message, once."""
    clock = FakeTime()
    script = Script(FDI_500, OK)
    api = make_api(script, clock)
    with pytest.raises(OutcomeUnknownError) as caught:
        await api.request("POST", "/v2/p/multi-tasks", json={})
    assert str(caught.value) == (
        f"POST /v2/p/multi-tasks: HTTP 500 FDI.0500: internal error; {MAYBE_PROCESSED}"
    )
    assert len(script.seen) == 1 and clock.sleeps == []


async def test_write_throttled_is_retried_after_retry_after() -> None:
    """A 429 to a write means it was refused unseen: retried after Retry-After."""
    clock = FakeTime()
    script = Script(json_response(429, {}, {"Retry-After": "3"}), OK)
    api = make_api(script, clock)
    assert await api.request("POST", "/x", json={}) == {"ok": True}
    assert clock.sleeps == [3.0] and len(script.seen) == 2


async def test_undecodable_answer_to_a_write_is_outcome_unknown() -> None:
    """An answer whose body cannot be decoded means the write arrived: OutcomeUnknownError."""

    def broken(request: httpx.Request) -> httpx.Response:
        gzip = {"Content-Encoding": "gzip"}
        return httpx.Response(200, headers=gzip, stream=httpx.ByteStream(b"not gzip"))

    api = make_api(broken, FakeTime())
    with pytest.raises(OutcomeUnknownError) as caught:
        await api.request("POST", "/x", json={})
    assert isinstance(caught.value.__cause__, httpx.DecodingError)
    with pytest.raises(TransportError) as read:
        await api.request("GET", "/x")
    assert type(read.value) is TransportError


async def never_answer(request: httpx.Request) -> httpx.Response:
    """A transport handler that accepts the request and never answers."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def test_an_attempt_that_never_ends_hits_the_total_deadline() -> None:
    """A read that gets no complete answer within `timeout` is retried, then TransportError."""
    clock = FakeTime()
    calls: list[tuple[str, str, str, float]] = []
    api = make_api(never_answer, clock, timeout=0.05, observer=lambda *call: calls.append(call))
    with pytest.raises(TransportError) as caught:
        await guarded(api, "GET")
    assert (
        str(caught.value) == "GET /x: timed out: no complete answer within 0.05s (after 4 attempts)"
    )
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert [code for _, _, code, _ in calls] == ["error"] * 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_a_write_handed_over_and_never_answered_is_outcome_unknown() -> None:
    """A write past the deadline on a transport that does not trace counts as maybe processed."""
    script = Script(OK)

    async def record_then_hang(request: httpx.Request) -> httpx.Response:
        script.record(request)
        return await never_answer(request)

    api = make_api(record_then_hang, FakeTime(), timeout=0.05)
    with pytest.raises(OutcomeUnknownError, match=r"no complete answer within 0\.05s"):
        await guarded(api, "POST")
    assert len(script.seen) == 1


def tracing(*events: str) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """A handler that reports `events` to the trace extension as httpcore does, then hangs."""

    async def handler(request: httpx.Request) -> httpx.Response:
        for event in events:
            await request.extensions["trace"](event, {})
        return await never_answer(request)

    return handler


@pytest.mark.parametrize(
    ("events", "error"),
    [
        (("connection.connect_tcp.started",), TransportError),
        (("connection.connect_tcp.started", "connection.connect_tcp.complete"), TransportError),
        (("http11.send_request_headers.started",), OutcomeUnknownError),
        (
            ("connection.connect_tcp.complete", "http11.send_request_headers.started"),
            OutcomeUnknownError,
        ),
    ],
)
async def test_a_write_past_the_deadline_is_retried_only_before_sending(
    events: tuple[str, ...], error: type[TransportError]
) -> None:
    """Still connecting at the deadline: retried; once headers started going out: not retried."""
    clock = FakeTime()
    api = make_api(tracing(*events), clock, timeout=0.05)
    with pytest.raises(TransportError) as caught:
        await guarded(api, "POST")
    assert type(caught.value) is error
    assert len(clock.sleeps) == (3 if error is TransportError else 0)


class SlowAuth(httpx.Auth):
    """An auth flow that never gets its credentials: the request is never handed over."""

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await asyncio.Event().wait()
        yield request


async def test_a_write_stuck_before_it_was_handed_over_is_retried() -> None:
    """A write whose credentials never came within the deadline was never sent: retried."""
    clock = FakeTime()
    script = Script(OK)
    api = make_api(script, clock, timeout=0.05, auth=SlowAuth())
    with pytest.raises(TransportError) as caught:
        await guarded(api, "POST")
    assert type(caught.value) is TransportError
    assert script.seen == [] and len(clock.sleeps) == 3


class ResendingAuth(httpx.Auth):
    """An auth flow that sends the request again after a 401, as a token refresh does."""

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        response = yield request
        if response.status_code == 401:
            yield request


async def test_resend_after_401_is_judged_on_its_own_progress() -> None:
    """A 401 answered in full, then a resend still connecting at the deadline: retried."""
    sends: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sends.append(request)
        trace = request.extensions["trace"]
        if len(sends) % 2:
            await trace("http11.send_request_headers.started", {})
            return json_response(401, {})
        await trace("connection.connect_tcp.started", {})
        return await never_answer(request)

    clock = FakeTime()
    api = make_api(handler, clock, timeout=0.05, auth=ResendingAuth())
    with pytest.raises(TransportError) as caught:
        await guarded(api, "POST")
    assert type(caught.value) is TransportError
    assert len(sends) == 8
