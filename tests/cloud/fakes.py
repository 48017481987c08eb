"""Test doubles for the cloud client: clocks that tests or sleepers move, scripted transports."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import fields
from typing import Any, TypeVar

import httpx
import orjson

from fdi_drift.cloud.client import ApiClient, ClientPolicy

BASE_URL = "https://roma.example.test"
T = TypeVar("T")


class FakeTime:
    """A clock that moves only when a test moves it or when something sleeps on it."""

    def __init__(self, start: float = 1_000.0, *, sleep_advances: bool = True) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.sleep_advances = sleep_advances

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.sleep_advances:
            self.now += seconds


Answer = httpx.Response | type[httpx.TransportError]


def json_response(
    status: int, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    """An answer carrying `body` as JSON."""
    merged = {"Content-Type": "application/json", **(headers or {})}
    return httpx.Response(status, content=orjson.dumps(body), headers=merged)


class Script:
    """A MockTransport handler that gives its answers in order and records every request.

    An answer may be an httpx transport exception class, raised as if the network failed.
    After the script runs out, the last answer repeats.
    """

    def __init__(self, *answers: Answer) -> None:
        self._answers = list(answers)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.record(request)
        answer = self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]
        if isinstance(answer, httpx.Response):
            return answer
        raise answer("simulated failure", request=request)

    def record(self, request: httpx.Request) -> None:
        """Keep a copy: an auth flow sends the same request object again with new headers."""
        self.seen.append(
            httpx.Request(
                request.method, request.url, headers=request.headers.copy(), content=request.read()
            )
        )


def make_api(
    handler: Callable[[httpx.Request], Any],
    fake: FakeTime | VirtualTime,
    *,
    jitter: Iterable[float] | None = None,
    **options: Any,
) -> ApiClient:
    """An ApiClient over `handler` whose sleeps, clock and jitter the test controls.

    Options named like ClientPolicy's fields (timeout, retry, ...) make its policy.
    """
    draws = iter(jitter) if jitter is not None else None
    policy_fields = {f.name for f in fields(ClientPolicy)}
    policy = ClientPolicy(**{k: options.pop(k) for k in list(options) if k in policy_fields})
    return ApiClient(
        service="fdi",
        base_url=BASE_URL,
        auth=options.pop("auth", None),
        transport=httpx.MockTransport(handler),
        policy=policy,
        sleep=fake.sleep,
        monotonic=fake.monotonic,
        jitter=(lambda: next(draws)) if draws is not None else (lambda: 1.0),
        **options,
    )


class VirtualTime:
    """A clock for many concurrent sleepers: when every task waits, time jumps to the next wake.

    `run` drives the calls to their end; nothing really sleeps, and no wake-up is early or late.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._count), wake))
        await wake

    async def run(self, *calls: Awaitable[T]) -> list[T]:
        """Run `calls` concurrently on this clock; their results, in order."""
        tasks = [asyncio.ensure_future(call) for call in calls]
        ended: list[object] = []
        for task in tasks:
            task.add_done_callback(ended.append)
        while True:
            for _ in range(100_000):
                if len(self._sleepers) + len(ended) == len(tasks):
                    break
                await asyncio.sleep(0)
            else:
                raise AssertionError("a task waits on something other than this clock")
            if not self._sleepers:
                return [task.result() for task in tasks]
            self.now, _, wake = heapq.heappop(self._sleepers)
            wake.set_result(None)
