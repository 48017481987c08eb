"""The HTTP transports the daemon can talk through; chosen once, by the composition root.

Real endpoints are reached through aiohttp's connection pool (`AiohttpTransport`), which costs
a fraction of httpcore's CPU per request, unless the environment names a proxy: only httpx's
own transport honours `HTTPS_PROXY` and its kin. Whichever it is, the client above sees httpx
requests, answers and exceptions, and the same trace events for "has the request left yet".
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx
from yarl import URL

KEEPALIVE_SECONDS = 5.0  # as httpx: an idle connection is dropped before a server would
# httpcore looks over all its connections for each idle one on every request: past httpx's
# own 20 kept alive, that costs more CPU than connecting again (tests/cloud/bench_client.py).
HTTPX_KEPT_ALIVE = 20
# What the transport tells the request's `trace` extension, named as httpcore names them.
CONNECTING = "connection.connect_tcp.started"
SENDING = "http11.send_request_headers.started"

Trace = Callable[[str, Mapping[str, object]], Awaitable[None]]


def in_process(app: Any) -> httpx.AsyncBaseTransport:
    """Requests go straight into an ASGI app in this process (the demo's emulator, tests)."""
    return httpx.ASGITransport(app=app)


def network(
    *, verify: bool | ssl.SSLContext, max_connections: int
) -> httpx.AsyncBaseTransport | None:
    """The transport to real endpoints: aiohttp's pool, or None for httpx's own.

    httpx's own (which the client then builds) where the environment names a proxy: only
    httpx.AsyncClient without a transport mounts those. `verify` is what httpx takes (True:
    httpx's CA bundle, or an SSL context); the pool holds up to `max_connections`, and
    aiohttp's keeps them all alive while idle.
    """
    if environment_proxies():
        return None
    return AiohttpTransport(verify=verify, max_connections=max_connections)


def pool_limits(max_connections: int) -> httpx.Limits:
    """httpx's pool for up to `max_connections` at once, of which it keeps up to 20 idle."""
    return httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=min(max_connections, HTTPX_KEPT_ALIVE),
        keepalive_expiry=KEEPALIVE_SECONDS,
    )


def environment_proxies() -> dict[str, str]:
    """The proxies the environment names for http and https (`*_PROXY` variables)."""
    found = urllib.request.getproxies_environment()
    return {scheme: url for scheme, url in found.items() if scheme in ("http", "https", "all")}


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent through one aiohttp connection pool (HTTP/1.1, no proxy).

    Failures are raised as the httpx exceptions httpcore would raise in the same place, so
    that "certainly never sent" stays a connect error, pool timeout or proxy refusal, and
    everything after a connection was in hand is "maybe processed". aiohttp's own resend of
    a PUT or DELETE whose connection dropped is refused: only the caller decides to resend.
    The `trace` extension hears CONNECTING when a request starts and SENDING once it holds a
    connection: before any byte of it is written, whatever aiohttp's order within its send.
    An aiohttp ValueError means a request it refused to write (a CR or LF in a header).
    """

    def __init__(self, *, verify: bool | ssl.SSLContext, max_connections: int) -> None:
        self._ssl = httpx.create_ssl_context(verify=verify)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None  # made in the loop, when first used

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open() if self._session is None else self._session
        timeout = request.extensions.get("timeout", {})
        pool, connect = timeout.get("pool"), timeout.get("connect")
        body = await request.aread()
        try:
            answer = await session.request(
                request.method,
                URL(str(request.url), encoded=True),  # as httpx encoded (and signed) it
                headers=[
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ],
                data=body or None,
                allow_redirects=False,  # httpx decides (and does not follow)
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=None if pool is None or connect is None else pool + connect,
                    sock_connect=connect,
                    sock_read=timeout.get("read"),
                ),
                trace_request_ctx=request.extensions.get("trace"),
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise as_httpx_error(exc, request) from exc
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=_AnswerBody(answer, request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (answer.reason or "").encode(),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _open(self) -> aiohttp.ClientSession:
        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(_told(CONNECTING))
        trace.on_connection_create_end.append(_told(SENDING))
        trace.on_connection_reuseconn.append(_told(SENDING))
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,
                keepalive_timeout=KEEPALIVE_SECONDS,
                ssl=self._ssl,
            ),
            # httpx already chose every header, cookie and encoding; aiohttp adds none.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trace_configs=[trace],
            middlewares=(_sent_at_most_once,),
        )
        return self._session


class _AnswerBody(httpx.AsyncByteStream):
    """An answer's body as it arrives; closing it early drops the connection."""

    def __init__(self, answer: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._answer = answer
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._answer.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise as_httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        # Back to the pool when read to the end; otherwise the connection is closed.
        self._answer.release()


class _LostAfterSending(aiohttp.ClientError):
    """The connection failed once the request may have gone: aiohttp must not resend it."""


async def _sent_at_most_once(
    request: aiohttp.ClientRequest,
    handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
) -> aiohttp.ClientResponse:
    # aiohttp sends a GET, PUT or DELETE again when its connection fails with ClientOSError or
    # ServerDisconnectedError; as any other ClientError, the failure ends the request instead.
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _LostAfterSending(str(exc)) from exc


def _told(
    event: str,
) -> Callable[[aiohttp.ClientSession, SimpleNamespace, object], Awaitable[None]]:
    async def tell(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: object
    ) -> None:
        trace: Trace | None = context.trace_request_ctx
        if trace is not None:
            await trace(event, {})

    return tell


def as_httpx_error(exc: BaseException, request: httpx.Request) -> httpx.RequestError:
    """The httpx exception httpcore would have raised for this aiohttp failure.

    Only failures before a connection was in hand are connect errors; anything unforeseen is
    a protocol error, which the client counts as maybe processed.
    """
    if isinstance(exc, _LostAfterSending) and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc) or type(exc).__name__
    kind: type[httpx.RequestError]
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        kind = httpx.ProxyError
    elif isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.ConnectionTimeoutError):  # waiting for the pool or connecting
        kind = httpx.ConnectTimeout
    elif isinstance(exc, TimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        kind = httpx.UnsupportedProtocol
    elif isinstance(exc, aiohttp.ClientOSError | aiohttp.ClientConnectionResetError):
        kind = httpx.ReadError
    elif isinstance(exc, ValueError):  # refused before writing: a CR or LF in a header
        kind = httpx.LocalProtocolError
    else:  # disconnected, cut short, an answer that is not HTTP
        kind = httpx.RemoteProtocolError
    return kind(text, request=request)
