"""A cycle report as people read it (text, like `terraform plan`) and as programs do (JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from fdi_drift.drift.model import (
    ChangeOp,
    CycleReport,
    FieldChange,
    JSONObject,
    JSONValue,
    ResourceStatus,
    Status,
)

_MARK = {ChangeOp.CHANGED: "~", ChangeOp.ABSENT: "+", ChangeOp.EXTRA: "-"}
# Needing attention first: the order of reports and status pages.
ATTENTION_ORDER = (
    Status.DRIFTED,
    Status.MISSING,
    Status.BLOCKED,
    Status.UNKNOWN,
    Status.INVALID,
    Status.IN_SYNC,
    Status.UNMANAGED,
)


def exit_code(report: CycleReport) -> int:
    """Terraform's -detailed-exitcode: 1 when anything could not be read, 2 on drift, else 0."""
    if any(s.status in (Status.UNKNOWN, Status.INVALID) for s in report.statuses):
        return 1
    return 2 if report.drifted else 0


def report_to_json(report: CycleReport) -> JSONObject:
    """The report as a JSON object (stable field names: scripts depend on them)."""
    return {
        "revision": report.revision,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "complete": report.complete,
        "summary": {s.value: report.count(s) for s in Status},
        "resources": [_status_json(s) for s in report.statuses],
    }


def _status_json(status: ResourceStatus) -> JSONObject:
    key = status.key
    return {
        "kind": str(key.kind),
        "project_id": key.project_id,
        "instance_id": key.instance_id,
        "name": key.name,
        "id": status.live_id or key.id,
        "region": status.region or None,
        "account": status.account or None,
        "status": status.status.value,
        "reason": status.reason,
        "cause": status.cause.value if status.cause else None,
        "source": status.source,
        "drift_since": status.drift_since,
        "changes": [
            {"pointer": c.pointer, "op": c.op.value, "desired": c.desired, "live": c.live}
            for c in status.changes
        ],
    }


# How a status word is shown: as it is, or coloured for a terminal (commands/terminal.py).
Paint = Callable[[str, Status], str]


def _plain(text: str, status: Status) -> str:
    return text


def render_text(report: CycleReport, *, show_in_sync: bool = False, paint: Paint = _plain) -> str:
    """A plan-like text report: one block per resource that needs attention, then a summary."""
    return "\n".join(_text_lines(report, show_in_sync, paint)) + "\n"


def _text_lines(report: CycleReport, show_in_sync: bool, paint: Paint) -> Iterator[str]:
    yield f"desired state revision {report.revision}"
    yield "(~ differs, + absent live, - not declared; values read live -> desired)"
    shown = 0
    with_target = spans_targets(report.statuses)
    for wanted in ATTENTION_ORDER:
        if wanted in (Status.IN_SYNC, Status.UNMANAGED) and not show_in_sync:
            continue
        for status in report.statuses:
            if status.status is not wanted:
                continue
            shown += 1
            yield ""
            yield from _resource_lines(status, with_target, paint)
    if shown == 0:
        yield ""
        yield "No drift: every declared resource matches its desired state."
    yield ""
    counts = ", ".join(
        f"{report.count(s)} {paint(s.value.replace('_', ' '), s)}" for s in ATTENTION_ORDER
    )
    yield f"Summary: {counts}."
    if not report.complete:
        yield "Some lists did not finish: resources in those scopes are unknown, not missing."


def spans_targets(statuses: Iterable[ResourceStatus]) -> bool:
    """Whether the statuses come from more than one target (then each line names its own)."""
    return len({(s.region, s.account) for s in statuses}) > 1


def where(status: ResourceStatus, with_target: bool) -> str:
    """ "PROJECT/INSTANCE", and with `with_target` the target's " [account/region]" after it."""
    key = status.key
    place = "/".join(part for part in (key.project_id, key.instance_id) if part)
    if with_target and status.region:
        target = f"{status.account}/{status.region}" if status.account else status.region
        place += f" [{target}]"
    return place


def _resource_lines(status: ResourceStatus, with_target: bool, paint: Paint) -> Iterator[str]:
    key = status.key
    ident = f" (id {status.live_id or key.id})" if status.live_id or key.id else ""
    headline = f"{key.kind} {key.name}{ident} in {where(status, with_target)}"
    detail = paint(status.status.value.replace("_", " "), status.status)
    if status.changes:
        noun = "field" if len(status.changes) == 1 else "fields"
        detail += f", {len(status.changes)} {noun}"
    yield f"{headline}: {detail}"
    if status.source:
        yield f"  desired: {status.source}"
    if status.reason:
        yield f"  reason: {status.reason}"
    yield from change_lines(status.changes)


def change_lines(changes: tuple[FieldChange, ...]) -> Iterator[str]:
    """One line per field change, indented for a resource block."""
    for change in changes:
        yield from _change_lines(change)


def _change_lines(change: FieldChange) -> Iterator[str]:
    # Terraform's reading order: what is there now, then what applying the desired state sets.
    mark = _MARK[change.op]
    if change.op is ChangeOp.CHANGED:
        values = f"{_short(change.live)} -> {_short(change.desired)}"
    elif change.op is ChangeOp.ABSENT:
        values = f"(absent) -> {_short(change.desired)}"
    else:
        values = f"{_short(change.live)} -> (not declared)"
    yield f"  {mark} {change.pointer}: {values}"


def _short(value: JSONValue, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 3] + "..."
