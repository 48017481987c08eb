"""Never above the configured rate: in any window of W seconds at most rate * W + 1 starts.

Hundreds of concurrent callers on a virtual clock (nothing sleeps for real, nothing is timed):
the token bucket alone, then the client, whose concurrent requests share one bucket.
"""

from __future__ import annotations

import random

import httpx
import pytest

from fdi_drift.cloud.client import RateLimiter
from tests.cloud.fakes import VirtualTime, json_response, make_api

WINDOWS = (0.01, 0.1, 0.5, 1.0, 2.5, 10.0, 60.0)
EPSILON = 1e-9  # float sums of debts: a start may land a hair past a window's end


def busiest(starts: list[float], window: float) -> int:
    """The most starts inside any closed window of `window` seconds."""
    starts = sorted(starts)
    most, first = 0, 0
    for last, start in enumerate(starts):
        while starts[first] < start - window - EPSILON:
            first += 1
        most = max(most, last - first + 1)
    return most


def assert_never_above(starts: list[float], rate: float) -> None:
    for window in WINDOWS:
        allowed = int(rate * window + 1 + EPSILON)
        assert busiest(starts, window) <= allowed, (rate, window)


@pytest.mark.parametrize("rate", [0.5, 2.5, 20.0, 100.0])
@pytest.mark.parametrize("seed", range(3))
async def test_the_bucket_never_lets_more_through_than_the_rate(rate: float, seed: int) -> None:
    """500 callers, arriving at once, in clumps and one by one, start within rate * W + 1."""
    clock = VirtualTime()
    limiter = RateLimiter(rate, monotonic=clock.monotonic, sleep=clock.sleep)
    draw = random.Random(seed)
    # Arrival times: a crowd at the start, clumps, and stragglers past idle spells.
    arrivals = [0.0] * 200 + [draw.choice((5.0, 50.0, 51.0)) for _ in range(200)]
    arrivals += [draw.uniform(0.0, 2000.0 / rate) for _ in range(100)]
    starts: list[float] = []

    async def caller(arrival: float) -> None:
        await clock.sleep(arrival)
        await limiter.acquire()
        starts.append(clock.now)

    await clock.run(*(caller(arrival) for arrival in arrivals))
    assert len(starts) == len(arrivals)
    assert_never_above(starts, rate)
    # No burst: of the first crowd, one starts at once and the next 1/rate later.
    first = sorted(starts)[:2]
    assert first[0] == 1_000.0
    assert first[1] - first[0] == pytest.approx(1 / rate)


async def test_a_clients_concurrent_requests_share_one_bucket() -> None:
    """300 concurrent requests (GETs and writes, several paths) reach the wire at 10/s at most."""
    clock = VirtualTime()
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock.now)
        return json_response(200, {})

    api = make_api(handler, clock, rate_limit_per_second=10.0)
    calls = [
        api.request(method, f"/v2/p/{kind}/{n}", json=None if method == "GET" else {})
        for n in range(100)
        for method, kind in (("GET", "tasks"), ("PUT", "tasks"), ("GET", "jobs"))
    ]
    await clock.run(*calls)
    assert len(sent) == 300
    assert_never_above(sent, 10.0)
    assert max(sent) - min(sent) == pytest.approx((300 - 1) / 10.0)  # and no slower than that
