"""ROMA Connect FDI tasks: read one, list all of an instance, update one; a project's instances."""

from __future__ import annotations

import logging
from typing import Any, cast

from fdi_drift.cloud.client import ApiClient
from fdi_drift.cloud.endpoints import Service
from fdi_drift.cloud.identifiers import check_id
from fdi_drift.cloud.paging import Paging, kind_of, list_all
from fdi_drift.cloud.payloads import BriefTask, RomaInstance, TaskResponse, UpdateTaskBody
from fdi_drift.errors import MalformedResponseError

_log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 999  # the service's documented ceiling for `limit`
MAX_INSTANCE_PAGE = 100  # the instance list's documented ceiling for `limit`

SERVICE = Service("fdi", "roma")  # the API this module talks to


class FdiClient:
    """The FDI task endpoints; every id is checked before it enters a path."""

    def __init__(self, api: ApiClient) -> None:
        self._api = api

    async def get_task(self, project_id: str, instance_id: str, task_id: str) -> TaskResponse:
        """One task: `task` checked to be an object and `task_detail` a string, nothing more.

        Decoding `task_detail` is the caller's business (a non-JSON one is a DocumentError).
        """
        path = task_path(project_id, instance_id, task_id)
        answer = await self._api.request("GET", path)
        problem = ""
        if not isinstance(answer, dict):
            problem = f"the answer is {kind_of(answer)}, not an object"
        elif not isinstance(answer.get("task"), dict):
            problem = f"`task` is {kind_of(answer.get('task'))}, not an object"
        elif not isinstance(answer.get("task_detail"), str):
            problem = f"`task_detail` is {kind_of(answer.get('task_detail'))}, not a string"
        if problem:
            raise MalformedResponseError(problem, request=f"GET {path}")
        return cast(TaskResponse, answer)

    async def list_tasks(
        self, project_id: str, instance_id: str, *, page_size: int = 500
    ) -> list[BriefTask]:
        """Every task of the instance, page after page, or an error: never a short list.

        A listing that contradicts itself (short or empty page before `total`, `total`
        changing, a task id seen twice) is read again once from the start, then raises
        MalformedResponseError. `page_size` is held to 1..999.
        """
        entries = await list_all(
            self._api,
            _tasks_path(project_id, instance_id),
            Paging(total="total", items="entities", item_id="task_id", max_limit=MAX_PAGE_SIZE),
            page_size=page_size,
        )
        return cast(list[BriefTask], entries)

    async def list_instances(self, project_id: str) -> list[RomaInstance]:
        """Every ROMA Connect instance of the project (`GET /v2/{project_id}/instances`).

        Paged and checked like the task list: never a short list.
        """
        entries = await list_all(
            self._api,
            f"/v2/{check_id('project_id', project_id)}/instances",
            Paging(total="total", items="instances", item_id="id", max_limit=MAX_INSTANCE_PAGE),
            page_size=MAX_INSTANCE_PAGE,
        )
        return cast(list[RomaInstance], entries)

    async def update_task(
        self, project_id: str, instance_id: str, task_id: str, body: UpdateTaskBody
    ) -> None:
        """Replace a common task's `task` and `task_detail`; the answer (the task) is not used."""
        await self._api.request("PUT", task_path(project_id, instance_id, task_id), json=body)

    async def create_multi_task(
        self, project_id: str, instance_id: str, body: dict[str, Any]
    ) -> str:
        """Create a composite task (seed 003); returns the new task's id."""
        path = multi_tasks_path(project_id, instance_id)
        answer = await self._api.request("POST", path, json=body)
        task_id = answer.get("task_id") if isinstance(answer, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise MalformedResponseError("the answer carries no task_id", request=f"POST {path}")
        return task_id

    async def init_multi_task(
        self, project_id: str, instance_id: str, body: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Initialise a composite task (seed 004): datasources and mappings."""
        path = f"{multi_tasks_path(project_id, instance_id)}/init"
        answer = await self._api.request("POST", path, json=body)
        if not isinstance(answer, list):
            raise MalformedResponseError(
                f"the answer is {kind_of(answer)}, not an array", request=f"POST {path}"
            )
        return cast(list[dict[str, Any]], answer)

    async def update_multi_task(
        self, project_id: str, instance_id: str, task_id: str, body: dict[str, Any]
    ) -> None:
        """Modify a composite task: description, tag, operation types, snapshot re-pull."""
        await self._api.request("PUT", multi_task_path(project_id, instance_id, task_id), json=body)

    async def stop_task(self, project_id: str, instance_id: str, task_id: str) -> None:
        """Stop a running task (`POST .../terminate`)."""
        await self._api.request("POST", f"{task_path(project_id, instance_id, task_id)}/terminate")

    async def start_task(self, project_id: str, instance_id: str, task_id: str) -> None:
        """Start a task (`POST .../run`)."""
        await self._api.request("POST", f"{task_path(project_id, instance_id, task_id)}/run")


def _instance_path(project_id: str, instance_id: str) -> str:
    project = check_id("project_id", project_id)
    instance = check_id("instance_id", instance_id)
    return f"/v2/{project}/fdi/instances/{instance}"


def _tasks_path(project_id: str, instance_id: str) -> str:
    return f"{_instance_path(project_id, instance_id)}/tasks"


def multi_task_path(project_id: str, instance_id: str, task_id: str) -> str:
    """The path of one composite task's modify call, every id checked."""
    return f"{_instance_path(project_id, instance_id)}/multi-tasks/{check_id('task_id', task_id)}"


def multi_tasks_path(project_id: str, instance_id: str) -> str:
    """The path composite tasks are created (and, with /init, initialised) under."""
    return f"{_instance_path(project_id, instance_id)}/multi-tasks"


def task_path(project_id: str, instance_id: str, task_id: str) -> str:
    """The path of one common task, every id checked."""
    return f"{_tasks_path(project_id, instance_id)}/{check_id('task_id', task_id)}"
