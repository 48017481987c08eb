"""Fixtures of the cloud client's tests."""

from __future__ import annotations

import pytest

NETWORK_TRANSPORTS = ("aiohttp", "httpx")


@pytest.fixture(params=NETWORK_TRANSPORTS)
def transport_name(request: pytest.FixtureRequest) -> str:
    """Each transport the client may reach real endpoints through; see sockets.network_transport."""
    name: str = request.param
    return name
