"""Faults that shape how an answer is sent: dripped byte by byte, or cut short."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from fdi_drift.emulator.app import Emulator
from tests.emulator.conftest import BASE, ORDERS, TOKEN, sample_body
from tests.emulator.served import DEADLINE_SECONDS, served

TASK = f"{BASE}/tasks/{ORDERS}"
BODY = b'{"task": "abcdef"}'
Message = dict[str, Any]


class Exchange:
    """One GET for TASK driven by hand at the ASGI level, recording what the app sends."""

    def __init__(self, *, client_leaves: bool = False) -> None:
        self.sent: list[Message] = []
        self._asked = False
        self._client_leaves = client_leaves
        self._complete = asyncio.Event()

    @property
    def scope(self) -> Message:
        """The scope of a GET for TASK with the static token."""
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": TASK,
            "raw_path": TASK.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"emulator.test"), (b"x-auth-token", TOKEN.encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("emulator.test", 80),
        }

    async def receive(self) -> Message:
        """The empty request body, then a disconnect when the client leaves or is answered."""
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if not self._client_leaves:
            await self._complete.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        """Record one message the app sends."""
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self._complete.set()

    async def run(self, emulator: Emulator) -> None:
        """Let the emulator answer, failing the test if it never returns."""
        try:
            await asyncio.wait_for(
                emulator(self.scope, self.receive, self.send),  # type: ignore[arg-type]
                DEADLINE_SECONDS,
            )
        except TimeoutError:
            pytest.fail(f"the emulator was still answering after {DEADLINE_SECONDS}s")

    @property
    def headers(self) -> dict[bytes, bytes]:
        """The headers of the answer's start message."""
        assert self.sent[0]["type"] == "http.response.start"
        return dict(self.sent[0]["headers"])

    @property
    def pieces(self) -> list[bytes]:
        """The non-empty body pieces, in order."""
        return [m["body"] for m in self.sent[1:] if m["body"]]

    @property
    def finished(self) -> bool:
        """Whether the app ended the body (a last message without more_body)."""
        return any(not m.get("more_body", False) for m in self.sent[1:])


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sleeps the emulator asks for, recorded instead of waited."""
    seconds: list[float] = []

    async def record(delay: float) -> None:
        seconds.append(delay)

    monkeypatch.setattr("fdi_drift.emulator.app.asyncio.sleep", record)
    return seconds


async def test_drip_sends_the_headers_then_one_byte_at_a_time(
    emulator: Emulator, waited: list[float]
) -> None:
    """With drip_ms the full-length headers go first, then each byte alone, drip_ms apart."""
    emulator.faults.inject(path="/tasks/", status=200, body=BODY.decode(), raw=True, drip_ms=200)
    exchange = Exchange()
    await exchange.run(emulator)
    assert exchange.headers[b"content-length"] == str(len(BODY)).encode()
    assert exchange.pieces == [BODY[at : at + 1] for at in range(len(BODY))]
    assert exchange.finished
    assert waited == [0.2] * (len(BODY) - 1)


async def test_drip_applies_to_the_real_answer_of_a_fault_without_status(
    emulator: Emulator, waited: list[float]
) -> None:
    """A drip without a status drips the route's own answer."""
    emulator.faults.inject(path="/tasks/", status=None, drip_ms=5)
    exchange = Exchange()
    await exchange.run(emulator)
    real = b"".join(exchange.pieces)
    assert httpx.Response(200, content=real).json() == sample_body(ORDERS)
    assert len(exchange.pieces) == len(real) > 1


async def test_cut_sends_the_full_length_then_stops_short(emulator: Emulator) -> None:
    """cut_after announces the whole body, sends that many bytes and never ends the body."""
    emulator.faults.inject(path="/tasks/", status=200, body=BODY.decode(), raw=True, cut_after=4)
    exchange = Exchange()
    await exchange.run(emulator)
    assert exchange.headers[b"content-length"] == str(len(BODY)).encode()
    assert b"".join(exchange.pieces) == BODY[:4]
    assert not exchange.finished


async def test_cut_at_the_body_length_cuts_nothing(emulator: Emulator) -> None:
    """A cut_after at the body's length sends the whole answer and ends it."""
    emulator.faults.inject(path="/tasks/", status=200, body=BODY.decode(), raw=True, cut_after=99)
    exchange = Exchange()
    await exchange.run(emulator)
    assert b"".join(exchange.pieces) == BODY
    assert exchange.finished


async def test_drip_stops_when_the_client_goes_away(emulator: Emulator) -> None:
    """A slow drip is abandoned as soon as the client disconnects instead of running on."""
    emulator.faults.inject(path="/tasks/", status=200, body=BODY.decode(), raw=True, drip_ms=60_000)
    exchange = Exchange(client_leaves=True)
    await exchange.run(emulator)
    assert b"".join(exchange.pieces) == BODY[:1]
    assert not exchange.finished


async def test_drip_reaches_a_real_client_byte_by_byte(emulator: Emulator) -> None:
    """Over uvicorn the headers arrive at once and the body trickles in, one byte first."""
    emulator.faults.inject(path="/tasks/", status=200, body=BODY.decode(), raw=True, drip_ms=60_000)
    async with served(emulator) as url, httpx.AsyncClient(base_url=url) as http:

        async def first_piece() -> tuple[httpx.Response, bytes]:
            async with http.stream("GET", TASK) as response:
                async for piece in response.aiter_raw():
                    return response, piece
            raise AssertionError("no body at all")

        response, piece = await asyncio.wait_for(first_piece(), DEADLINE_SECONDS)
    assert response.headers["content-length"] == str(len(BODY))
    assert piece == BODY[:1]


async def test_cut_reaches_a_real_client_as_an_incomplete_answer(emulator: Emulator) -> None:
    """Over uvicorn a cut answer ends the connection, which the client sees as a protocol error."""
    emulator.faults.inject(path="/tasks/", status=200, body=BODY.decode(), raw=True, cut_after=4)
    async with served(emulator) as url, httpx.AsyncClient(base_url=url) as http:
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            await asyncio.wait_for(http.get(TASK), DEADLINE_SECONDS)
        assert (await http.get(TASK, headers={"X-Auth-Token": TOKEN})).status_code == 200
