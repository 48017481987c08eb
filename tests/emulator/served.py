"""An Emulator on a real socket (127.0.0.1, a free port) for the length of an `async with`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from fdi_drift.emulator.app import Emulator, serve

DEADLINE_SECONDS = 30.0


@contextlib.asynccontextmanager
async def served(emulator: Emulator) -> AsyncIterator[str]:
    """Serve `emulator` under uvicorn inside the block; yields its URL, then shuts it down."""
    urls: list[str] = []
    stop = asyncio.Event()
    server = asyncio.create_task(serve(emulator, "127.0.0.1", 0, urls.append, stop=stop))
    try:
        end = asyncio.get_running_loop().time() + DEADLINE_SECONDS
        while not urls:
            if server.done():
                server.result()  # the reason it could not listen
                pytest.fail("the emulator stopped before it listened")
            if asyncio.get_running_loop().time() > end:
                pytest.fail(f"the emulator did not listen within {DEADLINE_SECONDS}s")
            await asyncio.sleep(0.01)
        yield urls[0]
    finally:
        stop.set()
        await asyncio.wait_for(server, DEADLINE_SECONDS)
