"""The control API under /_emulator/, as tests on a real socket would use it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from fdi_drift.emulator.app import Emulator
from fdi_drift.emulator.control import ControlApi
from fdi_drift.emulator.faults import FaultInjector
from fdi_drift.emulator.store import TaskStore
from tests.emulator.conftest import (
    BASE,
    INSTANCE,
    JOB,
    JOBS,
    ORDERS,
    PROJECT,
    TOKEN,
    FakeClock,
)
from tests.emulator.test_composite import create_body

TASK = f"{BASE}/tasks/{ORDERS}"


@pytest.fixture
async def control(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client without any token, as the control API needs none."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator.test"
    ) as http:
        yield http


async def test_request_log_lists_api_calls_only(
    client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    """The log lists API calls with method, path, query, body, status and the answer's request
    id, never control calls."""
    listed = await client.get(f"{BASE}/tasks", params={"limit": 2})
    refused = await client.put(TASK, content=b'{"task": 1}')
    await control.get("/_emulator/faults")
    log = (await control.get("/_emulator/requests")).json()
    assert log == [
        {
            "method": "GET",
            "path": f"{BASE}/tasks",
            "query": "limit=2",
            "body": "",
            "status": 200,
            "request_id": listed.headers["x-request-id"],
        },
        {
            "method": "PUT",
            "path": TASK,
            "query": "",
            "body": '{"task": 1}',
            "status": 400,
            "request_id": refused.headers["x-request-id"],
        },
    ]
    assert TOKEN not in str(log)


async def test_request_log_can_be_emptied(
    client: httpx.AsyncClient, control: httpx.AsyncClient, emulator: Emulator
) -> None:
    """DELETE on the log empties it, in process too."""
    await client.get(TASK)
    assert (await control.delete("/_emulator/requests")).status_code == 204
    assert (await control.get("/_emulator/requests")).json() == []
    assert emulator.requests == []


async def test_fault_over_http(client: httpx.AsyncClient, control: httpx.AsyncClient) -> None:
    """A fault posted to the control API answers the matching requests, `times` times."""
    spec = {"method": "GET", "path": "/tasks/", "status": 500, "body": {"oops": True}, "times": 1}
    created = await control.post("/_emulator/faults", json=spec)
    assert created.status_code == 201
    assert isinstance(created.json()["id"], int)
    faulted = await client.get(TASK)
    assert (faulted.status_code, faulted.json()) == (500, {"oops": True})
    assert (await client.get(TASK)).status_code == 200


async def test_raw_fault_over_http(client: httpx.AsyncClient, control: httpx.AsyncClient) -> None:
    """raw=true sends the string body as it is."""
    spec = {"path": "tasks", "status": 200, "body": "{broken", "raw": True}
    await control.post("/_emulator/faults", json=spec)
    assert (await client.get(TASK)).content == b"{broken"


async def test_faults_listed_and_cleared(
    client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    """Active faults are listed, and DELETE forgets them all."""
    spec = {"path": "tasks", "status": None, "times": None, "delay_ms": 1, "method": None}
    await control.post("/_emulator/faults", json=spec)
    listed = (await control.get("/_emulator/faults")).json()
    assert [(f["path"], f["status"], f["times"], f["delay_ms"]) for f in listed] == [
        ("tasks", None, None, 1)
    ]
    assert [(f["drip_ms"], f["cut_after"], f["processed"]) for f in listed] == [(0, None, False)]
    assert (await control.delete("/_emulator/faults")).status_code == 204
    assert (await control.get("/_emulator/faults")).json() == []
    assert (await client.get(TASK)).status_code == 200


async def test_processed_fault_over_http(
    client: httpx.AsyncClient, control: httpx.AsyncClient, emulator: Emulator
) -> None:
    """processed=true posted to the control API lets the create happen behind the fault's 502."""
    spec = {"method": "POST", "path": "/multi-tasks$", "status": 502, "processed": True}
    assert (await control.post("/_emulator/faults", json=spec)).status_code == 201
    assert (await control.get("/_emulator/faults")).json()[0]["processed"] is True
    answer = await client.post(f"{BASE}/multi-tasks", json=create_body(task_name="behind-502"))
    assert answer.status_code == 502
    names = [c.task["task_name"] for c in emulator.store.composite_tasks(PROJECT, INSTANCE)]
    assert "behind-502" in names


async def test_drip_and_cut_over_http(
    client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    """drip_ms and cut_after posted to the control API reach the planned fault and its answer."""
    spec = {"path": "tasks", "status": 200, "body": "0123456789", "raw": True}
    planned = {**spec, "drip_ms": 1, "cut_after": 20}
    assert (await control.post("/_emulator/faults", json=planned)).status_code == 201
    faults = (await control.get("/_emulator/faults")).json()
    assert [(f["drip_ms"], f["cut_after"]) for f in faults] == [(1, 20)]
    assert (await client.get(TASK)).content == b"0123456789"


@pytest.mark.parametrize(
    "content",
    [
        b'{"drip": 5}',
        b'{"drip_ms": -1}',
        b'{"drip_ms": null}',
        b'{"drip_ms": 1.5}',
        b'{"cut_after": -1}',
        b'{"cut_after": "3"}',
        b'{"processed": "yes"}',
        b'{"processed": 1}',
        b"not json",
        b"[]",
        b'{"stauts": 500}',
        b'{"status": "500"}',
        b'{"status": true}',
        b'{"times": 0}',
        b'{"raw": "yes"}',
        b'{"headers": {"a": 1}}',
        b'{"path": "("}',
    ],
)
async def test_bad_fault_specs_answer_400(control: httpx.AsyncClient, content: bytes) -> None:
    """A fault spec with unknown keys, wrong types or impossible values is refused."""
    answer = await control.post("/_emulator/faults", content=content)
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert (await control.get("/_emulator/faults")).json() == []


async def test_unknown_control_route_answers_404(control: httpx.AsyncClient) -> None:
    """An unknown control path answers 404 and is not mistaken for an API route."""
    assert (await control.get("/_emulator/nothing")).status_code == 404
    assert (await control.get("/_emulator/requests")).json() == []


async def test_fighting_switch(
    emulator: Emulator, client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    """PUT /_emulator/fighting turns the undoing writer on and off; bad bodies are 400."""
    assert (await control.put("/_emulator/fighting", json={"enabled": True})).json() == {
        "enabled": True
    }
    assert emulator.store.fighting
    assert (await control.put("/_emulator/fighting", json={"enabled": "yes"})).status_code == 400
    assert (await control.put("/_emulator/fighting", json={"enabled": False})).status_code == 200
    assert not emulator.store.fighting


async def test_fighting_switch_reaches_drs_jobs(
    client: httpx.AsyncClient, control: httpx.AsyncClient
) -> None:
    """With fighting switched on over the control API, a DRS update is undone at the next list."""
    await control.put("/_emulator/fighting", json={"enabled": True})
    rename = {"job": {"type": "name", "params": {"base_info": {"name": "renamed-job"}}}}
    assert (await client.put(f"{JOBS}/{JOB}", json=rename)).status_code == 200
    await client.get(JOBS)
    detail = (await client.get(f"{JOBS}/{JOB}", params={"type": "detail"})).json()
    assert detail["job"]["base_info"]["name"] == "orders-sync-prod"


def test_key_pair_routes_need_credentials(clock: FakeClock) -> None:
    """A control API built without key pairs answers 404 on the key-pair routes."""
    control = ControlApi([], FaultInjector(), TaskStore(clock))
    assert control.handle("GET", "/_emulator/key-pairs", b"").status == 404
    assert control.handle("PUT", "/_emulator/key-pairs", b"[]").status == 404


async def test_key_pair_route_refuses_other_methods(control: httpx.AsyncClient) -> None:
    """Only GET and PUT exist on /_emulator/key-pairs."""
    assert (await control.delete("/_emulator/key-pairs")).status_code == 404
