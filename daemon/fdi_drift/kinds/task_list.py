"""One task list per instance and moment, shared by the two FDI kinds.

Common and composite tasks come from the same list endpoint. When both kinds list an instance
at once (they do, every cycle), the second caller joins the request already in flight instead of
paging through the instance a second time. Nothing is cached beyond that request.
"""

from __future__ import annotations

import asyncio

from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.cloud.payloads import BriefTask
from fdi_drift.kinds.contract import LiveEntry, Scope


class SharedTaskList:
    """Lists an instance's tasks, joining a listing of the same instance already under way."""

    def __init__(self, client: FdiClient) -> None:
        self._client = client
        self._in_flight: dict[Scope, asyncio.Future[list[BriefTask]]] = {}

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
        running = self._in_flight.get(scope)
        if running is None:
            running = asyncio.ensure_future(
                self._client.list_tasks(scope.project_id, scope.instance_id)
            )
            self._in_flight[scope] = running
            running.add_done_callback(lambda _: self._in_flight.pop(scope, None))
        return await asyncio.shield(running)
