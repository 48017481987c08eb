"""The DRS typed update's answer: success as documented, and a 200 that reports a failure."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fdi_drift.cloud.client import RetryPolicy
from fdi_drift.cloud.drs import DrsClient
from fdi_drift.errors import ApiError, MalformedResponseError
from tests.cloud.fakes import FakeTime, Script, json_response, make_api

PROJECT = "c53626012ba84727b938ca8bf03108ef"
JOB = "b84f2d6a-1c3e-4a5b-9d7f-0e2c4a6b8jb01"


async def update(answer: Any) -> Script:
    """Send one name update to a server answering 200 with `answer`; the script it used."""
    script = Script(json_response(200, answer))
    client = DrsClient(make_api(script, FakeTime(), retry=RetryPolicy(attempts=1)))
    await client.update_job(PROJECT, JOB, "name", {"base_info": {"name": "orders-sync-v2"}})
    return script


@pytest.mark.parametrize(
    "answer",
    [
        {},
        None,
        {"id": JOB, "name": "orders-sync-v2", "status": "success"},
        {"id": JOB, "name": "orders-sync-v2", "status": "success", "error_code": ""},
    ],
)
async def test_documented_success_answers_are_accepted(answer: Any) -> None:
    """Seed 001's `{}`, an empty answer and UpdateJobResponse's success are a done write."""
    script = await update(answer)
    (sent,) = script.seen
    assert (sent.method, sent.url.path) == ("PUT", f"/v5/{PROJECT}/jobs/{JOB}")
    assert orjson.loads(sent.content) == {
        "job": {"type": "name", "params": {"base_info": {"name": "orders-sync-v2"}}}
    }


@pytest.mark.parametrize(
    ("answer", "code", "message", "text"),
    [
        (
            {
                "id": JOB,
                "status": "failed",
                "error_code": "DRS.10030010",
                "error_msg": "The job is being modified.",
            },
            "DRS.10030010",
            "The job is being modified.",
            "HTTP 200 DRS.10030010: The job is being modified.",
        ),
        (
            {"id": JOB, "status": "success", "error_code": "DRS.10000001", "error_msg": "x"},
            "DRS.10000001",
            "x",
            "HTTP 200 DRS.10000001: x",
        ),
        ({"id": JOB, "status": "failed"}, "", "", "HTTP 200 status failed"),
        ({"status": "pending"}, "", "", "HTTP 200 status pending"),
    ],
)
async def test_a_200_reporting_a_failure_is_a_refused_write(
    answer: dict[str, Any], code: str, message: str, text: str
) -> None:
    """An error_code, or a status other than success, raises ApiError with the code and text."""
    with pytest.raises(ApiError) as caught:
        await update(answer)
    error = caught.value
    assert (error.status, error.error_code, error.error_msg) == (200, code, message)
    assert str(error) == f"PUT /v5/{PROJECT}/jobs/{JOB}: {text}"


@pytest.mark.parametrize("answer", [[], "done", 1])
async def test_an_answer_that_is_not_an_object_is_malformed(answer: Any) -> None:
    """Anything but an object (or nothing) is not the documented answer."""
    with pytest.raises(MalformedResponseError, match="not an object"):
        await update(answer)
