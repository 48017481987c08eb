"""The ASGI app: routing, path id checks, configuration, lifespan, and serving on a socket."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from fdi_drift.emulator.app import Emulator, EmulatorConfig, serve
from tests.emulator.conftest import (
    BASE,
    INSTANCE,
    ORDERS,
    PROJECT,
    SAMPLES,
    TOKEN,
    FakeClock,
    sample_body,
)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/v2/p/fdi/instances/i"),
        ("DELETE", f"{BASE}/tasks/{ORDERS}"),
        ("POST", f"{BASE}/tasks"),
        ("GET", "/v3/auth/tokens"),
        ("GET", f"{BASE}/tasks/{ORDERS}/run"),
        ("GET", f"{BASE}/multi-tasks"),
        ("GET", f"{BASE}/multi-tasks/init"),
        ("DELETE", f"{BASE}/multi-tasks/{ORDERS}"),
        ("POST", f"/v5/{PROJECT}/jobs"),
        ("DELETE", f"/v5/{PROJECT}/jobs/some-job"),
        ("GET", f"/v5/{PROJECT}/jobs/some-job/extra"),
        ("GET", f"/v3/{PROJECT}/jobs"),
    ],
)
async def test_unknown_api_answers_the_gateways_404(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """A method and path with no API behind it answers 404 APIG.0101."""
    answer = await client.request(method, path)
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "APIG.0101"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/v2/{'p' * 65}/fdi/instances/{INSTANCE}/tasks/{ORDERS}", "project_id"),
        (f"/v2/{PROJECT}/fdi/instances/{'i' * 65}/tasks/{ORDERS}", "instance_id"),
        (f"{BASE}/tasks/{'t' * 65}", "task_id"),
        (f"{BASE}/tasks/", "task_id"),
        (f"/v2//fdi/instances/{INSTANCE}/tasks", "project_id"),
    ],
)
async def test_path_ids_must_have_1_to_64_characters(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    """A path id that is empty or longer than 64 characters answers 400 naming it."""
    answer = await client.get(path)
    assert answer.status_code == 400
    assert f"[{field}]" in answer.json()["error_msg"]


async def test_longest_path_ids_are_accepted(client: httpx.AsyncClient) -> None:
    """Ids of exactly 64 characters pass the path check."""
    answer = await client.get(f"/v2/{'p' * 64}/fdi/instances/{'i' * 64}/tasks/{'t' * 64}")
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "arguments", [{"latency_ms": -1}, {"token_ttl_seconds": 0}, {"fail_rate": 2.0}]
)
def test_impossible_configuration_is_refused(arguments: dict[str, object]) -> None:
    """Negative latency, a non-positive token lifetime or a rate above 1 is refused."""
    with pytest.raises(ValueError):
        Emulator(EmulatorConfig(**arguments))  # type: ignore[arg-type]


async def test_lifespan_is_acknowledged(emulator: Emulator) -> None:
    """The app completes the ASGI lifespan protocol, so any server may run it."""
    incoming: list[dict[str, object]] = [
        {"type": "lifespan.startup"},
        {"type": "lifespan.shutdown"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await emulator({"type": "lifespan"}, receive, send)  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_serve_listens_answers_and_stops() -> None:
    """serve() reports the real URL for port 0, answers over TCP and ends when asked."""
    emulator = Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN})))
    urls: list[str] = []
    listening = asyncio.Event()
    stop = asyncio.Event()

    def ready(url: str) -> None:
        urls.append(url)
        listening.set()

    server = asyncio.create_task(serve(emulator, "127.0.0.1", 0, ready, stop=stop))
    try:
        await asyncio.wait_for(listening.wait(), timeout=10)
        assert urls[0].startswith("http://127.0.0.1:")
        assert not urls[0].endswith(":0")
        async with httpx.AsyncClient(base_url=urls[0], headers={"X-Auth-Token": TOKEN}) as http:
            answer = await http.get(f"{BASE}/tasks/{ORDERS}")
        assert answer.json() == sample_body(ORDERS)
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=10)
    assert emulator.requests[0].status == 200


async def test_serve_reports_an_address_in_use() -> None:
    """serve() raises OSError when the port is taken, rather than exiting the process."""
    emulator = Emulator(EmulatorConfig())
    first_url: list[str] = []
    listening = asyncio.Event()
    stop = asyncio.Event()

    def ready(url: str) -> None:
        first_url.append(url)
        listening.set()

    first = asyncio.create_task(serve(emulator, "127.0.0.1", 0, ready, stop=stop))
    try:
        await asyncio.wait_for(listening.wait(), timeout=10)
        port = int(first_url[0].rsplit(":", 1)[1])
        with pytest.raises(OSError, match=str(port)):
            await serve(emulator, "127.0.0.1", port, lambda url: None)
    finally:
        stop.set()
        await asyncio.wait_for(first, timeout=10)


async def test_every_answer_carries_the_emulators_date(
    emulator: Emulator,
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    """API answers, refusals, unknown routes, control routes and faults carry Date by the clock."""
    emulator.faults.inject(method="GET", path="/run$", status=503)
    answers = [
        await client.get(f"{BASE}/tasks/{ORDERS}"),
        await anonymous.get(f"{BASE}/tasks/{ORDERS}"),
        await client.get("/nowhere"),
        await anonymous.get("/_emulator/requests"),
        await client.get(f"{BASE}/tasks/{ORDERS}/run"),
    ]
    assert [a.status_code for a in answers] == [200, 401, 404, 200, 503]
    for answer in answers:
        assert answer.headers.get_list("date") == ["Tue, 14 Nov 2023 22:13:20 GMT"]
    clock.advance(3600.9)
    later = await client.get(f"{BASE}/tasks/{ORDERS}")
    assert later.headers["date"] == "Tue, 14 Nov 2023 23:13:20 GMT"


async def test_a_faults_own_date_header_is_kept(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    """A planned fault that sets Date answers with that one only, to test a client's clock check."""
    stale = "Mon, 01 Jan 2024 00:00:00 GMT"
    emulator.faults.inject(path="tasks", status=401, headers={"Date": stale})
    answer = await client.get(f"{BASE}/tasks/{ORDERS}")
    assert answer.headers.get_list("date") == [stale]


async def test_every_answer_carries_a_new_request_id(
    emulator: Emulator, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """Success, FDI error, refusal, 404, fault, IAM and control answers each carry their own
    32-hex X-Request-Id, and the log records each API answer's id."""
    emulator.faults.inject(method="GET", path="/run$", status=503)
    answers = [
        await client.get(f"{BASE}/tasks/{ORDERS}"),
        await client.get(f"{BASE}/tasks/no-such-task"),
        await anonymous.get(f"{BASE}/tasks/{ORDERS}"),
        await client.get("/nowhere"),
        await client.get(f"{BASE}/tasks/{ORDERS}/run"),
        await anonymous.post("/v3/auth/tokens", content=b"{}"),
        await anonymous.get("/_emulator/requests"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 401, 404, 503, 400, 200]
    ids = [a.headers.get_list("x-request-id") for a in answers]
    assert all(len(found) == 1 and re.fullmatch("[0-9a-f]{32}", found[0]) for found in ids)
    assert len({found[0] for found in ids}) == len(answers)
    logged = [entry.request_id for entry in emulator.requests]
    assert logged == [found[0] for found in ids[:-1]]


async def test_gateway_errors_carry_the_request_id_in_the_body(
    emulator: Emulator, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """APIG bodies (refusal, unknown API, throttling) repeat the header's id as request_id;
    FDI bodies do not, as their pages show only error_code and error_msg."""
    emulator.faults.inject(path="/run$", status=429)
    for answer in (
        await anonymous.get(f"{BASE}/tasks/{ORDERS}"),
        await client.get("/nowhere"),
        await client.post(f"{BASE}/tasks/{ORDERS}/run"),
    ):
        body = answer.json()
        assert body["error_code"].startswith("APIG.")
        assert body["request_id"] == answer.headers["x-request-id"]
    fdi_error = await client.get(f"{BASE}/tasks/no-such-task")
    assert set(fdi_error.json()) == {"error_code", "error_msg"}


async def test_a_faults_own_request_id_is_kept(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    """A planned fault that sets X-Request-Id answers with that one only, and the log agrees."""
    emulator.faults.inject(path="tasks", status=500, headers={"X-Request-Id": "fixed-id"})
    answer = await client.get(f"{BASE}/tasks/{ORDERS}")
    assert answer.headers.get_list("x-request-id") == ["fixed-id"]
    assert emulator.requests[-1].request_id == "fixed-id"
