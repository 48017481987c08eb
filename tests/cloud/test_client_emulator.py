"""The base client against the emulator's hostile faults: drips, cuts, lost answers, refusals.

The faults that need a socket are tried over each transport the client may use for real
endpoints (the `transport_name` fixture).
"""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest

from fdi_drift.cloud.auth import StaticToken, TokenAuth
from fdi_drift.cloud.client import (
    MAYBE_PROCESSED,
    Answer,
    ApiClient,
    ClientPolicy,
    RetryPolicy,
    recording_answers,
)
from fdi_drift.emulator.app import Emulator
from fdi_drift.errors import (
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    TransportError,
)
from tests.cloud.fakes import FakeTime
from tests.cloud.sockets import network_transport
from tests.conftest import INSTANCE, PROJECT, TOKEN
from tests.emulator.served import DEADLINE_SECONDS, served
from tests.processes import free_port

INSTANCE_PATH = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}"
MULTI_TASKS = f"{INSTANCE_PATH}/multi-tasks"
TASKS = f"{INSTANCE_PATH}/tasks"


def composite(name: str) -> dict[str, object]:
    """A valid body to create a composite task called `name`."""
    return {
        "task_name": name,
        "task_type": "REALTIME",
        "description": "created by a test",
        "task_tag": "combination",
        "operation_types": ["INSERT", "UPDATE", "DELETE"],
        "source_app_id": "d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
        "target_app_id": "d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
    }


def client(
    base_url: str,
    clock: FakeTime,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 2.0,
    attempts: int = 3,
    max_response_bytes: int = ClientPolicy().max_response_bytes,
) -> ApiClient:
    """An ApiClient sending TOKEN, whose retry sleeps are recorded instead of waited."""
    policy = ClientPolicy(
        timeout=timeout,
        retry=RetryPolicy(attempts=attempts),
        max_response_bytes=max_response_bytes,
    )
    return ApiClient(
        service="fdi",
        base_url=base_url,
        auth=TokenAuth(StaticToken(TOKEN, "the test token")),
        transport=transport,
        policy=policy,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        jitter=lambda: 1.0,
    )


def in_process(emulator: Emulator, clock: FakeTime, *, timeout: float = 2.0) -> ApiClient:
    """A client on the emulator without a socket."""
    transport = httpx.ASGITransport(app=emulator)
    return client("http://emulator.test", clock, transport=transport, timeout=timeout)


async def guarded(api: ApiClient, method: str, path: str, body: object = None) -> object:
    """`api.request`, failing the test instead of hanging when nothing ends the attempt."""
    try:
        return await asyncio.wait_for(api.request(method, path, json=body), DEADLINE_SECONDS)
    except TimeoutError:
        pytest.fail(f"{method} {path} still running after {DEADLINE_SECONDS}s")


def posts(emulator: Emulator) -> list[int]:
    """The statuses of the POSTs the emulator received."""
    return [entry.status for entry in emulator.requests if entry.method == "POST"]


def composite_names(emulator: Emulator) -> list[str]:
    """The names of the emulator's composite tasks."""
    return [str(c.task["task_name"]) for c in emulator.store.composite_tasks(PROJECT, INSTANCE)]


async def test_dripping_answer_ends_at_the_total_deadline(
    emulator: Emulator, transport_name: str
) -> None:
    """Headers then a byte every 200 ms cannot outlast a 0.5 s timeout: TransportError, no hang."""
    emulator.faults.inject(
        method="GET", path="/tasks$", status=200, body={"pad": "x" * 2000}, drip_ms=200, times=2
    )
    clock = FakeTime()
    transport = network_transport(transport_name)
    async with (
        served(emulator) as url,
        client(url, clock, transport=transport, timeout=0.5, attempts=2) as api,
    ):
        with pytest.raises(TransportError) as caught:
            await guarded(api, "GET", TASKS)
        # The attempts cut short left the pool fit for the next request.
        listed = await guarded(api, "GET", TASKS)
    assert (
        str(caught.value)
        == f"GET {TASKS}: timed out: no complete answer within 0.5s (after 2 attempts)"
    )
    assert isinstance(listed, dict) and listed["total"] == 2
    # One backoff before the second attempt; the listing then waits its turn at 20/s.
    assert clock.sleeps == [0.5, 1 / 20]


async def test_write_whose_answer_is_late_is_not_sent_twice(emulator: Emulator) -> None:
    """A create processed but answered past the timeout: OutcomeUnknownError, one POST, created."""
    emulator.faults.inject(
        method="POST", path="/multi-tasks$", status=None, delay_ms=60_000, processed=True
    )
    async with in_process(emulator, FakeTime(), timeout=0.5) as api:
        with pytest.raises(OutcomeUnknownError) as caught:
            await guarded(api, "POST", MULTI_TASKS, composite("late-answer"))
    assert str(caught.value) == (
        f"POST {MULTI_TASKS}: timed out: no complete answer within 0.5s; {MAYBE_PROCESSED}"
    )
    assert posts(emulator) == [200]
    assert composite_names(emulator) == ["late-answer"]


async def test_write_answered_500_is_not_sent_twice(emulator: Emulator) -> None:
    """A create answered 500 once raises OutcomeUnknownError naming the error; one POST only."""
    emulator.faults.inject(method="POST", path="/multi-tasks$", status=500)
    clock = FakeTime()
    async with in_process(emulator, clock) as api:
        with pytest.raises(OutcomeUnknownError) as caught:
            await guarded(api, "POST", MULTI_TASKS, composite("answered-500"))
    assert "HTTP 500 FDI.3001: Injected fault." in str(caught.value)
    assert posts(emulator) == [500]
    assert clock.sleeps == []


async def test_write_cut_mid_answer_is_not_sent_twice(
    emulator: Emulator, transport_name: str
) -> None:
    """A create whose answer is cut after 5 bytes over a socket: OutcomeUnknownError, one POST."""
    emulator.faults.inject(method="POST", path="/multi-tasks$", status=None, cut_after=5)
    transport = network_transport(transport_name)
    async with served(emulator) as url, client(url, FakeTime(), transport=transport) as api:
        with pytest.raises(OutcomeUnknownError) as caught:
            await guarded(api, "POST", MULTI_TASKS, composite("cut-answer"))
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert posts(emulator) == [200]
    assert composite_names(emulator) == ["cut-answer"]


async def test_throttled_write_is_retried(emulator: Emulator) -> None:
    """A create answered 429 with Retry-After: 0 is sent again and succeeds, creating one task."""
    emulator.faults.inject(
        method="POST", path="/multi-tasks$", status=429, headers={"Retry-After": "0"}
    )
    clock = FakeTime()
    async with in_process(emulator, clock) as api:
        created = await guarded(api, "POST", MULTI_TASKS, composite("throttled-once"))
    assert isinstance(created, dict) and "task_id" in created
    assert posts(emulator) == [429, 200]
    assert clock.sleeps == [0.0, 1 / 20]  # Retry-After: 0, then the resend's turn at 20/s
    assert composite_names(emulator) == ["throttled-once"]


async def test_refused_write_is_retried_then_raises_transport_error(transport_name: str) -> None:
    """A write to a closed port never left: retried per policy, then a plain TransportError."""
    clock = FakeTime()
    url = f"http://127.0.0.1:{free_port()}"
    transport = network_transport(transport_name)
    async with client(url, clock, transport=transport, attempts=3) as api:
        with pytest.raises(TransportError) as caught:
            await guarded(api, "POST", MULTI_TASKS, composite("refused"))
    assert type(caught.value) is TransportError
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "(after 3 attempts)" in str(caught.value)
    assert len(clock.sleeps) == 2


async def test_compressed_answer_over_the_limit_is_refused(
    emulator: Emulator, transport_name: str
) -> None:
    """2 KiB of gzip that decode to 2 MiB pass a 1 MiB limit on the wire, not once decoded."""
    bomb = gzip.compress(b" " * 2 * 1024 * 1024)
    emulator.faults.inject(
        method="GET",
        path="/tasks$",
        status=200,
        body=bomb,
        raw=True,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    transport = network_transport(transport_name)
    async with (
        served(emulator) as url,
        client(url, FakeTime(), transport=transport, max_response_bytes=1024 * 1024) as api,
    ):
        with pytest.raises(MalformedResponseError, match="larger than 1048576 bytes"):
            await guarded(api, "GET", TASKS)
        # The connection dropped with the unread rest left the client fit for the next request.
        listed = await guarded(api, "GET", TASKS)
    assert isinstance(listed, dict) and listed["total"] == 2
    assert [r.method for r in emulator.requests if r.path == TASKS] == ["GET", "GET"]


async def test_answers_and_failures_carry_the_gateways_request_id(
    emulator: Emulator, transport_name: str
) -> None:
    """The X-Request-Id of each answer over the socket is recorded and named by the error."""
    emulator.faults.inject(
        method="GET", path="/tasks/gone$", status=404, headers={"X-Request-Id": "req-404-a1"}
    )
    transport = network_transport(transport_name)
    async with served(emulator) as url, client(url, FakeTime(), transport=transport) as api:
        with recording_answers() as answers:
            await guarded(api, "GET", TASKS)
            with pytest.raises(NotFoundError) as caught:
                await guarded(api, "GET", f"{TASKS}/gone")
    assert caught.value.request_id == "req-404-a1"
    listed, gone = answers
    assert listed.status == 200 and listed.request_id == emulator.requests[0].request_id != ""
    assert gone == Answer(f"GET {TASKS}/gone", 404, "req-404-a1")
