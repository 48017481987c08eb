"""Planned faults (in process) and random 500s and 429s."""

from __future__ import annotations

import json

import httpx
import pytest

from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.faults import FaultInjector, RandomFaults
from tests.emulator.conftest import (
    BASE,
    INSTANCE,
    NODES,
    ORDERS,
    PROJECT,
    SAMPLES,
    TOKEN,
    USER,
    sample_body,
    update_body,
)
from tests.emulator.test_composite import create_body
from tests.emulator.test_iam import LOGIN, login_body

TASK = f"{BASE}/tasks/{ORDERS}"


def composite_names(emulator: Emulator) -> list[str]:
    """The names of the composite tasks the emulator holds."""
    return [str(c.task["task_name"]) for c in emulator.store.composite_tasks(PROJECT, INSTANCE)]


async def test_planned_fault_answers_instead_of_the_route(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A planned fault gives its status, body and headers, then the real answer returns."""
    emulator.faults.inject(
        path="/tasks/",
        status=503,
        body={"error_code": "FDI.9999", "error_msg": "down"},
        headers={"X-Test": "yes"},
        times=2,
    )
    for _ in range(2):
        answer = await client.get(TASK)
        assert answer.status_code == 503
        assert answer.json() == {"error_code": "FDI.9999", "error_msg": "down"}
        assert answer.headers["x-test"] == "yes"
    assert (await client.get(TASK)).json() == sample_body(ORDERS)


async def test_raw_fault_serves_malformed_json(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A raw body is sent byte for byte, so a client can be shown broken JSON."""
    emulator.faults.inject(path="/tasks/", status=200, body='{"task": {', raw=True)
    answer = await client.get(TASK)
    assert answer.status_code == 200
    assert answer.content == b'{"task": {'
    with pytest.raises(json.JSONDecodeError):
        answer.json()


async def test_fault_only_matches_its_method(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """A fault for PUT leaves GET alone."""
    emulator.faults.inject(method="put", path=f"^{TASK}$", status=500)
    assert (await client.get(TASK)).status_code == 200
    assert (await client.put(TASK, json={})).status_code == 500
    assert (await client.put(TASK, json={})).status_code == 400


async def test_fault_forever_until_cleared(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """times=None keeps answering the fault until the faults are cleared."""
    emulator.faults.inject(path="tasks", status=502, times=None)
    statuses = [(await client.get(TASK)).status_code for _ in range(3)]
    assert statuses == [502, 502, 502]
    emulator.faults.clear()
    assert (await client.get(TASK)).status_code == 200


async def test_default_fault_bodies(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """Without a body a 429 answers as the gateway does and other statuses as FDI does."""
    emulator.faults.inject(path="tasks", status=429)
    emulator.faults.inject(path="tasks", status=500)
    throttled = await client.get(TASK)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "1"
    assert throttled.json()["error_code"] == "APIG.0308"
    failed = await client.get(TASK)
    assert failed.status_code == 500
    assert failed.json()["error_code"].startswith("FDI.")


async def test_delay_then_real_answer(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """A delay-only fault (status None) still gives the real answer afterwards."""
    emulator.faults.inject(path="tasks", status=None, delay_ms=5)
    answer = await client.get(TASK)
    assert answer.status_code == 200
    assert emulator.faults.active == ()


async def test_delay_waits_before_answering(
    client: httpx.AsyncClient, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """delay_ms and latency_ms are waited for with asyncio.sleep before the answer."""
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr("fdi_drift.emulator.app.asyncio.sleep", record)
    emulator.faults.inject(path="tasks", status=504, delay_ms=2500)
    assert (await client.get(TASK)).status_code == 504
    assert waited == [2.5]


async def test_latency_is_added_to_api_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """latency_ms is waited for on API calls but not on control calls."""
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr("fdi_drift.emulator.app.asyncio.sleep", record)
    emulator = Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN}), latency_ms=40))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator.test"
    ) as http:
        await http.get(TASK, headers={"X-Auth-Token": TOKEN})
        await http.get("/_emulator/requests")
    assert waited == [0.04]


async def test_processed_fault_runs_the_route_then_answers_instead(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """With processed, a create creates and an update updates, yet the fault gives the answer."""
    emulator.faults.inject(method="POST", path="/multi-tasks$", status=503, processed=True)
    emulator.faults.inject(method="PUT", path=f"/tasks/{NODES}$", status=504, processed=True)
    created = await client.post(f"{BASE}/multi-tasks", json=create_body(task_name="lost-answer"))
    updated = await client.put(f"{BASE}/tasks/{NODES}", json=update_body(description="lost too"))
    assert (created.status_code, updated.status_code) == (503, 504)
    assert created.json()["error_code"] == "FDI.3001"
    assert "lost-answer" in composite_names(emulator)
    assert (await client.get(f"{BASE}/tasks/{NODES}")).json()["task"]["description"] == "lost too"
    assert [entry.status for entry in emulator.requests[:2]] == [503, 504]


async def test_unprocessed_fault_leaves_state_alone(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """Without processed the fault answers instead of the route, so nothing is created."""
    emulator.faults.inject(method="POST", path="/multi-tasks$", status=503)
    created = await client.post(f"{BASE}/multi-tasks", json=create_body(task_name="never-made"))
    assert created.status_code == 503
    assert "never-made" not in composite_names(emulator)


async def test_processed_request_is_logged_before_its_late_real_answer(
    client: httpx.AsyncClient, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A processed delay-only fault runs the route, logs it, then delays the real answer."""
    logged_when_waiting: list[int] = []

    async def record(seconds: float) -> None:
        logged_when_waiting.append(len(emulator.requests))

    monkeypatch.setattr("fdi_drift.emulator.app.asyncio.sleep", record)
    emulator.faults.inject(method="POST", status=None, delay_ms=60_000, processed=True)
    created = await client.post(f"{BASE}/multi-tasks", json=create_body(task_name="late"))
    assert created.status_code == 200
    assert created.json()["task_id"] in {
        c.task_id for c in emulator.store.composite_tasks(PROJECT, INSTANCE)
    }
    assert logged_when_waiting == [1]


async def run_random(seed: int, count: int = 40) -> list[httpx.Response]:
    """Send `count` reads to a fresh emulator with random faults and the given seed."""
    config = EmulatorConfig(
        seed_dir=SAMPLES,
        tokens=frozenset({TOKEN}),
        fail_rate=0.3,
        throttle_rate=0.3,
        random_seed=seed,
    )
    emulator = Emulator(config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url="http://emulator.test",
        headers={"X-Auth-Token": TOKEN},
    ) as http:
        return [await http.get(TASK) for _ in range(count)]


async def test_random_faults_repeat_with_the_same_seed() -> None:
    """The same random_seed gives the same faults for the same requests."""
    first = [r.status_code for r in await run_random(7)]
    second = [r.status_code for r in await run_random(7)]
    assert first == second
    assert {200, 429, 500} <= set(first)


async def test_random_fault_bodies() -> None:
    """Random 429s carry Retry-After and APIG.0308; random 500s an FDI error."""
    answers = await run_random(11)
    throttled = [a for a in answers if a.status_code == 429]
    failed = [a for a in answers if a.status_code == 500]
    assert throttled and failed
    assert all(a.headers["retry-after"] == "1" for a in throttled)
    assert all(a.json()["error_code"] == "APIG.0308" for a in throttled)
    assert all(a.json()["error_code"].startswith("FDI.") for a in failed)


async def test_random_faults_spare_iam_and_control() -> None:
    """Random faults apply to cloud API routes only, not to IAM login or the control API."""
    config = EmulatorConfig(users=(USER,), fail_rate=1.0, random_seed=1)
    emulator = Emulator(config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator.test"
    ) as http:
        assert (await http.post(LOGIN, json=login_body())).status_code == 201
        assert (await http.get("/_emulator/requests")).status_code == 200
        assert (await http.get(TASK, headers={"X-Auth-Token": "x"})).status_code == 500


def test_no_rates_never_fault() -> None:
    """With both rates at zero no request is faulted."""
    faults = RandomFaults(0.0, 0.0, None)
    assert all(faults.draw() is None for _ in range(100))


@pytest.mark.parametrize(("fail", "throttle"), [(-0.1, 0.0), (0.0, 1.5), (0.6, 0.6)])
def test_impossible_rates_are_refused(fail: float, throttle: float) -> None:
    """Rates outside 0-1, or adding up past 1, are refused."""
    with pytest.raises(ValueError, match="rate"):
        RandomFaults(fail, throttle, None)


@pytest.mark.parametrize(
    "arguments",
    [
        {"times": 0},
        {"delay_ms": -1},
        {"drip_ms": -1},
        {"cut_after": -1},
        {"path": "("},
        {"status": 99},
        {"raw": True, "body": {"a": 1}},
        {"body": {1, 2}},
    ],
)
def test_nonsense_faults_are_refused(arguments: dict[str, object]) -> None:
    """A fault that could never apply, or cannot be encoded, is refused."""
    with pytest.raises(ValueError):
        FaultInjector().inject(**arguments)  # type: ignore[arg-type]


def test_faults_are_tried_in_order() -> None:
    """The first matching fault is used up before the next one applies."""
    faults = FaultInjector()
    first = faults.inject(path="a", status=500)
    second = faults.inject(path="a", status=503)
    assert faults.take("GET", "/a") == first
    assert faults.take("GET", "/a") == second
    assert faults.take("GET", "/a") is None


def test_random_throttling_asks_for_the_configured_wait() -> None:
    """A random 429 carries the Retry-After the configuration asks for (1 s by default)."""
    throttled = RandomFaults(0.0, 1.0, seed=1, retry_after=0).draw()
    assert throttled is not None and throttled.status == 429
    assert ("retry-after", "0") in throttled.headers
    default = RandomFaults(0.0, 1.0, seed=1).draw()
    assert default is not None and ("retry-after", "1") in default.headers
