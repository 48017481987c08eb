"""The ROMA instance list: one entry per known instance, paged, filtered and authenticated."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import httpx
import pytest

from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.composite_rules import CompositeCreate, parse_create
from fdi_drift.emulator.records import utc_text
from fdi_drift.emulator.store import TaskStore
from tests.emulator.conftest import (
    CUSTOMERS,
    INSTANCE,
    KEY,
    NODES,
    ORDERS,
    PAYMENTS,
    PROJECT,
    START,
    TOKEN,
    FakeClock,
    composite_body,
    sample_body,
)
from tests.emulator.signer import sign
from tests.emulator.test_composite import create_body

INSTANCES = f"/v2/{PROJECT}/instances"
OTHER_INSTANCE = "0b7c6f5e-4d3c-4b2a-9180-7f6e5d4c3b2a"
UUID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ENTRY_KEYS = {
    "id",
    "name",
    "description",
    "flavor_id",
    "flavor_type",
    "cpu_arch",
    "vpc_id",
    "subnet_id",
    "security_group_id",
    "publicip_enable",
    "publicip_id",
    "publicip_address",
    "status",
    "error_code",
    "error_msg",
    "charge_type",
    "project_id",
    "create_time",
    "update_time",
    "maintain_begin",
    "maintain_end",
    "available_zone_ids",
    "enterprise_project_id",
}


def seeded(tmp_path: pathlib.Path, *instances: str, project: str = PROJECT) -> pathlib.Path:
    """A seed directory with empty folders for `instances` (no tasks in them)."""
    for instance in instances:
        (tmp_path / project / instance).mkdir(parents=True)
    return tmp_path


async def listing(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    """The instance list's 200 answer for `params`."""
    answer = await http.get(INSTANCES, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def in_process(emulator: Emulator) -> httpx.AsyncClient:
    """A client of `emulator` sending the static token."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url="http://emulator.test",
        headers={"X-Auth-Token": TOKEN},
    )


async def test_samples_list_their_one_instance_with_every_model_field(
    client: httpx.AsyncClient,
) -> None:
    """The sample project holds one instance: every RomaInstanceCheckListRespInstances field."""
    body = await listing(client)
    assert (body["total"], body["size"]) == (1, 1)
    (entry,) = body["instances"]
    assert set(entry) == ENTRY_KEYS
    assert (entry["id"], entry["project_id"], entry["status"]) == (INSTANCE, PROJECT, "RUNNING")
    assert entry["name"] == f"roma-{INSTANCE[:8]}"
    for key in ("flavor_id", "vpc_id", "subnet_id", "security_group_id"):
        assert UUID.fullmatch(entry[key]), key
    assert entry["publicip_enable"] is False
    (zone,) = entry["available_zone_ids"]
    assert re.fullmatch("[0-9a-f]{32}", zone)


async def test_an_instance_is_as_old_as_its_oldest_task(client: httpx.AsyncClient) -> None:
    """create_time is the oldest task's creation, as UTC text to the second."""
    dates = [sample_body(task)["task"]["created_date"] for task in (ORDERS, NODES, CUSTOMERS)]
    dates += [
        sample_body(PAYMENTS)["task"]["created_date"],
        composite_body()["task"]["created_date"],
    ]
    oldest = min(dates)
    (entry,) = (await listing(client))["instances"]
    assert entry["create_time"] == entry["update_time"] == utc_text(oldest, millis=False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["create_time"])


async def test_empty_instance_folders_are_listed_and_other_projects_are_not(
    tmp_path: pathlib.Path, clock: FakeClock
) -> None:
    """A seed folder without tasks is an instance, known since the emulator started."""
    seed_dir = seeded(tmp_path, INSTANCE, OTHER_INSTANCE)
    seeded(tmp_path, "elsewhere-instance", project="another-project")
    emulator = Emulator(EmulatorConfig(seed_dir=seed_dir, tokens=frozenset({TOKEN})), clock=clock)
    async with in_process(emulator) as http:
        body = await listing(http)
    assert body["total"] == 2
    assert [e["id"] for e in body["instances"]] == sorted([INSTANCE, OTHER_INSTANCE])
    assert {e["create_time"] for e in body["instances"]} == {
        utc_text(int(START * 1000), millis=False)
    }


async def test_instances_that_tasks_are_added_to_at_run_time_are_listed(
    client: httpx.AsyncClient, emulator: Emulator, clock: FakeClock
) -> None:
    """A composite task created in a new instance, or a task added to one, makes it known."""
    clock.advance(60)
    created = await client.post(
        f"/v2/{PROJECT}/fdi/instances/{OTHER_INSTANCE}/multi-tasks", json=create_body()
    )
    assert created.status_code == 200
    emulator.store.add_task(PROJECT, "added-instance", sample_body(ORDERS))
    created_at = {e["id"]: e["create_time"] for e in (await listing(client))["instances"]}
    assert set(created_at) == {INSTANCE, OTHER_INSTANCE, "added-instance"}
    assert created_at[OTHER_INSTANCE] == utc_text(int((START + 60) * 1000), millis=False)
    orders_created = sample_body(ORDERS)["task"]["created_date"]
    assert created_at["added-instance"] == utc_text(orders_created, millis=False)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": 2}, ["i1", "i2"]),
        ({"offset": 1, "limit": 2}, ["i2", "i3"]),
        ({"offset": 4}, []),
        ({"limit": 0}, []),
        ({"offset": "", "limit": ""}, ["i1", "i2", "i3"]),
    ],
)
async def test_paging_by_offset_and_limit_keeps_the_full_total(
    clock: FakeClock, params: dict[str, Any], expected: list[str]
) -> None:
    """offset and limit page the instances; total counts every one of them."""
    emulator = Emulator(EmulatorConfig(tokens=frozenset({TOKEN})), clock=clock)
    for instance in ("i1", "i2", "i3"):
        clock.advance(1)
        emulator.store.create_composite(PROJECT, instance, _create())
    async with in_process(emulator) as http:
        body = await listing(http, **params)
    assert body["total"] == 3
    assert body["size"] == len(expected)
    assert [e["id"] for e in body["instances"]] == expected


def _create() -> CompositeCreate:
    return parse_create(json.dumps(create_body()).encode())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"offset": 101}, "offset"),
        ({"offset": -1}, "offset"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "1.5"}, "offset"),
        ({"status": "running"}, "status"),
        ({"status": "BOGUS"}, "status"),
    ],
)
async def test_bad_parameters_answer_the_fdi_lists_400_with_a_request_id(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    """A bad offset, limit or status answers 400 FDI.3033 naming it, plus request_id."""
    answer = await client.get(INSTANCES, params=params)
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == {"error_code", "error_msg", "request_id"}
    assert body["error_code"] == "FDI.3033"
    assert body["error_msg"].startswith(f"Invalid parameter [{field}].")
    assert body["request_id"] == answer.headers["x-request-id"]


@pytest.mark.parametrize(("status", "total"), [("RUNNING", 1), ("CREATING", 0), ("", 1)])
async def test_status_filters_the_list(client: httpx.AsyncClient, status: str, total: int) -> None:
    """Every emulated instance runs: RUNNING lists them all, another status none."""
    body = await listing(client, status=status)
    assert (body["total"], body["size"], len(body["instances"])) == (total, total, total)


async def test_signed_requests_are_accepted_and_anonymous_ones_refused(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """The route takes AK/SK signatures like the others, and refuses a request without auth."""
    request = anonymous.build_request("GET", INSTANCES, params={"limit": 5})
    sign(request, KEY.access_key, KEY.secret_key, at=clock.now)
    assert (await anonymous.send(request)).status_code == 200
    refused = await anonymous.get(INSTANCES)
    assert refused.status_code == 401
    assert refused.json()["request_id"] == refused.headers["x-request-id"]


async def test_a_project_id_past_64_characters_is_refused(client: httpx.AsyncClient) -> None:
    """The path's project id obeys the usual 1-64 rule, with a request_id in the body."""
    answer = await client.get(f"/v2/{'p' * 65}/instances")
    assert answer.status_code == 400
    assert answer.json()["error_msg"].startswith("Invalid parameter [project_id].")
    assert answer.json()["request_id"] == answer.headers["x-request-id"]


def test_the_store_knows_no_instance_before_anything_is_added(clock: FakeClock) -> None:
    """A store without seeds or tasks knows no instance."""
    assert TaskStore(clock).instances(PROJECT) == {}
