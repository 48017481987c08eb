"""A daemon's state as a person finds it: a real history store, an audit log, hostile text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fdi_drift.audit import AuditLog
from fdi_drift.drift.model import (
    BlockReason,
    ChangeOp,
    CycleReport,
    FieldChange,
    ResourceKey,
    ResourceStatus,
    Status,
    UnknownReason,
)
from fdi_drift.errors import CloudError
from fdi_drift.history import ChangedBy, History, Spell
from fdi_drift.kinds.drs_job import KIND as DRS_JOB
from fdi_drift.kinds.fdi_composite_task import KIND as COMPOSITE
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DesiredStateHealth
from fdi_drift.status_views import DaemonState
from tests.conftest import INSTANCE, PROJECT

NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
OTHER_PROJECT = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
OTHER_INSTANCE = "9c8b7a65-4321-4fed-8cba-0987654321fe"

ORDERS = ResourceKey(FDI_TASK, PROJECT, INSTANCE, "orders-mysql-to-mysql")
NODES = ResourceKey(FDI_TASK, PROJECT, INSTANCE, "nodes-api-to-oracle")
DRS = ResourceKey(DRS_JOB, PROJECT, "", "drs-orders-job")
CDC = ResourceKey(COMPOSITE, PROJECT, INSTANCE, "cdc-orders")
BILLING = ResourceKey(FDI_TASK, OTHER_PROJECT, OTHER_INSTANCE, "billing-sync")
# Live names are the service's to choose: this one needs percent-encoding in a URL.
STRAY = ResourceKey(FDI_TASK, PROJECT, INSTANCE, "stray/task ~ü %2F #1?")

# Each would make an element or run script if a page let it through unescaped.
HOSTILE_VALUE = "<img src=x id=pwned-value onerror=alert(3)>"
HOSTILE_USER = '<img src=x id=pwned-user onerror=alert("user")>'
HOSTILE_REVISION = 'abc123"><img src=x id=pwned-revision onerror=alert(1)>'
HOSTILE_PROBLEM = 'orders.yaml:3: /spec/task/description: <script>alert("problem")</script>'
HOSTILE_ERROR = "1 problem <img src=x id=pwned-error onerror=alert(2)>"
HOSTILE_REASON = "a rail holds it back: </td><script>alert('reason')</script>"

LONG_COLUMNS = [{"name": f"column_{n}", "type": "VARCHAR(255)"} for n in range(12)]
DESCRIPTION = FieldChange(
    "/task/description", ChangeOp.CHANGED, "Orders into reporting", HOSTILE_VALUE
)
PAGE_SIZE = FieldChange(
    "/task_detail/sourceSelectedDatasource/bodyRaw/pageSize", ChangeOp.CHANGED, "10", "500"
)
COLUMNS = FieldChange(
    "/task_detail/targetSelectedDatasource/columns",
    ChangeOp.CHANGED,
    LONG_COLUMNS,
    LONG_COLUMNS[:2],
)
TAG = FieldChange("/task/task_tag", ChangeOp.ABSENT, "nightly", None)
NODES_CHANGE = FieldChange("/task/task_type", ChangeOp.CHANGED, "TIMING", "REALTIME")
BILLING_CHANGE = FieldChange("/task/description", ChangeOp.CHANGED, "billing", "billing (paused)")

ORDERS_PLAN = (
    "FdiTask orders-mysql-to-mysql (id 9496207a5d6b44b486d79005b5815bd4) in "
    f"{PROJECT}/{INSTANCE}: will be updated in place\n"
    "  desired: orders.yaml\n"
    f"  PUT /v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks/9496207a5d6b44b486d79005b5815bd4\n"
)
PUT_LINE = f"PUT /v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks/9496207a5d6b44b486d79005b5815bd4"
SECRET_BODY = "body-that-no-page-shows"


def status(key: ResourceKey, state: Status, **details: Any) -> ResourceStatus:
    """A status as the engine reports it, with a live id and its desired file."""
    live_id = "" if state is Status.MISSING else f"id-{key.name[:8]}"
    source = "" if state is Status.UNMANAGED else f"{key.name}.yaml"
    return ResourceStatus(
        key, state, live_id=live_id, source=source, region="cn-north-4", **details
    )


def cycle(at: float, *statuses: ResourceStatus, revision: str = "r1") -> CycleReport:
    return CycleReport(revision, at - 3, at, statuses, complete=True)


def current_report() -> CycleReport:
    """The last cycle: one resource of every status, finished 42 s before NOW."""
    return cycle(
        NOW - 42,
        status(ORDERS, Status.DRIFTED, changes=(DESCRIPTION, PAGE_SIZE, COLUMNS, TAG)),
        status(
            NODES,
            Status.BLOCKED,
            changes=(NODES_CHANGE,),
            block=BlockReason.RUNNING,
            reason=HOSTILE_REASON,
        ),
        status(DRS, Status.IN_SYNC),
        status(
            CDC, Status.UNKNOWN, cause=UnknownReason.READ_FAILED, reason="read failed: HTTP 503"
        ),
        status(BILLING, Status.DRIFTED, changes=(BILLING_CHANGE,), drift_since=NOW - 999),
        status(STRAY, Status.UNMANAGED),
        revision=HOSTILE_REVISION,
    )


def fill_history(history: History) -> None:
    """Episodes as a day of cycles leaves them: one drift ended, three open, one attributed
    to a person, one to a hostile name, one still pending."""
    history.record_cycle(cycle(NOW - 86400, status(DRS, Status.DRIFTED, changes=(PAGE_SIZE,))))
    history.record_cycle(cycle(NOW - 80000, status(DRS, Status.IN_SYNC)))
    history.record_cycle(cycle(NOW - 20000, status(ORDERS, Status.DRIFTED, changes=(TAG,))))
    history.record_cycle(cycle(NOW - 10000, status(ORDERS, Status.IN_SYNC)))
    history.record_cycle(
        cycle(
            NOW - 7200,
            status(ORDERS, Status.IN_SYNC),
            status(NODES, Status.DRIFTED, changes=(NODES_CHANGE,)),
        )
    )
    history.record_cycle(
        cycle(NOW - 1800, status(ORDERS, Status.DRIFTED, changes=(DESCRIPTION, PAGE_SIZE)))
    )
    history.record_cycle(
        cycle(NOW - 300, status(BILLING, Status.DRIFTED, changes=(BILLING_CHANGE,)))
    )
    history.record_cycle(current_report())
    drift = history.open_drift()
    history.attribute(
        drift[ORDERS].id,
        ChangedBy("alice", "10.1.2.3", NOW - 1900, "trace-1", "req-1", "updateTask"),
        "found",
    )
    history.attribute(
        drift[NODES].id, ChangedBy(HOSTILE_USER, None, NOW - 7300, "trace-2", None), "found"
    )
    assert drift[BILLING].attribution == "pending"
    assert {e.spell for e in history.episodes(key=NODES)} == {Spell.DRIFTED, Spell.BLOCKED}


def fill_audit(audit: AuditLog) -> None:
    """An applied write of ORDERS an hour ago, one of another resource, and one unfinished."""
    first = audit.intent(
        resource={**ORDERS.fields(), "live_id": "id-orders-m", "source": "orders.yaml"},
        revision="r0",
        live_before={"task": {"description": SECRET_BODY}},
        requests=[{"request": PUT_LINE, "body": {"task": {"description": SECRET_BODY}}}],
    )
    audit.outcome(first, result="applied", verification={"in_sync": True})
    other = audit.intent(resource=BILLING.fields(), revision="r0", live_before=None, requests=[])
    audit.outcome(other, result="failed", detail="HTTP 400")
    audit.intent(
        resource=ORDERS.fields(),
        revision="r1",
        live_before=None,
        requests=[{"request": PUT_LINE, "body": {"task": {"description": SECRET_BODY}}}],
    )


async def plan(key: ResourceKey) -> tuple[str, list[dict[str, Any]]]:
    """The plan of ORDERS; any other resource's read fails, as a live read may."""
    if key == ORDERS:
        return ORDERS_PLAN, [{"resource": key.fields(), "result": "planned"}]
    raise CloudError("GET tasks: HTTP 503 (request id r-503)")


def daemon_state(root: Path) -> DaemonState:
    """The whole picture, its files under `root`, its clock stopped at NOW."""
    history = History(root / "history.db", clock=lambda: NOW)
    fill_history(history)
    audit = AuditLog(root / "audit.jsonl", clock=lambda: NOW - 3600)
    fill_audit(audit)
    return DaemonState(
        health=DesiredStateHealth(valid=False, revision=HOSTILE_REVISION, error=HOSTILE_ERROR),
        report=current_report(),
        problems=(HOSTILE_PROBLEM,),
        history=history,
        audit_records=audit.records_for,
        plan=plan,
        desired_root="/srv/desired",
        clock=lambda: NOW,
    )
