"""The FDI task calls: read, update, and a listing that is complete or an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from fdi_drift.cloud.client import RetryPolicy
from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.cloud.payloads import UpdateTaskBody
from fdi_drift.errors import (
    InvalidIdentifierError,
    MalformedResponseError,
    NotFoundError,
    ServerError,
)
from tests.cloud.fakes import FakeTime, Script, json_response, make_api

PROJECT = "c53626012ba84727b938ca8bf03108ef"
INSTANCE = "fae7ff6c-8e07-4cf8-9e67-589cab2f017c"
TASK = "9496207a5d6b44b486d79005b5815bd4"
TASKS_PATH = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks"
DETAIL = '{"needAPI":false,"sourceSelectedDatasource":{"bodyRaw":"{\\"pageNum\\":\\"1\\"}"}}'


def fdi(handler: Callable[[httpx.Request], Any]) -> FdiClient:
    """An FdiClient over `handler`, failing fast instead of retrying."""
    return FdiClient(make_api(handler, FakeTime(), retry=RetryPolicy(attempts=1)))


def brief(task_id: str) -> dict[str, object]:
    """A list entry as the service gives it."""
    return {
        "task_id": task_id,
        "task_name": f"name-{task_id}",
        "status": 0,
        "last_modified_time": 1,
    }


class TaskList:
    """A paged task list whose contents a test may change between requests.

    `change(server, request_number)` runs after each request is recorded and before it is
    answered; `total` and `entities` may be overridden per answer by `tamper`.
    """

    def __init__(
        self,
        ids: list[str],
        change: Callable[[TaskList, int], None] | None = None,
        tamper: Callable[[dict[str, Any], int], None] | None = None,
    ) -> None:
        self.ids = list(ids)
        self.change = change
        self.tamper = tamper
        self.seen: list[tuple[int, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == TASKS_PATH
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        self.seen.append((offset, limit))
        if self.change is not None:
            self.change(self, len(self.seen))
        entities = [brief(i) for i in self.ids[offset : offset + limit]]
        body: dict[str, Any] = {"total": len(self.ids), "size": len(entities), "entities": entities}
        if self.tamper is not None:
            self.tamper(body, len(self.seen))
        return json_response(200, body)


def ids(n: int) -> list[str]:
    """`n` distinct task ids."""
    return [f"task{i:03d}" for i in range(n)]


async def test_get_task_returns_task_and_the_detail_string_untouched() -> None:
    """A read answers the service's object, task_detail still the exact string."""
    answer = {"task": {"task_id": TASK, "task_name": "fdi_task_pzy4m5"}, "task_detail": DETAIL}
    script = Script(json_response(200, answer))
    got = await fdi(script).get_task(PROJECT, INSTANCE, TASK)
    assert got == answer and got["task_detail"] == DETAIL
    assert script.seen[0].method == "GET"
    assert script.seen[0].url.path == f"{TASKS_PATH}/{TASK}"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([], "the answer is an array"),
        ({"task_detail": DETAIL}, "`task` is null/absent"),
        ({"task": "x", "task_detail": DETAIL}, "`task` is a string"),
        ({"task": {}}, "`task_detail` is null/absent"),
        ({"task": {}, "task_detail": {"already": "decoded"}}, "`task_detail` is an object"),
    ],
)
async def test_get_task_checks_the_shape(answer: object, problem: str) -> None:
    """An answer without an object `task` and a string `task_detail` is MalformedResponseError."""
    with pytest.raises(MalformedResponseError, match=problem) as caught:
        await fdi(Script(json_response(200, answer))).get_task(PROJECT, INSTANCE, TASK)
    assert caught.value.request == f"GET {TASKS_PATH}/{TASK}"


async def test_get_task_of_a_deleted_task_is_not_found() -> None:
    """A 404 from the service reaches the caller as NotFoundError."""
    body = {"error_code": "FDI.3083", "error_msg": "not found"}
    with pytest.raises(NotFoundError):
        await fdi(Script(json_response(404, body))).get_task(PROJECT, INSTANCE, TASK)


async def test_update_task_puts_the_body_exactly_and_accepts_null() -> None:
    """The PUT carries `task` and the task_detail string byte for byte; `null` is success."""
    body: UpdateTaskBody = {
        "task": {
            "task_name": "fdi_task_v2mysql-tomysql",
            "task_type": "TIMING",
            "source_datasource_id": "30969b205e8f4392a25fb321112d1753",
            "target_datasource_id": "30969b205e8f4392a25fb321112d1753",
            "task_tag": "fdi_autotest",
        },
        "task_detail": DETAIL,
    }
    script = Script(httpx.Response(200, content=b"null"))
    assert await fdi(script).update_task(PROJECT, INSTANCE, TASK, body) is None
    sent = script.seen[0]
    assert (sent.method, sent.url.path) == ("PUT", f"{TASKS_PATH}/{TASK}")
    assert orjson.loads(sent.content) == body
    assert orjson.loads(sent.content)["task_detail"] == DETAIL


@pytest.mark.parametrize(
    ("method", "field"),
    [
        *(
            (m, f)
            for m in ("get_task", "update_task")
            for f in ("project_id", "instance_id", "task_id")
        ),
        ("list_tasks", "project_id"),
        ("list_tasks", "instance_id"),
    ],
)
async def test_invalid_ids_never_reach_the_transport(method: str, field: str) -> None:
    """A path-changing id raises InvalidIdentifierError and no request is sent."""
    script = Script(json_response(200, {}))
    client = fdi(script)
    args = {"project_id": PROJECT, "instance_id": INSTANCE, "task_id": TASK}
    args[field] = "../../other"
    with pytest.raises(InvalidIdentifierError, match=field):
        if method == "get_task":
            await client.get_task(**args)
        elif method == "update_task":
            await client.update_task(**args, body={"task": {}, "task_detail": "{}"})  # type: ignore[typeddict-item]
        else:
            await client.list_tasks(args["project_id"], args["instance_id"])
    assert script.seen == []


async def test_list_reads_every_page_in_order() -> None:
    """Five tasks in pages of two take three requests at offsets 0, 2 and 4."""
    server = TaskList(ids(5))
    got = await fdi(server).list_tasks(PROJECT, INSTANCE, page_size=2)
    assert [t["task_id"] for t in got] == ids(5)
    assert server.seen == [(0, 2), (2, 2), (4, 2)]


async def test_list_of_an_exact_multiple_stops_at_total() -> None:
    """Four tasks in pages of two take two requests, not a third empty one."""
    server = TaskList(ids(4))
    assert len(await fdi(server).list_tasks(PROJECT, INSTANCE, page_size=2)) == 4
    assert server.seen == [(0, 2), (2, 2)]


async def test_empty_instance_is_one_request() -> None:
    """A total of 0 with no entity list at all is an empty listing."""
    script = Script(json_response(200, {"total": 0, "size": 0}))
    assert await fdi(script).list_tasks(PROJECT, INSTANCE) == []
    assert len(script.seen) == 1


@pytest.mark.parametrize(("asked", "sent"), [(5000, 999), (0, 1), (-3, 1), (500, 500)])
async def test_page_size_is_held_within_the_service_limits(asked: int, sent: int) -> None:
    """`limit` is never above the documented 999 nor below 1."""
    server = TaskList(ids(1))
    await fdi(server).list_tasks(PROJECT, INSTANCE, page_size=asked)
    assert server.seen == [(0, sent)]


async def test_failed_page_raises_instead_of_answering_short() -> None:
    """An error on the second page is the caller's error, not a list of the first page."""
    answers = iter([TaskList(ids(4)), None])

    def handler(request: httpx.Request) -> httpx.Response:
        server = next(answers)
        if server is None:
            return json_response(500, {"error_code": "FDI.0500", "error_msg": "boom"})
        return server(request)

    with pytest.raises(ServerError):
        await fdi(handler).list_tasks(PROJECT, INSTANCE, page_size=2)


async def test_task_added_during_listing_restarts_it() -> None:
    """A total that grows between pages makes the listing start over and see the new task."""

    def add_once(server: TaskList, request: int) -> None:
        if request == 2:
            server.ids.append("task-new")

    server = TaskList(ids(5), change=add_once)
    got = await fdi(server).list_tasks(PROJECT, INSTANCE, page_size=2)
    assert [t["task_id"] for t in got] == [*ids(5), "task-new"]
    assert server.seen == [(0, 2), (2, 2), (0, 2), (2, 2), (4, 2)]


async def test_total_that_keeps_changing_is_malformed_after_one_restart() -> None:
    """If the second listing is inconsistent too, the error says what happened both times."""

    def grow(server: TaskList, request: int) -> None:
        server.ids.append(f"task-new-{request}")

    server = TaskList(ids(5), change=grow)
    with pytest.raises(MalformedResponseError, match="total changed") as caught:
        await fdi(server).list_tasks(PROJECT, INSTANCE, page_size=2)
    assert "inconsistent twice" in str(caught.value)
    assert caught.value.request == f"GET {TASKS_PATH}"
    assert server.seen.count((0, 2)) == 2


async def test_short_page_once_is_healed_by_the_restart() -> None:
    """A page that comes back short before `total` is reached is read again from the start."""

    def shorten(body: dict[str, Any], request: int) -> None:
        if request == 2:
            body["entities"] = body["entities"][:1]

    server = TaskList(ids(5), tamper=shorten)
    got = await fdi(server).list_tasks(PROJECT, INSTANCE, page_size=2)
    assert [t["task_id"] for t in got] == ids(5)
    assert len(server.seen) == 5


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (
            lambda body, n: body.update(entities=body["entities"][:1]) if n % 2 == 0 else None,
            "held 1",
        ),
        (lambda body, n: body.update(entities=[]) if n % 2 == 0 else None, "held 0"),
        (lambda body, n: body.update(total=3), "held 2 items where 1 were due"),
    ],
    ids=["short page", "empty page", "more than total"],
)
async def test_pages_that_do_not_add_up_are_malformed_after_one_restart(
    tamper: Callable[[dict[str, Any], int], None], problem: str
) -> None:
    """Short, empty or surplus pages on both listings end in MalformedResponseError."""
    server = TaskList(ids(4), tamper=tamper)
    with pytest.raises(MalformedResponseError, match=problem):
        await fdi(server).list_tasks(PROJECT, INSTANCE, page_size=2)
    assert server.seen.count((0, 2)) == 2


async def test_duplicate_task_ids_across_pages_are_inconsistent() -> None:
    """A task seen on two pages (the list shifted under us) is never returned twice."""

    def shift(server: TaskList, request: int) -> None:
        if request % 2 == 0:  # one task deleted and one created in front: same total
            server.ids = ["task-front", *server.ids[:-1]]

    server = TaskList(ids(4), change=shift)
    with pytest.raises(MalformedResponseError, match="listed twice"):
        await fdi(server).list_tasks(PROJECT, INSTANCE, page_size=2)


@pytest.mark.parametrize(
    ("page", "problem"),
    [
        ([], "is an array"),
        ({"entities": []}, "`total` that is not a count"),
        ({"total": -1, "entities": []}, "`total` that is not a count"),
        ({"total": True, "entities": []}, "`total` that is not a count"),
        ({"total": 1, "entities": {}}, "`entities` an object"),
        ({"total": 1, "entities": ["task000"]}, "entry 0 is not an object"),
        ({"total": 1, "entities": [{"task_id": 7}]}, "string task_id"),
        ({"total": 1, "entities": [{"task_name": "x"}]}, "string task_id"),
        ({"total": 9, "entities": [brief(i) for i in ids(3)]}, "more than the limit 2"),
    ],
)
async def test_pages_of_the_wrong_shape_are_malformed_at_once(page: object, problem: str) -> None:
    """A page that is not the documented shape raises without another request."""
    script = Script(json_response(200, page))
    with pytest.raises(MalformedResponseError, match=problem):
        await fdi(script).list_tasks(PROJECT, INSTANCE, page_size=2)
    assert len(script.seen) == 1
