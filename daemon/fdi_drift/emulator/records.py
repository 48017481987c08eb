"""The records an FDI instance holds: common tasks and composite tasks, as their GET answers read.

Both kinds share one namespace per instance (ids and names are unique across them), a
`status`, dates in epoch ms and a `revision`, so the task list, `run` and `terminate` treat
them alike. `store.py` keeps them; this module only describes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import orjson

# The task list's ext_type for composite tasks; common tasks answer "" (the emulator's choice:
# the pages say only that the field holds the composite task type and may be empty).
COMPOSITE_EXT_TYPE = "MULTI_TABLE"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class TaskStatus(StrEnum):
    """A task's `status` as TaskBasicRsp spells it."""

    STOP = "stop"
    RUNNING = "running"


class _TaskFields:
    """What both kinds read off their `task` object."""

    __slots__ = ()
    task: Mapping[str, object]

    @property
    def task_id(self) -> str:
        return str(self.task["task_id"])

    @property
    def task_name(self) -> str:
        return str(self.task["task_name"])

    @property
    def status(self) -> TaskStatus:
        return TaskStatus(str(self.task["status"]))

    @property
    def created_date(self) -> int:
        return as_int(self.task["created_date"])

    @property
    def last_modified_date(self) -> int:
        return as_int(self.task["last_modified_date"])


@dataclass(frozen=True, slots=True)
class StoredTask(_TaskFields):
    """One common task as the service keeps it: the TaskBasicRsp object and the task_detail text."""

    project_id: str
    instance_id: str
    task: Mapping[str, object]
    task_detail: str
    revision: int = 1

    def body(self) -> dict[str, object]:
        """The GET answer: `{"task": {...}, "task_detail": "..."}` (a fresh top-level copy)."""
        return {"task": dict(self.task), "task_detail": self.task_detail}


@dataclass(frozen=True, slots=True)
class StoredComposite(_TaskFields):
    """One composite task: its `task` object and the decoded `task_detail` document.

    `detail` holds `ext_info` (an object or None), `mappings` and `schema_mappings` (lists of
    objects), plus any other key a seed gave it; the GET answer encodes it as compact JSON.
    """

    project_id: str
    instance_id: str
    task: Mapping[str, object]
    detail: Mapping[str, object]
    revision: int = 1

    @property
    def ext_info(self) -> object:
        return self.detail.get("ext_info")

    @property
    def mappings(self) -> Sequence[object]:
        return _list(self.detail.get("mappings"))

    @property
    def schema_mappings(self) -> Sequence[object]:
        return _list(self.detail.get("schema_mappings"))

    def body(self) -> dict[str, object]:
        """The GET answer: `{"task": {...}, "task_detail": "<compact JSON>"}`."""
        return {"task": dict(self.task), "task_detail": orjson.dumps(self.detail).decode()}


InstanceTask = StoredTask | StoredComposite


def next_modified_date(previous_ms: int, now_ms: int) -> int:
    """The clock, or one past the previous value, so each change is visible to change detection."""
    return max(now_ms, previous_ms + 1)


def utc_text(epoch_ms: int, *, millis: bool = True) -> str:
    """Epoch milliseconds as ISO 8601 UTC text, to the millisecond (`2022-10-26T08:19:35.897Z`)
    or, without `millis`, to the second (`2022-10-26T08:19:35Z`)."""
    moment = _EPOCH + dt.timedelta(milliseconds=epoch_ms)
    fraction = f".{epoch_ms % 1000:03d}" if millis else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}Z"


def as_int(value: object) -> int:
    """An int field of a record (seeds checked it already)."""
    if isinstance(value, int):
        return value
    raise TypeError(f"expected an integer, got {value!r}")


def _list(value: object) -> Sequence[object]:
    return value if isinstance(value, list) else []
