"""Seed 000's field rules for updates, and the list query rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fdi_drift.emulator.validation import FieldError, TaskQuery, parse_query
from tests.emulator.conftest import BASE, NODES, sample_body, update_body

URL = f"{BASE}/tasks/{NODES}"


def with_detail(detail: object) -> dict[str, Any]:
    """A valid body whose task_detail is replaced (None removes it)."""
    body = update_body()
    if detail is None:
        del body["task_detail"]
    else:
        body["task_detail"] = detail
    return body


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("name missing", update_body(task_name=None), "task.task_name"),
    ("name too short", update_body(task_name="ab"), "task.task_name"),
    ("name too long", update_body(task_name="a" * 101), "task.task_name"),
    ("name starts with a dash", update_body(task_name="-orders"), "task.task_name"),
    ("name starts with a dot", update_body(task_name=".orders"), "task.task_name"),
    ("name with a space", update_body(task_name="my task"), "task.task_name"),
    ("name not a string", update_body(task_name=123), "task.task_name"),
    ("type missing", update_body(task_type=None), "task.task_type"),
    ("type lower case", update_body(task_type="timing"), "task.task_type"),
    ("type unknown", update_body(task_type="BATCH"), "task.task_type"),
    ("type too long", update_body(task_type="REALTIMEXXX"), "task.task_type"),
    ("source missing", update_body(source_datasource_id=None), "task.source_datasource_id"),
    ("source empty", update_body(source_datasource_id=""), "task.source_datasource_id"),
    ("source too long", update_body(source_datasource_id="s" * 65), "task.source_datasource_id"),
    ("target missing", update_body(target_datasource_id=None), "task.target_datasource_id"),
    ("target too long", update_body(target_datasource_id="t" * 65), "task.target_datasource_id"),
    ("target a number", update_body(target_datasource_id=7), "task.target_datasource_id"),
    ("description empty", update_body(description=""), "task.description"),
    ("description too long", update_body(description="d" * 1025), "task.description"),
    ("description a list", update_body(description=["x"]), "task.description"),
    ("tag too short", update_body(task_tag="abc"), "task.task_tag"),
    ("tag too long", update_body(task_tag="t" * 65), "task.task_tag"),
    ("tag with a dot", update_body(task_tag="fdi.tag"), "task.task_tag"),
    ("tag with a space", update_body(task_tag="fdi tag"), "task.task_tag"),
    ("detail missing", with_detail(None), "task_detail"),
    ("detail empty", with_detail(""), "task_detail"),
    ("detail not JSON", with_detail("{not json"), "task_detail"),
    ("detail a JSON list", with_detail("[1, 2]"), "task_detail"),
    ("detail an object, not a string", with_detail({"a": 1}), "task_detail"),
    ("task missing", {"task_detail": "{}"}, "task"),
    ("task a string", {"task": "x", "task_detail": "{}"}, "task"),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_BODIES], ids=[i for i, _, _ in BAD_BODIES]
)
async def test_bad_update_answers_400_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    """Each broken rule answers 400 FDI.3033 naming the field, and changes nothing."""
    answer = await client.put(URL, json=body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["error_code"] == "FDI.3033"
    assert f"[{field}]" in error["error_msg"]
    assert 2 <= len(error["error_msg"]) <= 512
    assert (await client.get(URL)).json() == sample_body(NODES)


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b'"text"', b"null"])
async def test_body_that_is_not_an_object_answers_400(
    client: httpx.AsyncClient, content: bytes
) -> None:
    """A body that is not a JSON object answers 400 naming `body`."""
    answer = await client.put(URL, content=content)
    assert answer.status_code == 400
    assert "[body]" in answer.json()["error_msg"]


GOOD_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("shortest name", update_body(task_name="abc")),
    ("longest name", update_body(task_name="A" + "b" * 99)),
    ("name with dots and dashes", update_body(task_name="9.a_b-c")),
    ("shortest tag", update_body(task_tag="ab_-")),
    ("longest tag", update_body(task_tag="T" * 64)),
    ("longest description", update_body(description="d" * 1024)),
    ("longest ids", update_body(source_datasource_id="s" * 64, target_datasource_id="t" * 64)),
    ("null description and tag", update_body(description=None, task_tag=None)),
    ("unknown keys in task", update_body(task_mode="NORMAL", status="running")),
    ("realtime", update_body(task_type="REALTIME")),
    ("detail an empty object", with_detail("{}")),
]


@pytest.mark.parametrize("body", [b for _, b in GOOD_BODIES], ids=[i for i, _ in GOOD_BODIES])
async def test_edge_values_are_accepted(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """Values at the edges of each rule, and unknown keys, are accepted."""
    answer = await client.put(URL, json=body)
    assert answer.status_code == 200
    assert answer.json()["task_detail"] == body["task_detail"]


async def test_null_optional_fields_count_as_absent(client: httpx.AsyncClient) -> None:
    """An optional field sent as null is cleared like an absent one."""
    body = update_body()
    body["task"]["description"] = None
    assert (await client.put(URL, json=body)).status_code == 200
    assert "description" not in (await client.get(URL)).json()["task"]


async def test_unknown_keys_are_not_stored(client: httpx.AsyncClient) -> None:
    """Keys the page does not list are ignored rather than stored."""
    await client.put(URL, json=update_body(status="running", colour="blue"))
    task = (await client.get(URL)).json()["task"]
    assert task["status"] == "stop"
    assert "colour" not in task


def test_query_defaults() -> None:
    """An empty query pages from 0 with limit 10 and no filters."""
    assert parse_query({}) == TaskQuery(offset=0, limit=10)


def test_query_treats_empty_values_as_absent() -> None:
    """Parameters sent empty count as absent."""
    assert parse_query({"limit": "", "name": "", "status": ""}) == TaskQuery()


@pytest.mark.parametrize("text", ["1e3", " 5", "+5", "5_0", "9" * 19])
def test_query_integers_are_plain_digits(text: str) -> None:
    """Only plain decimal integers are accepted for limit."""
    with pytest.raises(FieldError) as caught:
        parse_query({"limit": text})
    assert caught.value.field == "limit"
