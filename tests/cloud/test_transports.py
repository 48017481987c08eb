"""The transports to real endpoints keep the client's guarantees over a real socket.

Each test runs over every transport the client may use (`transport_name`): aiohttp's pool, the
default, and httpx's own, the one used where the environment names a proxy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Generator
from typing import TypeVar

import httpx
import pytest

from fdi_drift.cloud.client import MAYBE_PROCESSED, ApiClient, ClientPolicy, RetryPolicy
from fdi_drift.cloud.signing import AkSkAuth, KeyPair, StaticKeys
from fdi_drift.cloud.transports import AiohttpTransport, network
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.app import KeyPair as EmulatorKeyPair
from fdi_drift.errors import OutcomeUnknownError, TransportError
from tests.cloud.fakes import FakeTime
from tests.cloud.sockets import (
    DEADLINE_SECONDS,
    OK,
    TLS,
    Server,
    answer_ok,
    hang_up,
    listening,
    network_transport,
    read_request,
)
from tests.cloud.test_signing import TABLE
from tests.emulator.served import served

T = TypeVar("T")
Writer = asyncio.StreamWriter
KEYS = KeyPair("QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc")


async def guarded(call: Awaitable[T]) -> T:
    """`call`, failing the test instead of hanging."""
    try:
        return await asyncio.wait_for(call, DEADLINE_SECONDS)
    except TimeoutError:
        pytest.fail(f"still running after {DEADLINE_SECONDS}s")


def api_on(
    url: str,
    transport: httpx.AsyncBaseTransport | None,
    policy: ClientPolicy | None = None,
    auth: httpx.Auth | None = None,
) -> ApiClient:
    """An ApiClient on `url` over `transport`, whose retry sleeps are recorded, not waited."""
    clock = FakeTime()
    return ApiClient(
        service="fdi",
        base_url=url,
        auth=auth,
        transport=transport,
        policy=policy or ClientPolicy(),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_a_write_whose_connection_drops_once_sent_is_sent_once(
    transport_name: str, method: str
) -> None:
    """The server reads the write and hangs up: OutcomeUnknownError, and nothing resent it."""
    async with listening(hang_up) as server:
        api = api_on(server.url, network_transport(transport_name))
        async with api:
            with pytest.raises(OutcomeUnknownError) as caught:
                await guarded(api.request(method, "/v2/p/jobs/j", json={"name": "n"}))
    assert MAYBE_PROCESSED in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert [head.split(b" ")[0] for head in server.heads] == [method.encode()]


async def test_a_read_whose_connection_drops_is_tried_as_often_as_the_policy_says(
    transport_name: str,
) -> None:
    """Four attempts of a GET the server hangs up on reach it four times: no hidden resends."""
    async with (
        listening(hang_up) as server,
        api_on(server.url, network_transport(transport_name)) as api,
    ):
        with pytest.raises(TransportError, match=r"\(after 4 attempts\)"):
            await guarded(api.request("GET", "/v2/p/jobs/j"))
    assert len(server.heads) == 4


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_an_answer_that_is_not_http_is_a_protocol_error(
    transport_name: str, method: str
) -> None:
    """Garbage instead of a status line: maybe processed, so a write is not sent again."""

    async def garbage(server: Server, reader: asyncio.StreamReader, writer: Writer) -> None:
        await read_request(server, reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()

    async with (
        listening(garbage) as server,
        api_on(server.url, network_transport(transport_name)) as api,
    ):
        with pytest.raises(TransportError) as caught:
            await guarded(api.request(method, "/x", json={} if method == "POST" else None))
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert isinstance(caught.value, OutcomeUnknownError) == (method == "POST")
    assert len(server.heads) == (1 if method == "POST" else 4)


async def test_a_header_that_would_split_the_request_is_refused_unsent(
    transport_name: str,
) -> None:
    """A CR LF in a header value (a broken token) fails before sending, quoting nothing."""

    class Injecting(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
            request.headers["X-Auth-Token"] = "t0ken\r\nX-Injected: 1"
            yield request

    async with listening(answer_ok) as server:
        transport = network_transport(transport_name)
        async with api_on(server.url, transport, auth=Injecting()) as api:
            with pytest.raises(TransportError) as caught:
                await guarded(api.request("POST", "/x", json={}))
    assert type(caught.value) is TransportError  # never sent, and not worth sending again
    assert str(caught.value) == "POST /x: LocalProtocolError"
    assert server.heads == []


async def test_a_write_past_its_deadline_while_connecting_is_sent_again(
    transport_name: str,
) -> None:
    """A TLS handshake that never ends: the write never left, so it is retried, then raises."""

    async def mute(server: Server, reader: asyncio.StreamReader, writer: Writer) -> None:
        await reader.read()  # takes the connection, never answers the ClientHello

    async with listening(mute) as server:
        url = server.url.replace("http:", "https:")
        policy = ClientPolicy(timeout=0.3, retry=RetryPolicy(attempts=3))
        async with api_on(url, network_transport(transport_name), policy) as api:
            with pytest.raises(TransportError) as caught:
                await guarded(api.request("POST", "/x", json={}))
    assert type(caught.value) is TransportError  # not OutcomeUnknownError
    assert "no complete answer within 0.3s (after 3 attempts)" in str(caught.value)
    assert server.connections == 3 and server.heads == []


async def test_a_trusted_ca_bundle_is_used_for_tls(transport_name: str) -> None:
    """With `ca_bundle` naming the test CA, an HTTPS answer from 127.0.0.1 is accepted."""
    bundle = TLS / "ca.pem"
    async with listening(answer_ok, tls=True) as server:
        transport = network_transport(transport_name, verify=str(bundle))
        async with api_on(server.url, transport, ClientPolicy(ca_bundle=bundle)) as api:
            assert await guarded(api.request("GET", "/x")) == {}
    assert len(server.heads) == 1


async def test_a_certificate_the_system_does_not_trust_is_refused(transport_name: str) -> None:
    """Without the bundle the same server is refused before any request leaves: never sent."""
    async with listening(answer_ok, tls=True) as server:
        policy = ClientPolicy(retry=RetryPolicy(attempts=1))
        async with api_on(server.url, network_transport(transport_name), policy) as api:
            with pytest.raises(TransportError) as caught:
                await guarded(api.request("POST", "/x", json={}))
    assert type(caught.value) is TransportError  # not OutcomeUnknownError: it never left
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "certificate" in str(caught.value).lower()
    assert server.heads == []


async def at_most(
    size: int, transport: httpx.AsyncBaseTransport | None, policy: ClientPolicy
) -> None:
    """`size` + 1 requests at once get `size` connections; the last one waits for a free one."""
    release = asyncio.Event()
    arrived = asyncio.Condition()

    async def held(server: Server, reader: asyncio.StreamReader, writer: Writer) -> None:
        while await read_request(server, reader):
            async with arrived:
                arrived.notify_all()
            await release.wait()
            writer.write(OK)
            await writer.drain()

    async with listening(held) as server, api_on(server.url, transport, policy) as api:
        calls = asyncio.gather(*(api.request("GET", f"/x/{n}") for n in range(size + 1)))
        async with arrived:
            await guarded(arrived.wait_for(lambda: len(server.heads) == size))
        for _ in range(100):  # every request has had its turns to connect
            await asyncio.sleep(0)
        assert len(server.heads) == size
        release.set()
        assert await guarded(calls) == [{}] * (size + 1)
    assert len(server.heads) == size + 1


async def test_the_pool_opens_max_connections_at_once_and_no_more(transport_name: str) -> None:
    """A pool of 24 (past httpx's 20 kept alive) serves 24 requests at once, no more."""
    transport = network_transport(transport_name, connections=24)
    await at_most(24, transport, ClientPolicy(rate_limit_per_second=1000.0))


async def test_the_daemons_pool_is_sized_by_the_policy() -> None:
    """Without an injected transport, `max_connections` bounds the pool the client builds."""
    await at_most(3, None, ClientPolicy(rate_limit_per_second=1000.0, max_connections=3))


@pytest.mark.parametrize("transport_name", ["aiohttp", "httpx", "in-process"])
async def test_the_signature_survives_the_trip(transport_name: str) -> None:
    """The emulator's verifier accepts every signed request of the signing table on the wire."""
    emulator = Emulator(
        EmulatorConfig(key_pairs=(EmulatorKeyPair(KEYS.access_key, KEYS.secret_key),))
    )
    auth = AkSkAuth(StaticKeys(KEYS, "test"), clock=time.time)
    async with served(emulator) as url:
        if transport_name == "in-process":
            transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=emulator)
        else:
            transport = network_transport(transport_name)
        async with httpx.AsyncClient(transport=transport, base_url=url, auth=auth) as client:
            for method, path, query, body in TABLE:
                params = [(k, v) for k, values in (query or {}).items() for v in values]
                answer = await client.request(method, path, params=params, json=body)
                assert answer.status_code != 401, (path, answer.text)
    assert emulator.credentials.failures(KEYS.access_key) == 0


async def test_the_request_line_is_sent_as_httpx_encoded_it(transport_name: str) -> None:
    """Percent-escapes reach the wire untouched (%2A stays %2A): what was signed is what is sent."""
    path, params = "/v2/p/tasks/a%2Ab%7E", {"name": "it's *~ 1+1", "tag": "%41"}
    async with (
        listening(answer_ok) as server,
        api_on(server.url, network_transport(transport_name)) as api,
    ):
        await guarded(api.request("GET", path, params=params))
    built = httpx.Request("GET", server.url + path, params=params).url.raw_path
    assert b"%2A" in built and server.heads[0].startswith(b"GET " + built + b" HTTP/1.1\r\n")


def test_real_endpoints_go_through_aiohttp_unless_a_proxy_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiohttp's pool by default; httpx's own (None) once HTTPS_PROXY is set, which it honours."""
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(network(verify=True, max_connections=4), AiohttpTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    assert network(verify=True, max_connections=4) is None


async def test_the_default_transport_honours_a_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With HTTP_PROXY set, a request to a host that does not resolve goes to the proxy."""
    async with listening(answer_ok) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        api = api_on("http://roma.example.test", None)
        async with api:
            assert await guarded(api.request("GET", "/v2/p/tasks")) == {}
    assert proxy.heads[0].startswith(b"GET http://roma.example.test/v2/p/tasks HTTP/1.1")
