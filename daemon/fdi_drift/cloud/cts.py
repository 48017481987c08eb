"""Cloud Trace Service (CTS): who changed a resource, read from its management traces.

    GET /v3/{project_id}/traces?trace_type=system&service_type=&resource_type=&resource_id=
        &from=&to=&limit=&next=  ->  {"traces": [...], "meta_data": {"count", "marker"}}

Traces come newest first; `meta_data.marker` (the last trace's id) is passed as `next` for the
older ones and is null on the last page. `from` and `to` are epoch milliseconds, both
excluded, at most seven days apart: CTS keeps only the last seven days. A trace shows up
about a minute after its operation, so a window that ends now may not hold the newest write
yet.

Which traces name a kind's resources (the services' CTS pages; see emulator/cts.py):

    kind                 service_type  resource_type  write trace names
    FdiTask              ROMA          task           updateTask, operateTask, ...
    FdiCompositeTask     ROMA          task           createTask, updateTask, ...
    DrsJob               DRS           job            modifyJob or ModifyJob, ...
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any

from fdi_drift.cloud.client import ApiClient
from fdi_drift.cloud.endpoints import Service
from fdi_drift.cloud.identifiers import check_id
from fdi_drift.cloud.paging import kind_of
from fdi_drift.errors import CloudError, MalformedResponseError

SERVICE = Service("cts", "cts")  # the API this module talks to

ROMA_SERVICE_TYPE = "ROMA"
FDI_TASK_RESOURCE_TYPE = "task"  # common and composite FDI tasks alike
DRS_SERVICE_TYPE = "DRS"
DRS_JOB_RESOURCE_TYPE = "job"

MAX_LIMIT = 200  # the documented ceiling of `limit`
MAX_PAGES = 50
MAX_SPAN_MS = 7 * 24 * 3600 * 1000  # CTS keeps seven days and refuses a wider window
# Trace names of operations that change a task or job (ROMA FDI's and DRS's CTS pages), lower
# case: the pages spell some both ways (modifyJob, ModifyJob).
WRITE_TRACE_NAMES = frozenset(
    name.lower()
    for name in (
        "createTask",
        "updateTask",
        "deleteTask",
        "operateTask",
        "handleTask",
        "addDispatch",
        "updateDispatch",
        "createJob",
        "CreateJobV1",
        "modifyJob",
        "deleteJob",
        "DeleteJobV1",
        "startJob",
        "retryJob",
    )
)


@dataclass(frozen=True, slots=True)
class Trace:
    """One CTS trace, as much of it as the daemon records."""

    trace_id: str
    trace_name: str
    time: float  # epoch seconds: when the operation happened
    user_name: str  # "" when CTS names no user (some system actions)
    user_domain: str  # the account's name, "" when CTS names none
    source_ip: str  # "" when CTS records none
    request_id: str  # the X-Request-Id the operation was answered with, "" if unknown


class CtsClient:
    """The CTS trace list of a project; every id is checked before it enters a request.

    Reading stops after `max_pages` pages: a window holding more traces raises CloudError
    rather than answer a list that is silently short.
    """

    def __init__(self, api: ApiClient, *, max_pages: int = MAX_PAGES) -> None:
        if max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {max_pages}")
        self._api = api
        self._max_pages = max_pages

    async def list_traces(
        self,
        project_id: str,
        *,
        resource_type: str,
        service_type: str,
        resource_id: str,
        since: float,
        until: float,
        trace_type: str = "system",
        limit: int = MAX_LIMIT,
        trace_rating: str | None = None,
    ) -> list[Trace]:
        """The resource's traces made from `since` to `until` (epoch seconds), newest first.

        A window wider than seven days is narrowed to the seven days before `until`. ValueError
        when `since` is not before `until`; CloudError errors as ApiClient raises them, plus
        MalformedResponseError naming the field of an answer that is not the documented shape,
        and CloudError past `max_pages` pages.
        """
        traces: list[Trace] = []
        seen: set[str] = set()
        async for page in self._pages(
            project_id,
            resource_type=resource_type,
            service_type=service_type,
            resource_id=resource_id,
            since=since,
            until=until,
            trace_type=trace_type,
            limit=limit,
            trace_rating=trace_rating,
        ):
            for trace in page:
                if trace.trace_id not in seen:
                    seen.add(trace.trace_id)
                    traces.append(trace)
        return traces

    async def newest_write(
        self,
        project_id: str,
        *,
        resource_type: str,
        service_type: str,
        resource_id: str,
        since: float,
        until: float,
        trace_names: Collection[str] = WRITE_TRACE_NAMES,
    ) -> Trace | None:
        """The newest successful write (rating `normal`, a trace name in `trace_names`, any
        case) to the resource from `since` to `until`, or None; errors as `list_traces`.

        Pages are read newest first only until one holds a write.
        """
        names = {name.lower() for name in trace_names}
        async for page in self._pages(
            project_id,
            resource_type=resource_type,
            service_type=service_type,
            resource_id=resource_id,
            since=since,
            until=until,
            trace_type="system",
            limit=MAX_LIMIT,
            trace_rating="normal",
        ):
            writes = [trace for trace in page if trace.trace_name.lower() in names]
            if writes:
                return max(writes, key=lambda trace: trace.time)
        return None

    async def _pages(
        self,
        project_id: str,
        *,
        resource_type: str,
        service_type: str,
        resource_id: str,
        since: float,
        until: float,
        trace_type: str,
        limit: int,
        trace_rating: str | None,
    ) -> AsyncIterator[list[Trace]]:
        """Each page of the window's traces, newest first, the marker followed."""
        if not since < until:
            raise ValueError(f"since ({since}) must be before until ({until})")
        to_ms = math.ceil(until * 1000) + 1  # both bounds are excluded
        from_ms = max(math.floor(since * 1000) - 1, to_ms - MAX_SPAN_MS)
        path = f"/v3/{check_id('project_id', project_id)}/traces"
        label = f"GET {path}"
        limit = max(1, min(limit, MAX_LIMIT))
        params: dict[str, str | int] = {
            "trace_type": trace_type,
            "service_type": service_type,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "from": from_ms,
            "to": to_ms,
            "limit": limit,
        }
        if trace_rating is not None:
            params["trace_rating"] = trace_rating
        markers: set[str] = set()
        for number in range(self._max_pages):
            answer = await self._api.request("GET", path, params=params)
            where = f"page {number + 1}"
            entries, marker = _page(answer, where, label, limit)
            traces = [_trace(entry, index, where, label) for index, entry in enumerate(entries)]
            # Only what was asked for, should the service ignore a criterion.
            yield [
                trace
                for trace, entry in zip(traces, entries, strict=True)
                if from_ms < entry["time"] < to_ms
                and entry.get("resource_id", resource_id) == resource_id
            ]
            if marker is None or not entries:
                return
            if marker in markers:
                raise MalformedResponseError(
                    f"`meta_data.marker` of page {number + 1} repeats an earlier one", request=label
                )
            markers.add(marker)
            params["next"] = marker
        raise CloudError(
            f"more than {self._max_pages} pages of {limit} traces for {service_type} "
            f"{resource_type} {resource_id}; not read further",
            request=label,
        )


def _page(
    answer: object, where: str, label: str, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The trace entries of one page and its marker (None on the last), their shape checked."""
    if not isinstance(answer, dict):
        raise MalformedResponseError(f"{where} is {kind_of(answer)}, not an object", request=label)
    entries = answer.get("traces")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise MalformedResponseError(
            f"`traces` of {where} is {kind_of(entries)}, not an array", request=label
        )
    if len(entries) > limit:
        raise MalformedResponseError(
            f"{where} held {len(entries)} traces, more than the limit {limit}", request=label
        )
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MalformedResponseError(
                f"`traces[{index}]` of {where} is {kind_of(entry)}, not an object", request=label
            )
    meta = answer.get("meta_data")
    if meta is None:
        return entries, None
    if not isinstance(meta, dict):
        raise MalformedResponseError(
            f"`meta_data` of {where} is {kind_of(meta)}, not an object", request=label
        )
    marker = meta.get("marker")
    if marker is not None and not isinstance(marker, str):
        raise MalformedResponseError(
            f"`meta_data.marker` of {where} is {kind_of(marker)}, not a string", request=label
        )
    return entries, marker or None


def _trace(entry: dict[str, Any], index: int, page: str, label: str) -> Trace:
    """A Trace of one entry; MalformedResponseError naming the field that is not as documented."""
    where = f"traces[{index}]"
    time_ms = entry.get("time")
    if isinstance(time_ms, bool) or not isinstance(time_ms, int) or time_ms < 0:
        raise _malformed(f"{where}.time", time_ms, "epoch milliseconds", page, label)
    user = entry.get("user")
    if user is not None and not isinstance(user, dict):
        raise _malformed(f"{where}.user", user, "an object", page, label)
    domain = (user or {}).get("domain")
    if domain is not None and not isinstance(domain, dict):
        raise _malformed(f"{where}.user.domain", domain, "an object", page, label)
    return Trace(
        trace_id=_text(entry, "trace_id", where, page, label, required=True),
        trace_name=_text(entry, "trace_name", where, page, label, required=True),
        time=time_ms / 1000,
        user_name=_text(user or {}, "name", f"{where}.user", page, label),
        user_domain=_text(domain or {}, "name", f"{where}.user.domain", page, label),
        source_ip=_text(entry, "source_ip", where, page, label),
        request_id=_text(entry, "request_id", where, page, label),
    )


def _text(
    container: dict[str, Any],
    key: str,
    where: str,
    page: str,
    label: str,
    *,
    required: bool = False,
) -> str:
    """A string field; absent or null is "" unless `required` (then it must be non-empty)."""
    value = container.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        wanted = "a non-empty string" if required else "a string"
        raise _malformed(f"{where}.{key}", value, wanted, page, label)
    return value


def _malformed(field: str, value: object, wanted: str, page: str, label: str) -> CloudError:
    # Names the field and the kind of value, never the value: it may be long or private.
    return MalformedResponseError(
        f"`{field}` of {page} is {kind_of(value)}, not {wanted}", request=label
    )
