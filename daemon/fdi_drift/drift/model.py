"""Values shared by every layer: JSON shapes, resource identities, field changes, statuses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

JSONScalar = None | bool | int | float | str
JSONValue = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]
JSONObject = dict[str, JSONValue]

# A location inside a JSON document: dict keys are str, list indexes are int.
Path = tuple[str | int, ...]


class Kind(StrEnum):
    """The managed kinds, spelt as in desired-state files."""

    FDI_TASK = "FdiTask"
    FDI_COMPOSITE_TASK = "FdiCompositeTask"
    DRS_JOB = "DrsJob"


class Status(StrEnum):
    """Where a resource stands after a check."""

    IN_SYNC = "in_sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    UNMANAGED = "unmanaged"
    UNKNOWN = "unknown"
    INVALID = "invalid"
    BLOCKED = "blocked"


class ChangeOp(StrEnum):
    """How live differs from desired at one pointer."""

    CHANGED = "changed"  # both have it, values differ
    ABSENT = "absent"  # desired declares it, live lacks it
    EXTRA = "extra"  # live has it where desired declares the whole container (e.g. list items)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field-level difference; values are already redacted where they could be secret."""

    pointer: str
    op: ChangeOp
    desired: JSONValue = None
    live: JSONValue = None


@dataclass(frozen=True, slots=True)
class ResourceKey:
    """A managed resource's identity: kind, scope and name; `id` when bound by id."""

    kind: Kind
    project_id: str
    instance_id: str  # empty for DRS jobs
    name: str
    id: str = ""

    def __str__(self) -> str:
        scope = "/".join(part for part in (self.project_id, self.instance_id) if part)
        return f"{self.kind}/{scope}/{self.name}"


@dataclass(frozen=True, slots=True)
class ResourceStatus:
    """The outcome of checking one resource in one cycle."""

    key: ResourceKey
    status: Status
    reason: str = ""
    live_id: str = ""
    changes: tuple[FieldChange, ...] = ()
    drift_since: float | None = None
    source: str = ""  # the desired-state file, relative to the tree's root


@dataclass(frozen=True, slots=True)
class CycleReport:
    """Everything one check cycle found."""

    revision: str
    started_at: float
    finished_at: float
    statuses: tuple[ResourceStatus, ...]
    complete: bool  # every list call finished; False means some statuses are `unknown`

    def count(self, status: Status) -> int:
        return sum(1 for s in self.statuses if s.status is status)

    @property
    def drifted(self) -> bool:
        return any(s.status in _ACTIONABLE for s in self.statuses)


_ACTIONABLE = frozenset({Status.DRIFTED, Status.MISSING, Status.BLOCKED})
