"""DRS v5 replication jobs: list a project's jobs, read one in detail, send a typed update."""

from __future__ import annotations

from typing import Any, cast

from fdi_drift.cloud.client import ERROR_TEXT_LIMIT, ApiClient
from fdi_drift.cloud.endpoints import Service
from fdi_drift.cloud.identifiers import check_id
from fdi_drift.cloud.paging import Paging, kind_of, list_all
from fdi_drift.errors import ApiError, MalformedResponseError

_PAGING = Paging(total="total_count", items="jobs", item_id="id", max_limit=1000)

SERVICE = Service("drs", "drs")  # the API this module talks to


class DrsClient:
    """The DRS job endpoints; every id is checked before it enters a path."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api

    async def list_jobs(self, project_id: str, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every job of the project (`GET /v5/{project_id}/jobs`), or an error: never short."""
        return await list_all(self._api, jobs_path(project_id), _PAGING, page_size=page_size)

    async def get_job(self, project_id: str, job_id: str) -> dict[str, Any]:
        """One job in detail (`?type=detail`): the `job` object, its shape checked."""
        path = job_path(project_id, job_id)
        answer = await self._api.request("GET", path, params={"type": "detail"})
        job = answer.get("job") if isinstance(answer, dict) else None
        if not isinstance(job, dict):
            raise MalformedResponseError(
                f"`job` is {kind_of(job)}, not an object", request=f"GET {path}"
            )
        return cast(dict[str, Any], job)

    async def update_job(
        self, project_id: str, job_id: str, update_type: str, params: dict[str, Any]
    ) -> None:
        """One typed update (seed 001): `{"job": {"type": ..., "params": {...}}}`.

        A 200 can still report a failure (UpdateJobResponse: `status` `failed`, `error_code`
        "when the job reports an error"): such an answer raises ApiError with its code and text.
        """
        path = job_path(project_id, job_id)
        body = {"job": {"type": update_type, "params": params}}
        answer = await self._api.request("PUT", path, json=body)
        _check_update_answer(answer, f"PUT {path}")


def _check_update_answer(answer: object, request: str) -> None:
    """Accept the update's 200 answer: `{}` (seed 001's example), or `{id, name, status}`.

    An `error_code`, or a `status` other than `success`, is a refused write (ApiError, status
    200, with the service's code and message); an answer that is not an object is malformed.
    """
    if answer is None:  # an empty body says no more than `{}`
        return
    if not isinstance(answer, dict):
        raise MalformedResponseError(
            f"the answer is {kind_of(answer)}, not an object", request=request
        )
    code, message = _text(answer.get("error_code")), _text(answer.get("error_msg"))
    status = answer.get("status")
    if not code and status in (None, "success"):
        return
    said = code or f"status {_text(status)[:40] or kind_of(status)}"
    raise ApiError(
        f"HTTP 200 {said}: {message}" if message else f"HTTP 200 {said}",
        request=request,
        status=200,
        error_code=code,
        error_msg=message,
    )


def _text(value: object) -> str:
    return value[:ERROR_TEXT_LIMIT] if isinstance(value, str) else ""


def jobs_path(project_id: str) -> str:
    """The path of a project's job list."""
    return f"/v5/{check_id('project_id', project_id)}/jobs"


def job_path(project_id: str, job_id: str) -> str:
    """The path of one job, every id checked."""
    return f"{jobs_path(project_id)}/{check_id('job_id', job_id)}"
