"""One task list per instance, and one instance list per project, shared by the two FDI kinds.

Common and composite tasks come from the same list endpoint, and both kinds find a project's
instances from the same instance list. When both kinds ask at once (they do, every cycle), the
second caller joins the request already in flight instead of paging through it a second time.
Nothing is cached beyond that request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.cloud.payloads import BriefTask
from fdi_drift.kinds.contract import LiveEntry, Scope

_RUNNING = "RUNNING"
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _InFlight(Generic[K, V]):
    """Requests by key: a caller for a key already being fetched awaits that same request."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}

    async def join(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(fetch())
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(running)


class SharedTaskList:
    """Lists an instance's tasks, or a project's instances, joining a listing under way."""

    def __init__(self, client: FdiClient) -> None:
        self._client = client
        self._tasks: _InFlight[Scope, list[BriefTask]] = _InFlight()
        self._instances: _InFlight[str, list[Scope]] = _InFlight()

    async def live_entries(self, scope: Scope, *, composite: bool) -> list[LiveEntry]:
        """The instance's composite tasks (those with an `ext_type`), or its common ones."""
        return [
            LiveEntry(
                id=entry["task_id"],
                name=str(entry.get("task_name", "")),
                version=str(entry.get("last_modified_time", "")),
            )
            for entry in await self.entries(scope)
            if bool(entry.get("ext_type")) is composite
        ]

    async def entries(self, scope: Scope) -> list[BriefTask]:
        """Every task of the instance, common and composite."""
        return await self._tasks.join(
            scope, lambda: self._client.list_tasks(scope.project_id, scope.instance_id)
        )

    async def instance_scopes(self, project_id: str) -> list[Scope]:
        """A scope for every running ROMA Connect instance of the project.

        An instance being created, deleted or in error has no task list to read; one whose
        entry carries no status is taken as running.
        """
        return await self._instances.join(project_id, lambda: self._instance_scopes(project_id))

    async def _instance_scopes(self, project_id: str) -> list[Scope]:
        instances = await self._client.list_instances(project_id)
        return [
            Scope(project_id, instance["id"])
            for instance in instances
            if instance.get("status", _RUNNING) == _RUNNING
        ]
