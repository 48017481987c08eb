"""The FDI composite-task routes: create, init and modify, and composite tasks in read and list."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from fdi_drift.emulator.app import Emulator
from fdi_drift.emulator.catalogue import catalogue_of
from tests.emulator.conftest import (
    BASE,
    COMPOSITE,
    CUSTOMERS,
    INSTANCE,
    NODES,
    ORDERS,
    PAYMENTS,
    PROJECT,
    START,
    FakeClock,
    composite_body,
    sample_body,
)

HEX_ID = re.compile(r"[0-9a-f]{32}")
NOW_MS = int(START * 1000)
LATER = 1_800_000_000.0  # after the composite sample's dates
TABLE_6 = {
    "ext_info",
    "task_id",
    "source_datasource_id",
    "target_datasource_id",
    "source_group",
    "target_group",
    "source_ds_id",
    "target_ds_id",
    "source_instance_id",
    "target_instance_id",
    "source_app_id",
    "target_app_id",
    "source_datasource_name",
    "target_datasource_name",
    "source_datasource_type",
    "target_datasource_type",
    "mappings",
    "schema_mappings",
    "mappings_total_count",
}
FDI_3150 = {"error_code": "FDI.3150", "error_msg": "The task list is empty."}
FDI_3083 = {
    "error_code": "FDI.3083",
    "error_msg": "One or more scheduled tasks are not configured with scheduled plans.",
}


def create_body(**fields: Any) -> dict[str, Any]:
    """A valid create body with fields replaced (None removes one)."""
    body: dict[str, Any] = {
        "task_name": "cdctest1",
        "task_type": "REALTIME",
        "description": "create",
        "task_tag": "combination",
        "operation_types": ["INSERT", "UPDATE", "DELETE"],
        "source_app_id": "d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
        "target_app_id": "d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
    }
    for key, value in fields.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def modify_body(**fields: Any) -> dict[str, Any]:
    """A valid modify body with fields replaced (None removes one)."""
    body: dict[str, Any] = {
        "description": "changed",
        "task_tag": "changed-tag",
        "operation_types": ["INSERT"],
        "repulling_snapshot": True,
    }
    for key, value in fields.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


async def read(client: httpx.AsyncClient, task_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """GET a task; returns its task object and its decoded task_detail."""
    answer = await client.get(f"{BASE}/tasks/{task_id}")
    assert answer.status_code == 200
    body = answer.json()
    return body["task"], json.loads(body["task_detail"])


async def create(client: httpx.AsyncClient, **fields: Any) -> str:
    """Create a composite task and return its id."""
    answer = await client.post(f"{BASE}/multi-tasks", json=create_body(**fields))
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


def assert_invalid(answer: httpx.Response, field: str) -> None:
    """A 400 FDI.3033 naming `field`."""
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "FDI.3033"
    assert f"[{field}]" in body["error_msg"]


async def test_create_answers_a_new_id_and_a_bare_stopped_task(client: httpx.AsyncClient) -> None:
    """Create answers a 32-hex id; the task is stopped and has no datasources or mappings."""
    answer = await client.post(f"{BASE}/multi-tasks", json=create_body())
    assert answer.status_code == 200
    assert set(answer.json()) == {"task_id"}
    task_id = answer.json()["task_id"]
    assert HEX_ID.fullmatch(task_id)
    task, detail = await read(client, task_id)
    assert task == {
        "task_id": task_id,
        "task_name": "cdctest1",
        "task_type": "realtime",
        "status": "stop",
        "project_id": PROJECT,
        "description": "create",
        "task_tag": "combination",
        "operation_types": ["INSERT", "UPDATE", "DELETE"],
        "source_app_id": "d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
        "target_app_id": "d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
        "created_date": NOW_MS,
        "last_modified_date": NOW_MS,
        "ext_type": "MULTI_TABLE",
        "repulling_snapshot": False,
    }
    assert detail == {"ext_info": None, "mappings": [], "schema_mappings": []}


async def test_create_leaves_optional_fields_out(client: httpx.AsyncClient) -> None:
    """A create body with only the required fields makes a task without the optional ones."""
    body = {"task_name": "minimal-cdc", "operation_types": ["DELETE"]}
    answer = await client.post(f"{BASE}/multi-tasks", json=body)
    task, _ = await read(client, answer.json()["task_id"])
    for key in ("description", "task_tag", "source_app_id", "target_app_id"):
        assert key not in task
    assert task["operation_types"] == ["DELETE"]


async def test_create_uses_a_free_task_id(client: httpx.AsyncClient) -> None:
    """A task_id given and free becomes the task's id."""
    assert await create(client, task_id="my-own-id") == "my-own-id"
    task, _ = await read(client, "my-own-id")
    assert task["task_name"] == "cdctest1"


@pytest.mark.parametrize("taken", [ORDERS, COMPOSITE])
async def test_create_refuses_a_task_id_in_use(client: httpx.AsyncClient, taken: str) -> None:
    """A task_id some task of the instance has, of either kind, answers 400 naming task_id."""
    answer = await client.post(f"{BASE}/multi-tasks", json=create_body(task_id=taken))
    assert_invalid(answer, "task_id")


@pytest.mark.parametrize(
    "taken", [sample_body(ORDERS)["task"]["task_name"], composite_body()["task"]["task_name"]]
)
async def test_create_refuses_a_name_in_use(client: httpx.AsyncClient, taken: str) -> None:
    """A name another task has, of either kind, answers 400 FDI.3006 naming task_name."""
    answer = await client.post(f"{BASE}/multi-tasks", json=create_body(task_name=taken))
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "FDI.3006"
    assert "[task_name]" in answer.json()["error_msg"]


BAD_CREATES: list[tuple[str, dict[str, Any], str]] = [
    ("name missing", create_body(task_name=None), "task_name"),
    ("name too short", create_body(task_name="ab"), "task_name"),
    ("name too long", create_body(task_name="a" * 101), "task_name"),
    ("name starts with a dot", create_body(task_name=".abc"), "task_name"),
    ("name with a space", create_body(task_name="ab cd"), "task_name"),
    ("name a number", create_body(task_name=1234), "task_name"),
    ("id empty", create_body(task_id=""), "task_id"),
    ("id too long", create_body(task_id="t" * 65), "task_id"),
    ("type timing", create_body(task_type="TIMING"), "task_type"),
    ("type lower case", create_body(task_type="realtime"), "task_type"),
    ("description empty", create_body(description=""), "description"),
    ("description too long", create_body(description="d" * 1025), "description"),
    ("tag too short", create_body(task_tag="abc"), "task_tag"),
    ("tag with a dot", create_body(task_tag="ab.cd"), "task_tag"),
    ("operations missing", create_body(operation_types=None), "operation_types"),
    ("operations empty", create_body(operation_types=[]), "operation_types"),
    ("operations unknown", create_body(operation_types=["UPSERT"]), "operation_types"),
    ("operations repeated", create_body(operation_types=["INSERT", "INSERT"]), "operation_types"),
    ("operations a string", create_body(operation_types="INSERT"), "operation_types"),
    ("operations lower case", create_body(operation_types=["insert"]), "operation_types"),
    ("source app empty", create_body(source_app_id=""), "source_app_id"),
    ("target app too long", create_body(target_app_id="a" * 65), "target_app_id"),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_CREATES], ids=[i for i, _, _ in BAD_CREATES]
)
async def test_create_refuses_bad_fields(
    client: httpx.AsyncClient, emulator: Emulator, body: dict[str, Any], field: str
) -> None:
    """Each bad create field answers 400 FDI.3033 naming it, and nothing is created."""
    assert_invalid(await client.post(f"{BASE}/multi-tasks", json=body), field)
    assert len(emulator.store.composite_tasks(PROJECT, INSTANCE)) == 1


@pytest.mark.parametrize("content", [b"{", b"[]"])
async def test_create_refuses_a_body_that_is_no_object(
    client: httpx.AsyncClient, content: bytes
) -> None:
    """A body that is not a JSON object answers 400 naming the body."""
    assert_invalid(await client.post(f"{BASE}/multi-tasks", content=content), "body")


async def test_init_with_auto_mapping_stores_and_truncates(client: httpx.AsyncClient) -> None:
    """Init maps the source catalogue: the answer holds 10 mappings and the total, GET holds all."""
    task_id = await create(client)
    body = {
        "ext_info": {"server_id": "7"},
        "source_datasource_id": "30969b205e8f4392a25fb321112d1753",
        "target_datasource_id": "5c3ee362953d8b8c0e9da610731ff752",
        "task_id": task_id,
        "auto_mapping": True,
    }
    answer = await client.post(f"{BASE}/multi-tasks/init", json=body)
    assert answer.status_code == 200
    elements = answer.json()
    assert isinstance(elements, list) and len(elements) == 1
    element = elements[0]
    assert set(element) == TABLE_6
    source = catalogue_of("30969b205e8f4392a25fb321112d1753")
    assert len(source.tables) >= 12
    assert element["mappings_total_count"] == len(source.tables)
    assert len(element["mappings"]) == 10
    assert len(element["schema_mappings"]) == min(10, len(source.schemas))
    assert element["task_id"] == task_id
    assert element["ext_info"] == {"server_id": "7"}
    assert (
        element["source_ds_id"] == element["source_datasource_id"] == body["source_datasource_id"]
    )
    assert element["source_instance_id"] == element["target_instance_id"] == INSTANCE
    assert element["source_app_id"] == "d5afd9af-a8fe-47f6-a98c-edbcba11a0da"
    assert element["source_datasource_name"] == source.name
    assert element["source_datasource_type"] == source.type
    first = element["mappings"][0]
    assert first["mapping_percent"] == 100
    assert first["status"] == "AUTO"
    assert first["source_table"] == source.tables[0].name
    task, detail = await read(client, task_id)
    assert task["source_datasource_id"] == body["source_datasource_id"]
    assert task["target_datasource_id"] == body["target_datasource_id"]
    assert detail["ext_info"] == {"server_id": "7"}
    assert len(detail["mappings"]) == len(source.tables)
    assert [m["source_table"] for m in detail["mappings"]] == [t.name for t in source.tables]
    assert {m["source_schema"] for m in detail["schema_mappings"]} == set(source.schemas)
    assert set(detail["mappings"][0]) == {
        "id",
        "source_table",
        "target_table",
        "status",
        "updated_time",
        "source_columns",
        "target_columns",
        "mapping",
    }
    assert detail["mappings"][:10] == [
        {k: v for k, v in m.items() if k != "mapping_percent"} for m in element["mappings"]
    ]


async def test_init_is_the_same_for_the_same_datasource(client: httpx.AsyncClient) -> None:
    """Two inits from one source datasource map the same tables with the same ids."""
    answers = []
    for _ in range(2):
        body = {"task_id": COMPOSITE, "source_datasource_id": "ds-one", "auto_mapping": True}
        answers.append((await client.post(f"{BASE}/multi-tasks/init", json=body)).json()[0])
    assert answers[0]["mappings"] == answers[1]["mappings"]
    other = {"task_id": COMPOSITE, "source_datasource_id": "ds-two", "auto_mapping": True}
    element = (await client.post(f"{BASE}/multi-tasks/init", json=other)).json()[0]
    assert element["mappings"] != answers[0]["mappings"]


async def test_init_without_task_id_stores_nothing(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """Without task_id init answers an element under a new id and creates no task."""
    body = {"source_datasource_id": "30969b205e8f4392a25fb321112d1753", "auto_mapping": True}
    answer = await client.post(f"{BASE}/multi-tasks/init", json=body)
    assert answer.status_code == 200
    element = answer.json()[0]
    assert HEX_ID.fullmatch(element["task_id"])
    assert element["mappings_total_count"] >= 12
    assert len(element["mappings"]) == 10
    assert emulator.store.lookup(PROJECT, INSTANCE, element["task_id"]) is None
    listing = (await client.get(f"{BASE}/tasks")).json()
    assert listing["total"] == 5


async def test_init_without_auto_mapping_keeps_mappings(client: httpx.AsyncClient) -> None:
    """Init without auto_mapping sets the datasources and ext_info but keeps the mappings."""
    before = json.loads(composite_body()["task_detail"])
    body = {"task_id": COMPOSITE, "source_datasource_id": "new-source", "auto_mapping": False}
    element = (await client.post(f"{BASE}/multi-tasks/init", json=body)).json()[0]
    assert element["mappings_total_count"] == len(before["mappings"]) == 3
    assert [m["mapping_percent"] for m in element["mappings"]] == [100, 100, 100]
    assert element["target_datasource_id"] == ""
    task, detail = await read(client, COMPOSITE)
    assert task["source_datasource_id"] == "new-source"
    assert "target_datasource_id" not in task
    assert detail["ext_info"] is None
    assert detail["mappings"] == before["mappings"]


async def test_init_moves_last_modified_and_version(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Init changes last_modified_date and the listed version as an update does."""
    clock.now = LATER
    body = {"task_id": COMPOSITE, "source_datasource_id": "s"}
    await client.post(f"{BASE}/multi-tasks/init", json=body)
    task, _ = await read(client, COMPOSITE)
    assert task["last_modified_date"] == int(LATER * 1000)
    entry = (await client.get(f"{BASE}/tasks", params={"task_id": COMPOSITE})).json()["entities"]
    assert entry[0]["version"] == "2"
    assert entry[0]["last_modified_time"] == task["last_modified_date"]


@pytest.mark.parametrize("task_id", ["no-such-task", ORDERS])
async def test_init_of_no_composite_task_answers_fdi_3150(
    client: httpx.AsyncClient, task_id: str
) -> None:
    """Init naming an unknown id, or a common task, answers seed 004's 400 FDI.3150 body."""
    body = {"task_id": task_id, "source_datasource_id": "s", "auto_mapping": True}
    answer = await client.post(f"{BASE}/multi-tasks/init", json=body)
    assert (answer.status_code, answer.json()) == (400, FDI_3150)


BAD_INITS: list[tuple[str, dict[str, Any], str]] = [
    ("ext_info a string", {"ext_info": "x"}, "ext_info"),
    ("server_id a number", {"ext_info": {"server_id": 5}}, "ext_info.server_id"),
    ("server_id too long", {"ext_info": {"server_id": "s" * 65}}, "ext_info.server_id"),
    ("source id empty", {"source_datasource_id": ""}, "source_datasource_id"),
    ("target id too long", {"target_datasource_id": "t" * 65}, "target_datasource_id"),
    ("task id too long", {"task_id": "t" * 65}, "task_id"),
    ("auto_mapping a string", {"auto_mapping": "yes"}, "auto_mapping"),
    (
        "auto_mapping without source",
        {"task_id": COMPOSITE, "auto_mapping": True},
        "source_datasource_id",
    ),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_INITS], ids=[i for i, _, _ in BAD_INITS]
)
async def test_init_refuses_bad_fields(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    """Each bad init field answers 400 FDI.3033 naming it, and the task is unchanged."""
    assert_invalid(await client.post(f"{BASE}/multi-tasks/init", json=body), field)
    assert (await client.get(f"{BASE}/tasks/{COMPOSITE}")).json() == composite_body()


async def test_init_accepts_the_seed_example(client: httpx.AsyncClient) -> None:
    """Seed 004's example request (nulls, no mapping) answers one element."""
    body = {
        "ext_info": None,
        "source_datasource_id": "30969b205e8f4392a25fb321112d1753",
        "target_datasource_id": "30969b205e8f4392a25fb321112d1753",
        "task_id": None,
        "auto_mapping": False,
    }
    element = (await client.post(f"{BASE}/multi-tasks/init", json=body)).json()[0]
    assert (element["ext_info"], element["mappings"], element["mappings_total_count"]) == (
        None,
        [],
        0,
    )


async def test_modify_changes_the_task(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Modify answers the id; GET shows the new values, a later date and the next version."""
    clock.now = LATER
    answer = await client.put(f"{BASE}/multi-tasks/{COMPOSITE}", json=modify_body())
    assert (answer.status_code, answer.json()) == (200, {"task_id": COMPOSITE})
    task, detail = await read(client, COMPOSITE)
    assert task["description"] == "changed"
    assert task["task_tag"] == "changed-tag"
    assert task["operation_types"] == ["INSERT"]
    assert task["repulling_snapshot"] is True
    assert task["last_modified_date"] == int(LATER * 1000)
    assert task["task_name"] == composite_body()["task"]["task_name"]
    assert detail == json.loads(composite_body()["task_detail"])
    entry = (await client.get(f"{BASE}/tasks", params={"task_id": COMPOSITE})).json()["entities"]
    assert entry[0]["version"] == "2"


async def test_modify_clears_optional_fields_left_out(client: httpx.AsyncClient) -> None:
    """description and task_tag absent from a modify body are gone from the next GET."""
    body = modify_body(description=None, task_tag=None)
    assert (await client.put(f"{BASE}/multi-tasks/{COMPOSITE}", json=body)).status_code == 200
    task, _ = await read(client, COMPOSITE)
    assert "description" not in task
    assert "task_tag" not in task


@pytest.mark.parametrize("task_id", ["no-such-task", NODES])
async def test_modify_of_no_composite_task_answers_fdi_3083(
    client: httpx.AsyncClient, task_id: str
) -> None:
    """Modify of an unknown id, or a common task, answers the documented 404 FDI.3083 body."""
    answer = await client.put(f"{BASE}/multi-tasks/{task_id}", json=modify_body())
    assert (answer.status_code, answer.json()) == (404, FDI_3083)


async def test_running_composite_task_refuses_modify_and_init(client: httpx.AsyncClient) -> None:
    """A running composite task refuses modify and init with FDI.3023; stopped, it accepts them."""
    assert (await client.post(f"{BASE}/tasks/{COMPOSITE}/run")).status_code == 200
    task, _ = await read(client, COMPOSITE)
    assert task["status"] == "running"
    refused = await client.put(f"{BASE}/multi-tasks/{COMPOSITE}", json=modify_body())
    assert (refused.status_code, refused.json()["error_code"]) == (400, "FDI.3023")
    init = {"task_id": COMPOSITE, "source_datasource_id": "s"}
    refused = await client.post(f"{BASE}/multi-tasks/init", json=init)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "FDI.3023")
    assert (await client.post(f"{BASE}/tasks/{COMPOSITE}/terminate")).status_code == 200
    accepted = await client.put(f"{BASE}/multi-tasks/{COMPOSITE}", json=modify_body())
    assert accepted.status_code == 200


BAD_MODIFIES: list[tuple[str, dict[str, Any], str]] = [
    ("repulling missing", modify_body(repulling_snapshot=None), "repulling_snapshot"),
    ("repulling a string", modify_body(repulling_snapshot="true"), "repulling_snapshot"),
    ("operations missing", modify_body(operation_types=None), "operation_types"),
    ("operations too many", modify_body(operation_types=["INSERT"] * 4), "operation_types"),
    ("tag too long", modify_body(task_tag="t" * 65), "task_tag"),
    ("description empty", modify_body(description=""), "description"),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_MODIFIES], ids=[i for i, _, _ in BAD_MODIFIES]
)
async def test_modify_refuses_bad_fields(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    """Each bad modify field answers 400 FDI.3033 naming it, and the task is unchanged."""
    assert_invalid(await client.put(f"{BASE}/multi-tasks/{COMPOSITE}", json=body), field)
    assert (await client.get(f"{BASE}/tasks/{COMPOSITE}")).json() == composite_body()


async def test_get_answers_the_composite_seed_file(client: httpx.AsyncClient) -> None:
    """GET of the composite sample answers exactly its seed file, task_detail compact."""
    answer = (await client.get(f"{BASE}/tasks/{COMPOSITE}")).json()
    assert answer == composite_body()
    detail = answer["task_detail"]
    assert detail == json.dumps(json.loads(detail), separators=(",", ":"), ensure_ascii=False)


async def test_list_shows_composite_tasks_with_an_ext_type(client: httpx.AsyncClient) -> None:
    """The task list holds the composite task, in creation order, with ext_type MULTI_TABLE."""
    listing = (await client.get(f"{BASE}/tasks")).json()
    ids = [e["task_id"] for e in listing["entities"]]
    assert ids == [ORDERS, NODES, CUSTOMERS, PAYMENTS, COMPOSITE]
    entry = listing["entities"][-1]
    task = composite_body()["task"]
    assert entry["ext_type"] == "MULTI_TABLE"
    assert entry["task_type"] == "realtime"
    assert entry["last_modified_time"] == task["last_modified_date"]
    assert (entry["status"], entry["version"]) == (0, "1")
    assert {e["ext_type"] for e in listing["entities"][:-1]} == {""}


async def test_list_filters_apply_to_composite_tasks(client: httpx.AsyncClient) -> None:
    """task_type=realtime and a name filter find the composite task alone."""
    for params in ({"task_type": "REALTIME"}, {"name": "cdc"}, {"task_tag": "orders-cdc"}):
        listing = (await client.get(f"{BASE}/tasks", params=params)).json()
        assert [e["task_id"] for e in listing["entities"]] == [COMPOSITE]


async def test_created_task_is_listed(client: httpx.AsyncClient) -> None:
    """A created composite task shows in the list with version 1."""
    task_id = await create(client)
    listing = (await client.get(f"{BASE}/tasks", params={"task_id": task_id})).json()
    assert listing["entities"][0]["ext_type"] == "MULTI_TABLE"
    assert listing["entities"][0]["version"] == "1"


async def test_common_update_refuses_a_composite_task(client: httpx.AsyncClient) -> None:
    """PUT .../tasks/{id} on a composite task answers 400 naming task_id and changes nothing."""
    body = {
        "task": {
            "task_name": "renamed",
            "task_type": "REALTIME",
            "source_datasource_id": "a",
            "target_datasource_id": "b",
        },
        "task_detail": "{}",
    }
    assert_invalid(await client.put(f"{BASE}/tasks/{COMPOSITE}", json=body), "task_id")
    assert (await client.get(f"{BASE}/tasks/{COMPOSITE}")).json() == composite_body()


async def test_run_and_terminate_work_on_composite_tasks(client: httpx.AsyncClient) -> None:
    """Starting a composite task shows status 1 in the list; stopping it shows 0 again."""
    assert (await client.post(f"{BASE}/tasks/{COMPOSITE}/run")).json() == {}
    running = (await client.get(f"{BASE}/tasks", params={"status": 1})).json()
    assert [e["task_id"] for e in running["entities"]] == [COMPOSITE]
    await client.post(f"{BASE}/tasks/{COMPOSITE}/terminate")
    task, _ = await read(client, COMPOSITE)
    assert task["status"] == "stop"
    assert task["last_modified_date"] == composite_body()["task"]["last_modified_date"]


async def test_fighting_undoes_a_modify_at_the_next_list(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """With fighting on, a modify holds until the instance is listed, then is undone."""
    emulator.store.fighting = True
    await client.put(f"{BASE}/multi-tasks/{COMPOSITE}", json=modify_body())
    task, _ = await read(client, COMPOSITE)
    assert task["operation_types"] == ["INSERT"]
    await client.get(f"{BASE}/tasks")
    task, detail = await read(client, COMPOSITE)
    original = composite_body()["task"]
    assert {k: v for k, v in task.items() if k != "last_modified_date"} == {
        k: v for k, v in original.items() if k != "last_modified_date"
    }
    assert detail == json.loads(composite_body()["task_detail"])


async def test_fighting_undoes_an_init_at_the_next_list(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """With fighting on, an init's datasources and mappings are undone at the next list."""
    emulator.store.fighting = True
    body = {"task_id": COMPOSITE, "source_datasource_id": "other", "auto_mapping": True}
    await client.post(f"{BASE}/multi-tasks/init", json=body)
    _, detail = await read(client, COMPOSITE)
    assert len(detail["mappings"]) >= 12
    await client.get(f"{BASE}/tasks")
    task, detail = await read(client, COMPOSITE)
    assert task["source_datasource_id"] == composite_body()["task"]["source_datasource_id"]
    assert detail == json.loads(composite_body()["task_detail"])
