"""The conformance check itself: what it lets through and what it catches, without a process."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkroma.v2 import RomaClient

from tests.conformance.sdk_models import assert_carried, compare

ENTRY: dict[str, Any] = {
    "task_id": "9496207a5d6b44b486d79005b5815bd4",
    "task_name": "orders",
    "status": 0,
    "created_date": "2022-10-26T08:19:35.897Z",
    "last_modified_time": 1666772375897,
}


class Answered:
    """The parts of an HTTP answer the SDK's deserializer reads."""

    def __init__(self, document: object) -> None:
        self.text = json.dumps(document)
        self.content = self.text.encode()
        self.headers: dict[str, str] = {}


def deserialized(document: object, response_type: str) -> Any:
    """What the SDK makes of `document` as `response_type`, raw content attached as it does."""
    client = (
        RomaClient.new_builder()
        .with_credentials(BasicCredentials("AK", "SK", "project"))
        .with_endpoints(["http://127.0.0.1:9"])
        .build()
    )
    response = client.deserialize(Answered(document), response_type, None)
    response.raw_content = json.dumps(document).encode()
    return response


def listing(**entry: object) -> dict[str, Any]:
    """A one-entry ListTasks answer, the entry's fields replaced."""
    return {"total": 1, "size": 1, "entities": [{**ENTRY, **entry}]}


def test_a_faithful_answer_passes() -> None:
    """Every key declared, every value of the model's type (created_date parsed to a date)."""
    raw = assert_carried(deserialized(listing(), "ListTasksResponse"), {})
    assert raw["entities"][0]["created_date"] == ENTRY["created_date"]


def test_an_integer_created_date_breaks_the_sdk() -> None:
    """The emulator's old list answer: the SDK's deserializer fails on it outright."""
    with pytest.raises(AttributeError):
        deserialized(listing(created_date=1666772375897), "ListTasksResponse")


def test_epoch_milliseconds_as_text_are_no_date() -> None:
    """Text the SDK cannot parse as a date comes through as text, which the check catches."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        response = deserialized(listing(created_date="1666772375897"), "ListTasksResponse")
    found = compare(json.loads(response.raw_content), response)
    assert found.problems == ['entities[].created_date: "1666772375897" is not carried as a date']


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("task_name", 7, "entities[].task_name: 7 is not a JSON str"),
        ("status", "0", 'entities[].status: "0" is not a JSON int'),
        ("status", True, "entities[].status: true is not a JSON int"),
    ],
)
def test_a_value_the_sdk_converts_silently_is_caught(
    field: str, value: object, problem: str
) -> None:
    """A number where the model says str (or text or a boolean where it says int) is caught
    although the SDK converts it without a word."""
    response = deserialized(listing(**{field: value}), "ListTasksResponse")
    assert compare(json.loads(response.raw_content), response).problems == [problem]


def test_extras_must_be_exactly_the_known_ones() -> None:
    """An undeclared key fails unless listed; a listed key that is absent fails too."""
    response = deserialized(listing(surprise="!"), "ListTasksResponse")
    assert compare(json.loads(response.raw_content), response).extra == {"entities[].surprise"}
    assert_carried(response, {"entities[].surprise": "a reason"})
    with pytest.raises(AssertionError, match="unknown extra keys"):
        assert_carried(response, {})
    with pytest.raises(AssertionError, match="listed but absent"):
        assert_carried(deserialized(listing(), "ListTasksResponse"), {"entities[].surprise": "-"})


def test_a_top_level_array_fills_the_body() -> None:
    """InstallMultiTasks answers an array, carried in the response's body; extras get `[]`."""
    element = {"task_id": "t", "ext_info": None, "mappings": [], "schema_mappings": []}
    response = deserialized([element], "InstallMultiTasksResponse")
    found = compare(json.loads(response.raw_content), response)
    assert (found.problems, found.extra) == ([], {"[].schema_mappings"})
