"""Values shared by every layer: JSON shapes, resource identities, field changes, statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

JSONScalar = None | bool | int | float | str
JSONValue = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]
JSONObject = dict[str, JSONValue]

# A location inside a JSON document: dict keys are str, list indexes are int.
Path = tuple[str | int, ...]


class Kind(str):
    """A managed kind's name, as desired-state files spell it ("FdiTask", "DrsJob", ...).

    Which kinds exist is not written here: each module in kinds/ declares its own, and the
    registry (kinds/catalog.py) lists them.
    """

    __slots__ = ()


class ReconcileMode(StrEnum):
    """How far the daemon may go with drift; per resource it may only be more restrictive."""

    OBSERVE = "observe"
    DRY_RUN = "dry-run"
    AUTO = "auto"

    @property
    def rank(self) -> int:
        return _MODE_RANK[self]

    def at_most(self, other: ReconcileMode | None) -> ReconcileMode:
        """The more restrictive of the two (None leaves this one)."""
        return self if other is None or self.rank <= other.rank else other


_MODE_RANK = {ReconcileMode.OBSERVE: 0, ReconcileMode.DRY_RUN: 1, ReconcileMode.AUTO: 2}


class RunningPolicy(StrEnum):
    """What to do with drift on a task that is running."""

    SKIP = "skip"  # leave it blocked until someone stops the task
    STOP_UPDATE_START = "stop-update-start"


class Status(StrEnum):
    """Where a resource stands after a check (and, for drifted ones, after reconciling)."""

    IN_SYNC = "in_sync"
    DRIFTED = "drifted"
    MISSING = "missing"  # the list finished, and no live resource answers to the declared one
    UNMANAGED = "unmanaged"  # live, and nobody declares it
    UNKNOWN = "unknown"  # could not be judged: `cause` says at which stage (never in sync)
    # Its declared state cannot be applied: the update it needs would be refused by the
    # service, cannot be made without changing undeclared values, or could not be planned.
    # Nothing is sent. (A desired-state tree that fails validation is not a resource status:
    # the last good tree stays in force and DesiredStateHealth reports it.)
    INVALID = "invalid"
    BLOCKED = "blocked"  # drift that a reconcile rail holds back: `block` says which


class UnknownReason(StrEnum):
    """At which stage judging a resource failed (with status UNKNOWN)."""

    LIST_FAILED = "list_failed"  # its scope's list failed or contradicted itself
    READ_FAILED = "read_failed"  # refused, unanswered, or not the document the API promises
    DECODE_FAILED = "decode_failed"  # the JSON nested in its strings does not decode (or too deep)
    COMPARE_FAILED = "compare_failed"  # comparing or diffing it raised
    DEADLINE = "deadline"  # the cycle's deadline passed before it was judged
    AMBIGUOUS = "ambiguous"  # several live resources answer to its name


class BlockReason(StrEnum):
    """Why drift that reconciling would fix is not being fixed now (a metric label: keep small)."""

    SUSPENDED = "suspended"
    DESIRED_STATE_INVALID = "desired_state_invalid"
    OUTSIDE_WINDOW = "outside_window"
    WRITE_LIMIT = "write_limit"
    BACKOFF = "backoff"
    FIGHTING = "fighting"
    RUNNING = "running"
    SECRET_UNAVAILABLE = "secret_unavailable"  # noqa: S105 - a reason, not a secret
    NOT_WRITABLE = "not_writable"  # the differing fields have no update call
    AUDIT_UNAVAILABLE = "audit_unavailable"  # no intent could be recorded, so nothing is sent


class ReconcileResult(StrEnum):
    """What one reconcile attempt came to (a metric label: keep small)."""

    APPLIED = "applied"  # written, read back, in sync
    PLANNED = "planned"  # dry-run: the exact requests were logged, nothing sent
    FAILED = "failed"  # the service refused a request or could not be reached
    VERIFY_FAILED = "verify_failed"  # written, but the read-back still differs
    STALE = "stale"  # live changed between the diff and the write: nothing sent
    BLOCKED = "blocked"  # a rail held it back
    INVALID = "invalid"  # the request would break the service's rules: nothing sent


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
    # Keys index every per-resource table several times a cycle: the hash is worked out once.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        identity = (self.kind, self.project_id, self.instance_id, self.name, self.id)
        object.__setattr__(self, "_hash", hash(identity))

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        scope = "/".join(part for part in (self.project_id, self.instance_id) if part)
        return f"{self.kind}/{scope}/{self.name}"

    def fields(self) -> dict[str, str]:
        """The identity as log and audit records carry it."""
        return {
            "kind": str(self.kind),
            "project_id": self.project_id,
            "instance_id": self.instance_id,
            "name": self.name,
            "id": self.id,
        }


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a project is served: its target's region and account alias ("" when unknown)."""

    region: str = ""
    account: str = ""


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
    fingerprint: str = ""  # the live digest this status was judged on
    block: BlockReason | None = None  # with status BLOCKED
    cause: UnknownReason | None = None  # with status UNKNOWN
    region: str = ""  # the region of the target that serves its project
    account: str = ""  # that target's account alias, if it has one


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
