"""The FDI task routes: read, update, list, start and stop."""

from __future__ import annotations

import json

import httpx
import pytest

from fdi_drift.emulator.app import Emulator
from fdi_drift.emulator.records import utc_text
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
    sample_body,
    update_body,
)

ALL_SAMPLES = (ORDERS, NODES, CUSTOMERS, PAYMENTS)
# The sample instance also holds one composite task, which the task list shows too.
LISTED = [*ALL_SAMPLES, COMPOSITE]


def assert_error_shape(answer: httpx.Response) -> dict[str, str]:
    """Check an FDI error body against the documented lengths and return it."""
    body = answer.json()
    assert set(body) == {"error_code", "error_msg"}
    assert 8 <= len(body["error_code"]) <= 36
    assert 2 <= len(body["error_msg"]) <= 512
    return dict(body)


@pytest.mark.parametrize("task_id", ALL_SAMPLES)
async def test_get_answers_the_seed_file(client: httpx.AsyncClient, task_id: str) -> None:
    """GET answers exactly the GET body the seed file holds."""
    answer = await client.get(f"{BASE}/tasks/{task_id}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == sample_body(task_id)


@pytest.mark.parametrize("task_id", ALL_SAMPLES)
async def test_samples_hold_compact_task_detail(client: httpx.AsyncClient, task_id: str) -> None:
    """Every sample's task_detail is compact JSON with non-ASCII characters unescaped."""
    detail = (await client.get(f"{BASE}/tasks/{task_id}")).json()["task_detail"]
    assert detail == json.dumps(json.loads(detail), separators=(",", ":"), ensure_ascii=False)


async def test_api_sample_keeps_body_raw_as_a_json_string(client: httpx.AsyncClient) -> None:
    """The API-to-Oracle sample keeps bodyRaw as JSON text inside the task_detail text."""
    detail = json.loads((await client.get(f"{BASE}/tasks/{NODES}")).json()["task_detail"])
    body_raw = detail["sourceSelectedDatasource"]["bodyRaw"]
    assert isinstance(body_raw, str)
    assert json.loads(body_raw) == {"pageNum": "1", "pageSize": "10"}


async def test_unknown_task_answers_404_with_an_fdi_error(client: httpx.AsyncClient) -> None:
    """Reading a task the instance lacks answers 404 with a documented error body."""
    answer = await client.get(f"{BASE}/tasks/0123456789abcdef0123456789abcdef")
    assert answer.status_code == 404
    assert assert_error_shape(answer)["error_code"].startswith("FDI.")


async def test_put_answers_the_task_and_changes_what_get_returns(
    client: httpx.AsyncClient,
) -> None:
    """A valid update answers 200 with the task as GET then reads it: new values, detail
    verbatim."""
    detail = '{"b": 1,  "a": "\\u00e9t\\u00e9", "bodyRaw": "{\\"x\\": 1}"}'
    body = update_body(NODES, task_name="nodes-renamed", task_type="REALTIME")
    body["task_detail"] = detail
    answer = await client.put(f"{BASE}/tasks/{NODES}", json=body)
    assert answer.status_code == 200
    task = (await client.get(f"{BASE}/tasks/{NODES}")).json()
    assert answer.json() == task
    assert task["task_detail"] == detail
    assert task["task"]["task_name"] == "nodes-renamed"
    assert task["task"]["task_type"] == "realtime"


async def test_put_keeps_server_fields(client: httpx.AsyncClient) -> None:
    """An update leaves server-side fields such as created_date and names alone."""
    before = sample_body(ORDERS)["task"]
    await client.put(f"{BASE}/tasks/{ORDERS}", json=update_body(ORDERS))
    after = (await client.get(f"{BASE}/tasks/{ORDERS}")).json()["task"]
    for key in ("created_date", "source_datasource_name", "project_id", "task_mode", "status"):
        assert after[key] == before[key]


async def test_put_moves_last_modified_date_strictly_forward(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Each update sets last_modified_date to the clock, and past the previous value."""
    url = f"{BASE}/tasks/{ORDERS}"
    await client.put(url, json=update_body(ORDERS))
    first = (await client.get(url)).json()["task"]["last_modified_date"]
    assert first == int(START * 1000)
    await client.put(url, json=update_body(ORDERS))
    second = (await client.get(url)).json()["task"]["last_modified_date"]
    assert second == first + 1
    clock.advance(60)
    await client.put(url, json=update_body(ORDERS))
    third = (await client.get(url)).json()["task"]["last_modified_date"]
    assert third == int((START + 60) * 1000)


async def test_put_clears_optional_fields_left_out(client: httpx.AsyncClient) -> None:
    """description and task_tag absent from an update are gone from the next GET."""
    assert {"description", "task_tag"} <= set(sample_body(NODES)["task"])
    body = update_body(NODES, description=None, task_tag=None)
    assert (await client.put(f"{BASE}/tasks/{NODES}", json=body)).status_code == 200
    task = (await client.get(f"{BASE}/tasks/{NODES}")).json()["task"]
    assert "description" not in task
    assert "task_tag" not in task


async def test_put_sets_optional_fields_given(client: httpx.AsyncClient) -> None:
    """description and task_tag sent in an update appear in the next GET."""
    body = update_body(ORDERS, description="orders nightly", task_tag="orders_sync")
    await client.put(f"{BASE}/tasks/{ORDERS}", json=body)
    task = (await client.get(f"{BASE}/tasks/{ORDERS}")).json()["task"]
    assert task["description"] == "orders nightly"
    assert task["task_tag"] == "orders_sync"


async def test_put_on_unknown_task_answers_404(client: httpx.AsyncClient) -> None:
    """Updating a task the instance lacks answers 404 with an FDI error."""
    answer = await client.put(f"{BASE}/tasks/missing-task", json=update_body(ORDERS))
    assert answer.status_code == 404
    assert_error_shape(answer)


async def test_running_task_refuses_updates(client: httpx.AsyncClient) -> None:
    """A running task refuses an update with 400; once stopped it accepts it."""
    started = await client.post(f"{BASE}/tasks/{ORDERS}/run")
    assert (started.status_code, started.json()) == (200, {})
    assert (await client.get(f"{BASE}/tasks/{ORDERS}")).json()["task"]["status"] == "running"
    refused = await client.put(f"{BASE}/tasks/{ORDERS}", json=update_body(ORDERS))
    assert refused.status_code == 400
    assert assert_error_shape(refused)["error_code"] == "FDI.3023"
    stopped = await client.post(f"{BASE}/tasks/{ORDERS}/terminate")
    assert (stopped.status_code, stopped.json()) == (200, {"message": "success"})
    assert (await client.put(f"{BASE}/tasks/{ORDERS}", json=update_body(ORDERS))).status_code == 200


async def test_start_and_stop_do_not_touch_last_modified(client: httpx.AsyncClient) -> None:
    """Starting and stopping change the status only, not last_modified_date."""
    await client.post(f"{BASE}/tasks/{ORDERS}/run")
    await client.post(f"{BASE}/tasks/{ORDERS}/terminate")
    task = (await client.get(f"{BASE}/tasks/{ORDERS}")).json()["task"]
    assert task["last_modified_date"] == sample_body(ORDERS)["task"]["last_modified_date"]
    assert task["status"] == "stop"


@pytest.mark.parametrize("action", ["run", "terminate"])
async def test_start_or_stop_unknown_task_answers_404(
    client: httpx.AsyncClient, action: str
) -> None:
    """Starting or stopping a task the instance lacks answers 404."""
    answer = await client.post(f"{BASE}/tasks/missing-task/{action}")
    assert answer.status_code == 404
    assert_error_shape(answer)


async def test_rename_to_a_name_in_use_is_refused(client: httpx.AsyncClient) -> None:
    """Renaming a task to another task's name answers 400 naming task.task_name."""
    taken = sample_body(ORDERS)["task"]["task_name"]
    answer = await client.put(f"{BASE}/tasks/{NODES}", json=update_body(NODES, task_name=taken))
    assert answer.status_code == 400
    assert "task.task_name" in assert_error_shape(answer)["error_msg"]
    unchanged = (await client.get(f"{BASE}/tasks/{NODES}")).json()
    assert unchanged == sample_body(NODES)


async def test_list_answers_brief_entries(client: httpx.AsyncClient) -> None:
    """The list answers total, size and BriefTaskRespBean entries in creation order."""
    answer = await client.get(f"{BASE}/tasks")
    assert answer.status_code == 200
    listing = answer.json()
    assert (listing["total"], listing["size"]) == (5, 5)
    assert [e["task_id"] for e in listing["entities"]] == LISTED
    first = listing["entities"][0]
    task = sample_body(ORDERS)["task"]
    assert set(first) == {
        "task_id",
        "task_name",
        "task_type",
        "status",
        "created_date",
        "version",
        "last_modified_time",
        "execute_status",
        "source_app_id",
        "target_app_id",
        "source_instance_id",
        "target_instance_id",
        "ext_type",
        "enterprise_project_id",
        "task_tag",
    }
    assert first["status"] == 0
    assert first["ext_type"] == ""
    assert first["last_modified_time"] == task["last_modified_date"]
    assert first["created_date"] == utc_text(task["created_date"])
    assert first["task_type"] == "timing"


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1666772375897, "2022-10-26T08:19:35.897Z"),
        (1700000000001, "2023-11-14T22:13:20.001Z"),
    ],
)
def test_list_dates_are_iso_text_to_the_millisecond(epoch_ms: int, text: str) -> None:
    """A list entry's created_date is the same instant as the read's epoch ms, as UTC text."""
    assert utc_text(epoch_ms) == text


async def test_list_pages_by_offset_and_limit(client: httpx.AsyncClient) -> None:
    """offset is an item offset and limit a page size; total counts every match."""
    page = (await client.get(f"{BASE}/tasks", params={"offset": 1, "limit": 2})).json()
    assert (page["total"], page["size"]) == (5, 2)
    assert [e["task_id"] for e in page["entities"]] == [NODES, CUSTOMERS]
    past = (await client.get(f"{BASE}/tasks", params={"offset": 10})).json()
    assert (past["total"], past["size"], past["entities"]) == (5, 0, [])


async def test_list_counts_a_negative_offset_as_zero(client: httpx.AsyncClient) -> None:
    """A negative offset answers the first page."""
    page = (await client.get(f"{BASE}/tasks", params={"offset": -5, "limit": 1})).json()
    assert [e["task_id"] for e in page["entities"]] == [ORDERS]


async def test_list_default_limit_is_ten(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """Without limit the list answers at most ten entries."""
    for n in range(8):
        body = sample_body(ORDERS)
        body["task"]["task_id"] = f"extra-{n}"
        body["task"]["task_name"] = f"extra-task-{n}"
        emulator.store.add_task(PROJECT, INSTANCE, body)
    page = (await client.get(f"{BASE}/tasks")).json()
    assert (page["total"], page["size"]) == (13, 10)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 1000}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "1.5"}, "offset"),
        ({"status": "running"}, "status"),
        ({"status": 2}, "status"),
    ],
)
async def test_list_refuses_bad_paging_and_filters(
    client: httpx.AsyncClient, params: dict[str, str | int], field: str
) -> None:
    """A bad limit, offset or status answers 400 naming the parameter."""
    answer = await client.get(f"{BASE}/tasks", params=params)
    assert answer.status_code == 400
    assert f"[{field}]" in assert_error_shape(answer)["error_msg"]


async def test_list_accepts_the_largest_limit(client: httpx.AsyncClient) -> None:
    """limit 999 is the largest page the list accepts."""
    assert (await client.get(f"{BASE}/tasks", params={"limit": 999})).json()["size"] == 5


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"task_id": NODES}, [NODES]),
        ({"name": "MYSQL"}, [ORDERS, CUSTOMERS, COMPOSITE]),
        ({"name": "api-to"}, [NODES, PAYMENTS]),
        ({"task_type": "TIMING"}, [ORDERS, NODES, CUSTOMERS, PAYMENTS]),
        ({"task_type": "realtime"}, [COMPOSITE]),
        ({"task_tag": "payments"}, [PAYMENTS]),
        ({"execute_status": "SUCCESS"}, [ORDERS, NODES, CUSTOMERS, PAYMENTS]),
        ({"execute_status": "ERROR"}, []),
        ({"status": 0}, LISTED),
        ({"source_app_id": "7f245167-ac84-4b2e-bbea-f0988a4bf6f4"}, [ORDERS, CUSTOMERS, COMPOSITE]),
        ({"name": ""}, LISTED),
    ],
)
async def test_list_filters(
    client: httpx.AsyncClient, params: dict[str, str | int], expected: list[str]
) -> None:
    """Filters match exactly, name as a case-insensitive substring, empty values not at all."""
    listing = (await client.get(f"{BASE}/tasks", params=params)).json()
    assert [e["task_id"] for e in listing["entities"]] == expected
    assert listing["total"] == len(expected)


async def test_list_shows_status_and_changes(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """After a run and an update the list shows status 1, the new time and a new version."""
    await client.put(f"{BASE}/tasks/{NODES}", json=update_body(NODES))
    await client.post(f"{BASE}/tasks/{NODES}/run")
    listing = (await client.get(f"{BASE}/tasks", params={"status": 1})).json()
    assert [e["task_id"] for e in listing["entities"]] == [NODES]
    entry = listing["entities"][0]
    assert entry["status"] == 1
    assert entry["last_modified_time"] == int(clock() * 1000)
    assert entry["version"] == "2"


async def test_list_of_an_empty_instance_is_empty(client: httpx.AsyncClient) -> None:
    """An instance without tasks lists nothing rather than failing."""
    listing = (await client.get("/v2/other-project/fdi/instances/other/tasks")).json()
    assert listing == {"total": 0, "size": 0, "entities": []}
