"""Bare HTTP/1.1 servers on 127.0.0.1, for what the emulator cannot do: hang up, proxy, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fdi_drift.cloud.client import tls_verify
from fdi_drift.cloud.transports import AiohttpTransport, pool_limits

TLS = Path(__file__).parent / "tls"  # a test CA (its key thrown away) and 127.0.0.1's key
DEADLINE_SECONDS = 30.0
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

Handler = Callable[["Server", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def network_transport(
    name: str, *, verify: bool | str = True, connections: int = 16
) -> httpx.AsyncBaseTransport:
    """The transport `name` ("aiohttp" or "httpx") with the pool the client gives it.

    `verify` is what ClientPolicy.verify says: True, or a CA bundle's path.
    """
    if name == "aiohttp":
        return AiohttpTransport(verify=tls_verify(verify), max_connections=connections)
    return httpx.AsyncHTTPTransport(verify=tls_verify(verify), limits=pool_limits(connections))


@dataclass
class Server:
    """A listening server: its URL, the request heads it read and the connections it took."""

    url: str = ""
    heads: list[bytes] = field(default_factory=list)
    connections: int = 0


async def read_request(server: Server, reader: asyncio.StreamReader) -> bytes:
    """One request's head (kept in `server.heads`), its body read and dropped; b"" at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    server.heads.append(head)
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            await reader.readexactly(int(value))
    return head


@contextlib.asynccontextmanager
async def listening(handle: Handler, *, tls: bool = False) -> AsyncIterator[Server]:
    """Serve `handle` for each connection on a free port for the block; closes all after."""
    server = Server()
    context = None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(TLS / "server.pem")
    open_: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        task = asyncio.current_task()
        assert task is not None
        open_[writer] = task
        try:
            await handle(server, reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the client went away or refused our certificate: its side is under test
        finally:
            writer.close()
            open_.pop(writer, None)

    listener = await asyncio.start_server(connected, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        async with listener:
            yield server
    finally:
        # Closing a connection ends its handler's read (EOF), so each handler ends by itself.
        handlers = list(open_.values())
        for writer in list(open_):
            writer.close()
        await asyncio.wait_for(asyncio.gather(*handlers), DEADLINE_SECONDS)


async def answer_ok(
    server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer every request on the connection with 200 and `{}`."""
    while await read_request(server, reader):
        writer.write(OK)
        await writer.drain()


async def hang_up(
    server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Read the whole request, then close the connection without a word."""
    await read_request(server, reader)
