"""A reconcile plan as people read it (like `terraform plan`) and as programs do (JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from fdi_drift.drift.model import JSONObject, JSONValue, ReconcileResult
from fdi_drift.drift.report import change_lines, spans_targets, where
from fdi_drift.reconciler import Correction

_HEADLINE = {
    ReconcileResult.PLANNED: "will be updated in place",
    ReconcileResult.APPLIED: "updated, read back, in sync",
    ReconcileResult.FAILED: "update failed",
    ReconcileResult.VERIFY_FAILED: "updated, but the read-back still differs",
    ReconcileResult.STALE: "stale, nothing sent",
    ReconcileResult.BLOCKED: "blocked",
    ReconcileResult.INVALID: "cannot be corrected",
}
_SUMMARY = {
    ReconcileResult.PLANNED: "to update",
    ReconcileResult.APPLIED: "applied",
    ReconcileResult.FAILED: "failed",
    ReconcileResult.VERIFY_FAILED: "not verified",
    ReconcileResult.STALE: "stale",
    ReconcileResult.BLOCKED: "blocked",
    ReconcileResult.INVALID: "invalid",
}
_ERRORS = frozenset(
    {ReconcileResult.FAILED, ReconcileResult.VERIFY_FAILED, ReconcileResult.INVALID}
)
_PENDING = frozenset({ReconcileResult.PLANNED, ReconcileResult.BLOCKED, ReconcileResult.STALE})
_EXPLAINED = frozenset(
    {ReconcileResult.FAILED, ReconcileResult.VERIFY_FAILED, ReconcileResult.STALE}
)
_PREVIEW = 160  # characters of a long JSON string shown without --full


def plan_exit_code(corrections: Sequence[Correction]) -> int:
    """1 when something failed or cannot be done, 2 when changes are pending, else 0."""
    results = {c.result for c in corrections}
    if results & _ERRORS:
        return 1
    return 2 if results & _PENDING else 0


def render_plan(
    corrections: Sequence[Correction], *, applying: bool, full: bool = False, hints: bool = True
) -> str:
    """The corrections, one block each: what differs, then every request with its body.

    Long strings in bodies are shortened unless `full`; `hints` adds the command-line advice.
    """
    return "\n".join(_plan_lines(corrections, applying, full, hints)) + "\n"


def _plan_lines(
    corrections: Sequence[Correction], applying: bool, full: bool, hints: bool
) -> Iterator[str]:
    if not corrections:
        yield "Nothing to reconcile: no drifted resource that policy lets this command correct."
        return
    with_target = spans_targets(c.status for c in corrections)
    for correction in corrections:
        status = correction.status
        key = status.key
        ident = f" (id {status.live_id})" if status.live_id else ""
        headline = _HEADLINE[correction.result]
        if correction.result in (ReconcileResult.BLOCKED, ReconcileResult.INVALID):
            headline += f": {correction.detail}"
        yield f"{key.kind} {key.name}{ident} in {where(status, with_target)}: {headline}"
        if status.source:
            yield f"  desired: {status.source}"
        if correction.result in _EXPLAINED:
            yield f"  reason: {correction.detail}"
        yield from change_lines(status.changes)
        for request in correction.requests:
            yield f"  {request.line}"
            if request.body is not None:
                body = request.body if full else _shortened(request.body)
                text = json.dumps(body, indent=2, ensure_ascii=False)
                yield from (f"    {line}" for line in text.splitlines())
        if correction.audit_id:
            yield f"  audit: {correction.audit_id}"
        yield ""
    counts = {r: sum(1 for c in corrections if c.result is r) for r in ReconcileResult}
    shown = ", ".join(f"{n} {_SUMMARY[r]}" for r, n in counts.items() if n)
    yield f"{'Apply' if applying else 'Plan'}: {shown}."
    if hints and not applying and counts[ReconcileResult.PLANNED]:
        yield "Run again with --apply to send these requests."


def saved_plan_exit_code(corrections: Sequence[Correction]) -> int:
    """0 when every correction of a saved plan was applied (or there was none), else 1.

    Nothing of a saved plan is left for later: stale, blocked or failed, it was not applied.
    """
    return 0 if all(c.result is ReconcileResult.APPLIED for c in corrections) else 1


def render_saved(corrections: Sequence[Correction], *, plan: str, config: str) -> str:
    """What `reconcile --out` adds to the plan: what was left out of the file, and the next step."""
    lines = [
        f"Not in the saved plan: {c.status.key.kind} {c.status.key.name}: {c.unsaved}."
        for c in corrections
        if c.result is ReconcileResult.PLANNED and c.saved is None
    ]
    lines.append(
        f"Saved the plan to {plan}; apply it with "
        f"`fdi-drift reconcile -c {config} --apply --plan {plan}`."
    )
    return "\n".join(lines) + "\n"


def _shortened(value: JSONValue) -> JSONValue:
    if isinstance(value, dict):
        return {k: _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    if isinstance(value, str) and len(value) > _PREVIEW:
        return f"{value[:_PREVIEW]}... ({len(value):,} characters in all)"
    return value


def plan_to_json(corrections: Sequence[Correction]) -> list[JSONObject]:
    """Every correction with its exact requests (secrets redacted)."""
    return [
        {
            "kind": str(c.status.key.kind),
            "name": c.status.key.name,
            "id": c.status.live_id,
            "region": c.status.region or None,
            "account": c.status.account or None,
            "source": c.status.source,
            "mode": c.mode.value,
            "result": c.result.value,
            "detail": c.detail,
            "block": c.status.block.value if c.status.block else None,
            "requests": [{"request": r.line, "body": r.body} for r in c.requests],
            "audit_id": c.audit_id or None,
        }
        for c in corrections
    ]
