"""ROMA Connect FDI tasks: read one, list all of an instance, update one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from fdi_drift.cloud.client import ApiClient
from fdi_drift.cloud.identifiers import check_id
from fdi_drift.cloud.payloads import BriefTask, TaskResponse, UpdateTaskBody
from fdi_drift.errors import MalformedResponseError

_log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 999  # the service's documented ceiling for `limit`


@dataclass(frozen=True, slots=True)
class _Inconsistent:
    """A listing that contradicted itself between pages; `reason` says how."""

    reason: str


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
            problem = f"the answer is {_kind(answer)}, not an object"
        elif not isinstance(answer.get("task"), dict):
            problem = f"`task` is {_kind(answer.get('task'))}, not an object"
        elif not isinstance(answer.get("task_detail"), str):
            problem = f"`task_detail` is {_kind(answer.get('task_detail'))}, not a string"
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
        path = _tasks_path(project_id, instance_id)
        label = f"GET {path}"
        limit = max(1, min(page_size, MAX_PAGE_SIZE))
        first = await self._list_once(path, label, limit)
        if not isinstance(first, _Inconsistent):
            return first
        _log.warning("%s: %s; listing again from the start", label, first.reason)
        second = await self._list_once(path, label, limit)
        if not isinstance(second, _Inconsistent):
            return second
        raise MalformedResponseError(
            f"the task list was inconsistent twice: {first.reason}; then {second.reason}",
            request=label,
        )

    async def update_task(
        self, project_id: str, instance_id: str, task_id: str, body: UpdateTaskBody
    ) -> None:
        """Replace a common task's `task` and `task_detail` (the service answers `null`)."""
        await self._api.request("PUT", task_path(project_id, instance_id, task_id), json=body)

    async def stop_task(self, project_id: str, instance_id: str, task_id: str) -> None:
        """Stop a running task (`POST .../terminate`)."""
        await self._api.request("POST", f"{task_path(project_id, instance_id, task_id)}/terminate")

    async def start_task(self, project_id: str, instance_id: str, task_id: str) -> None:
        """Start a task (`POST .../run`)."""
        await self._api.request("POST", f"{task_path(project_id, instance_id, task_id)}/run")

    async def _list_once(
        self, path: str, label: str, limit: int
    ) -> list[BriefTask] | _Inconsistent:
        entries: list[BriefTask] = []
        seen: set[str] = set()
        total: int | None = None
        while True:
            offset = len(entries)
            answer = await self._api.request("GET", path, params={"offset": offset, "limit": limit})
            page_total, items = _page(answer, label, offset, limit)
            if total is None:
                total = page_total
            elif page_total != total:
                return _Inconsistent(
                    f"total changed from {total} to {page_total} at offset {offset}"
                )
            expected = min(limit, total - offset)
            if len(items) != expected:
                return _Inconsistent(
                    f"the page at offset {offset} held {len(items)} tasks where "
                    f"{expected} were due (total {total})"
                )
            for item in items:
                task_id = item["task_id"]
                if task_id in seen:
                    return _Inconsistent(f"task {task_id[:64]!r} listed twice (offset {offset})")
                seen.add(task_id)
                entries.append(item)
            if len(entries) >= total:
                return entries


def _tasks_path(project_id: str, instance_id: str) -> str:
    project = check_id("project_id", project_id)
    instance = check_id("instance_id", instance_id)
    return f"/v2/{project}/fdi/instances/{instance}/tasks"


def _page(answer: object, label: str, offset: int, limit: int) -> tuple[int, list[BriefTask]]:
    """(total, entries) of one list page, its shape checked; an absent entity list is empty."""
    where = f"the page at offset {offset}"
    if not isinstance(answer, dict):
        raise MalformedResponseError(f"{where} is {_kind(answer)}, not an object", request=label)
    total = answer.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise MalformedResponseError(
            f"{where} has a `total` that is not a count ({_kind(total)})", request=label
        )
    entities = answer.get("entities")
    if entities is None:
        entities = []
    if not isinstance(entities, list):
        raise MalformedResponseError(
            f"{where} has `entities` {_kind(entities)}, not a list", request=label
        )
    if len(entities) > limit:
        raise MalformedResponseError(
            f"{where} held {len(entities)} tasks, more than the limit {limit}", request=label
        )
    for index, entry in enumerate(entities):
        if not isinstance(entry, dict) or not isinstance(entry.get("task_id"), str):
            raise MalformedResponseError(
                f"list entry {offset + index} is not an object with a string task_id",
                request=label,
            )
    return total, cast(list[BriefTask], entities)


def _kind(value: object) -> str:
    """How a JSON value is named in messages (never the value itself, which may be large)."""
    if value is None:
        return "null/absent"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def task_path(project_id: str, instance_id: str, task_id: str) -> str:
    """The path of one common task, every id checked."""
    return f"{_tasks_path(project_id, instance_id)}/{check_id('task_id', task_id)}"
