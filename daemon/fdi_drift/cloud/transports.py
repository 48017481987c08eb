"""The HTTP transports the daemon can talk through; chosen once, by the composition root."""

from __future__ import annotations

from typing import Any

import httpx


def in_process(app: Any) -> httpx.AsyncBaseTransport:
    """Requests go straight into an ASGI app in this process (the demo's emulator, tests)."""
    return httpx.ASGITransport(app=app)
