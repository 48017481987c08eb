"""The task list shared by the two FDI kinds."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.task_list import SharedTaskList


class Lister:
    """Stands in for FdiClient.list_tasks, counting calls and answering when released."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def list_tasks(self, project_id: str, instance_id: str) -> list[dict[str, Any]]:
        self.calls += 1
        await self.release.wait()
        return [{"task_id": f"{project_id}-{instance_id}-{self.calls}"}]


async def test_concurrent_listings_of_one_instance_share_one_request() -> None:
    """Two kinds listing the same instance at once cause one listing; a later one is fresh."""
    lister = Lister()
    shared = SharedTaskList(cast(FdiClient, lister))
    scope = Scope("p", "i")
    first = asyncio.ensure_future(shared.entries(scope))
    second = asyncio.ensure_future(shared.entries(scope))
    other = asyncio.ensure_future(shared.entries(Scope("p", "j")))
    await asyncio.sleep(0)
    lister.release.set()
    assert await first == await second
    assert (await other) != (await first)
    assert lister.calls == 2
    await shared.entries(scope)
    assert lister.calls == 3
