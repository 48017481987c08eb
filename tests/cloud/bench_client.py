"""CPU the client spends per read, by transport and concurrency, against a real socket.

    python -m tests.cloud.bench_client [--transport NAME ...] [--concurrency N ...]

Transports: `aiohttp` (the daemon's, cloud/transports.py), `httpx` (httpx's own, with the
client's `pool_limits` for the concurrency), `httpx-100` (httpx's default limits: 100
connections, 20 kept alive), `httpx-keepall` (as many kept alive as the concurrency) and
`httpx-aiohttp` (that package's transport as it comes, if installed).
The emulator runs in its own process, so only the client's CPU is counted: this process's
user + system CPU seconds over a batch of GETs of one task, divided by the reads. Figures
only; nothing here passes or fails. Whether sniffio is importable is printed, since httpcore
looks for it on every request (run once with and once without it on the path to compare).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from fdi_drift.cloud.auth import StaticToken, TokenAuth
from fdi_drift.cloud.client import ApiClient, ClientPolicy, tls_verify
from fdi_drift.cloud.transports import AiohttpTransport, pool_limits
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from tests.cloud.sockets import TLS
from tests.conftest import API_TASK, INSTANCE, PROJECT, TOKEN, seed_000_as_get, seed_002
from tests.processes import emulator_process, free_port, wait_for, write_seeds

TASK = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks/{API_TASK}"


def transport_for(name: str, connections: int, bundle: Path | None) -> httpx.AsyncBaseTransport:
    verify = tls_verify(str(bundle) if bundle else True)
    if name == "httpx":
        return httpx.AsyncHTTPTransport(verify=verify, limits=pool_limits(connections))
    if name == "httpx-100":  # httpx's own default limits, whatever the concurrency
        return httpx.AsyncHTTPTransport(verify=verify)
    every = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    if name == "httpx-keepall":
        return httpx.AsyncHTTPTransport(verify=verify, limits=every)
    if name == "httpx-aiohttp":  # the httpx-aiohttp package's transport, as it comes
        from httpx_aiohttp import AiohttpTransport as Packaged

        return Packaged(verify=verify, limits=every)
    if name == "aiohttp":
        return AiohttpTransport(verify=verify, max_connections=connections)
    raise ValueError(f"unknown transport {name!r}")


def serve_tls(port: int) -> None:
    """The emulator, seeded as for the bench, over TLS on 127.0.0.1 (the test certificate)."""
    emulator = Emulator(EmulatorConfig(tokens=frozenset({TOKEN})))
    emulator.store.add_task(PROJECT, INSTANCE, seed_002())
    emulator.store.add_task(PROJECT, INSTANCE, seed_000_as_get())
    print(f"emulator listening on https://127.0.0.1:{port}", flush=True)
    uvicorn.run(
        emulator, host="127.0.0.1", port=port, ssl_certfile=TLS / "server.pem", log_level="error"
    )


@contextlib.contextmanager
def tls_emulator_process() -> Iterator[str]:
    """`serve_tls` in a subprocess; yields its URL, stops it after."""
    port = free_port()
    command = [sys.executable, "-m", "tests.cloud.bench_client", "--serve-tls", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().rsplit(" ", 1)[1].strip()
    try:
        wait_for("the TLS emulator", lambda: socket.create_connection(("127.0.0.1", port)))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def cpu_seconds() -> tuple[float, float]:
    """This process's (user, system) CPU seconds so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


async def cpu_per_read(
    url: str, transport: str, concurrency: int, reads: int
) -> tuple[float, float]:
    """(user, system) CPU seconds per GET: `concurrency` workers share `reads` requests."""
    bundle = TLS / "ca.pem" if url.startswith("https:") else None
    api = ApiClient(
        service="fdi",
        base_url=url,
        auth=TokenAuth(StaticToken(TOKEN, "the bench token")),
        transport=transport_for(transport, concurrency, bundle),
        policy=ClientPolicy(rate_limit_per_second=1e9),
    )
    left = reads

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await api.request("GET", TASK)

    async with api:
        # Warm up: every connection open, every code path taken once.
        await asyncio.gather(*(api.request("GET", TASK) for _ in range(concurrency * 2)))
        user, system = cpu_seconds()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        user_after, system_after = cpu_seconds()
        return (user_after - user) / reads, (system_after - system) / reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", nargs="+", default=["httpx", "aiohttp"])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[16, 64])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tls", action="store_true", help="over HTTPS (the test certificate)")
    parser.add_argument("--serve-tls", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_tls:
        serve_tls(options.serve_tls)
        return
    sniffio = importlib.util.find_spec("sniffio") is not None
    with contextlib.ExitStack() as stack:
        if options.tls:
            url = stack.enter_context(tls_emulator_process())
        else:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            seeds = write_seeds(scratch, PROJECT, INSTANCE, seed_002(), seed_000_as_get())
            url = stack.enter_context(emulator_process(seeds, "--token", TOKEN))
        results: dict[tuple[str, int], list[tuple[float, float]]] = {}
        # Rounds interleave the variants, so a busy spell on the machine hits all alike.
        for _ in range(options.rounds):
            for transport in options.transport:
                for concurrency in options.concurrency:
                    cpu = asyncio.run(cpu_per_read(url, transport, concurrency, options.reads))
                    results.setdefault((transport, concurrency), []).append(cpu)
    scheme = "https" if options.tls else "http"
    print(f"{scheme}; sniffio importable: {'yes' if sniffio else 'no'}; CPU microseconds per read")
    for (transport, concurrency), runs in results.items():
        total = sorted(1e6 * (user + system) for user, system in runs)
        user = statistics.median(1e6 * user for user, _ in runs)
        print(
            f"{transport:10} c={concurrency:<3} median {statistics.median(total):6.0f} "
            f"(user {user:5.0f}; min {total[0]:.0f}, max {total[-1]:.0f}, {len(runs)} rounds)"
        )


if __name__ == "__main__":
    main()
