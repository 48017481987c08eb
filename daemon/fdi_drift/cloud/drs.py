"""DRS v5 replication jobs: list a project's jobs, read one in detail, send a typed update."""

from __future__ import annotations

from typing import Any, cast

from fdi_drift.cloud.client import ApiClient
from fdi_drift.cloud.endpoints import Service
from fdi_drift.cloud.identifiers import check_id
from fdi_drift.cloud.paging import Paging, kind_of, list_all
from fdi_drift.errors import MalformedResponseError

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
        """One typed update (seed 001): `{"job": {"type": ..., "params": {...}}}`."""
        body = {"job": {"type": update_type, "params": params}}
        await self._api.request("PUT", job_path(project_id, job_id), json=body)


def jobs_path(project_id: str) -> str:
    """The path of a project's job list."""
    return f"/v5/{check_id('project_id', project_id)}/jobs"


def job_path(project_id: str, job_id: str) -> str:
    """The path of one job, every id checked."""
    return f"{jobs_path(project_id)}/{check_id('job_id', job_id)}"
