"""Correcting drift under rails: plan, and where allowed, write, verify and audit.

For each drifted resource whose effective mode allows it (the global mode, made more
restrictive by the resource's policy, never less), in this order:

1. rails that need no read: suspended, desired tree invalid, backoff after a failed write,
   outside every window, already tried for this (desired revision, live digest): `fighting`,
   the per-cycle write cap;
2. a fresh read; a digest other than the one the drift was found on means live changed since
   the diff, and a desired revision other than the one checked means desired did: either way
   nothing is sent (`stale`), the next cycle looks again;
3. the kind plans the writes (desired overlaid on live, nested strings encoded exactly) and
   checks them against the service's rules; a running resource is `blocked` unless its policy
   is stop-update-start;
4. dry-run logs the exact requests; auto writes the intent to the audit log, sends, reads back,
   compares, and completes the audit record.

A dry-run correction also carries its `SavedCorrection`: the requests holding no secret value
(declared secrets as `{secretRef}`s, live's own values under secret-looking keys or masked as
`{liveRef}`s into the live read, secrets.py), the desired revision and the live digest they were
planned from, for a plan file (plan_file.py). `apply_plan` sends such a plan exactly, or nothing
of it: every resource is checked first (still declared, at the plan's revision, live read with
the plan's digest, every rail open, every reference resolvable), and one that is not refuses the
whole plan before anything is sent.

No intent, no write: when the audit log cannot take the intent the resource is `blocked`
(`audit_unavailable`) and nothing is sent; detection goes on. An outcome the log cannot take is
kept by it and written with the next record. A write whose answer was lost (a timeout, a reset or
a 5xx after it was sent: OutcomeUnknownError) is never repeated blindly: the resource is read
back (a create is looked up by name) and the outcome recorded is what the read-back shows. Once
`stopping` says so, no new correction starts; one in flight finishes. An exception while
planning one resource makes it `invalid` with the reason; the others go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import cast

from fdi_drift.audit import AuditLog
from fdi_drift.cloud.client import Answer, recording_answers
from fdi_drift.desired_state import DesiredResource, DesiredTree
from fdi_drift.drift.differ import match, prepare_desired
from fdi_drift.drift.document import DecodedDocument, canonical_bytes, decode, encode
from fdi_drift.drift.model import (
    BlockReason,
    CycleReport,
    JSONObject,
    JSONValue,
    Kind,
    Path,
    ReconcileMode,
    ReconcileResult,
    ResourceKey,
    ResourceStatus,
    RunningPolicy,
    Status,
)
from fdi_drift.drift.overlay import Resolve
from fdi_drift.drift.pointer import parse_pointer
from fdi_drift.drift.redaction import redact, redact_paths
from fdi_drift.errors import (
    AuditError,
    CloudError,
    FdiDriftError,
    InvalidWriteError,
    NotFoundError,
    OutcomeUnknownError,
    SecretError,
    account,
)
from fdi_drift.kinds.contract import KindDriver, KindSpec, Write
from fdi_drift.secrets import resolved, unresolved, with_live_references

log = logging.getLogger(__name__)

ResultObserver = Callable[[Kind, ReconcileResult], None]
_REMEMBERED_ATTEMPTS = 16  # per resource; enough to recognise a fight, small enough to forget


@dataclass(frozen=True, slots=True)
class Rails:
    """The global limits every write passes through (the configuration's `reconcile:`).

    `suspended` is the big red switch: no writes at all, whatever else says. `windows` are cron
    expressions (UTC): writes only in a matching minute; none means always.
    """

    mode: ReconcileMode = ReconcileMode.OBSERVE
    suspended: bool = False
    max_writes_per_cycle: int = field(default=5, metadata={"minimum": 0})
    windows: tuple[str, ...] = ()
    running: RunningPolicy = RunningPolicy.SKIP
    backoff_base_seconds: float = field(default=60.0, metadata={"minimum": 0.0})
    backoff_max_seconds: float = field(default=3600.0, metadata={"minimum": 0.0})


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request of a correction as people read it: the line and the body shown."""

    line: str
    body: JSONValue


@dataclass(frozen=True, slots=True)
class SavedWrite:
    """One request of a saved plan, holding no secret value (secrets.py).

    `body` holds each declared secret as `{secretRef: NAME/KEY}` and each value sent back as live
    has it, where that is under a secret-looking key or masked, as `{liveRef: POINTER}`.
    """

    action: str
    line: str
    body: JSONValue
    shown: JSONValue
    covers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SavedCorrection:
    """One resource's correction as a plan file keeps it, and what it was planned from.

    `status` is the resource as planned: identity, live id, source, changes, target, and as
    its `fingerprint` the digest of the read the requests were planned over ("" for a create).
    `declared` is a digest of the resource's declaration (document and policy), which a git
    revision alone does not pin in a checkout with uncommitted edits. `running`: live was
    running, so the requests stop it first and start it after.
    """

    status: ResourceStatus
    revision: str
    declared: str
    running: bool
    writes: tuple[SavedWrite, ...]


@dataclass(frozen=True, slots=True)
class Correction:
    """What reconciling did, or would do, for one drifted resource.

    A `planned` one carries `saved`, its form for a plan file, or in `unsaved` why it has none.
    """

    status: ResourceStatus  # the resource's status afterwards
    mode: ReconcileMode
    result: ReconcileResult
    detail: str = ""
    requests: tuple[PlannedRequest, ...] = ()
    audit_id: str = ""
    saved: SavedCorrection | None = None
    unsaved: str = ""


@dataclass(frozen=True, slots=True)
class _Plan:
    """The writes that correct one resource, and live as read just before (None: a create)."""

    before: DecodedDocument | None
    writes: list[Write]
    digest: str = ""  # of that read


@dataclass(frozen=True, slots=True)
class _Ready:
    """A saved correction checked against live and desired now: sent as it is, if all are."""

    resource: DesiredResource
    status: ResourceStatus
    revision: str
    plan: _Plan
    requests: tuple[PlannedRequest, ...]


@dataclass(slots=True)
class _History:
    failures: int = 0
    retry_at: float = 0.0
    attempts: list[tuple[str, str]] = field(default_factory=list)


class Reconciler:
    """Plans and applies corrections; remembers attempts and failures between cycles."""

    def __init__(
        self,
        drivers: Mapping[Kind, KindDriver],
        specs: Mapping[Kind, KindSpec],
        audit: AuditLog,
        rails: Rails,
        *,
        resolve: Resolve,
        in_window: Callable[[datetime], bool] = lambda now: True,
        observe: ResultObserver = lambda kind, result: None,
        clock: Callable[[], float] = time.time,
        stopping: Callable[[], bool] = lambda: False,
        revision_in_force: Callable[[], str | None] = lambda: None,
        accepted: Callable[[ResourceKey], Awaitable[None]] | None = None,
    ) -> None:
        self._drivers = drivers
        self._specs = specs
        self._audit = audit
        self._rails = rails
        self._resolve = resolve
        self._in_window = in_window
        self._observe = observe
        self._clock = clock
        self._stopping = stopping
        self._revision_in_force = revision_in_force
        self._history: dict[ResourceKey, _History] = {}
        # Told as soon as the service accepts a write, before it is verified (history.py);
        # it must not raise.
        self._accepted = accepted

    async def run(
        self,
        tree: DesiredTree,
        report: CycleReport,
        *,
        tree_valid: bool = True,
        mode: ReconcileMode | None = None,
    ) -> tuple[CycleReport, list[Correction]]:
        """Reconcile a cycle's drifted resources; returns the report with statuses updated.

        `mode` stands in for the configured global mode for this cycle (the command line plans
        as `dry-run` and applies as `auto`); each resource's own `reconcile` still caps it, and
        only a resource whose mode comes out `auto` is written.
        """
        declared = {resource.key: resource for resource in tree.resources}
        ceiling = mode or self._rails.mode
        writes = 0
        corrections: list[Correction] = []
        statuses: list[ResourceStatus] = []
        for status in report.statuses:
            resource = declared.get(status.key)
            effective = ceiling.at_most(resource.reconcile if resource else None)
            if resource is None or not (
                status.status is Status.DRIFTED
                or (status.status is Status.MISSING and resource.allow_create)
            ):
                statuses.append(status)
                continue
            if effective is ReconcileMode.OBSERVE or self._stopping():
                statuses.append(status)
                continue
            try:
                correction = await self._correct(
                    resource, status, effective, tree.revision, tree_valid, writes
                )
            except Exception as error:  # contained to this resource; nothing was sent for it
                correction = self._unplannable(resource, status, effective, error)
            if correction.audit_id:  # an audited intent: requests were sent, or tried
                writes += 1
            self._observe(status.key.kind, correction.result)
            corrections.append(correction)
            statuses.append(correction.status)
        return replace(report, statuses=tuple(statuses)), corrections

    async def _correct(
        self,
        resource: DesiredResource,
        status: ResourceStatus,
        mode: ReconcileMode,
        revision: str,
        tree_valid: bool,
        writes_so_far: int,
    ) -> Correction:
        """Rails, a fresh read and the kind's plan; then the requests logged, or sent (auto)."""
        history = self._history.setdefault(resource.key, _History())
        attempt = (revision, status.fingerprint)
        sending = mode is ReconcileMode.AUTO
        if sending:
            blocked = self._rail(history, attempt, tree_valid, writes_so_far)
            if blocked is not None:
                return self._blocked(status, mode, *blocked)
        plan = await self._plan(resource, status, mode, revision)
        if isinstance(plan, Correction):
            return plan
        driver = self._drivers[resource.key.kind]
        requests = tuple(
            PlannedRequest(driver.request_line(resource.scope, status.live_id, w), w.shown)
            for w in plan.writes
        )
        if not sending:
            log.info(
                "correction planned",
                extra={
                    "resource": resource.key.fields(),
                    "live_id": status.live_id,
                    "requests": [{"request": r.line, "body": r.body} for r in requests],
                },
            )
            saved, unsaved = self._saved(resource, status, revision, plan, requests)
            return Correction(
                status, mode, ReconcileResult.PLANNED, "", requests, saved=saved, unsaved=unsaved
            )
        correction = await self._apply(resource, status, revision, plan, requests)
        if correction.result is ReconcileResult.APPLIED:
            history.failures, history.retry_at = 0, 0.0
            # A second write over this same live state would only mean someone undoes ours.
            history.attempts = [*history.attempts, attempt][-_REMEMBERED_ATTEMPTS:]
        elif correction.audit_id:  # sent, or tried: back off before the next attempt
            self._fail(history)
        return correction

    async def _plan(
        self, resource: DesiredResource, status: ResourceStatus, mode: ReconcileMode, revision: str
    ) -> _Plan | Correction:
        """The writes that correct the resource, or the correction that says why there are none."""
        in_force = self._revision_in_force()
        if in_force is not None and in_force != revision:
            detail = f"the desired state moved on to {in_force[:12]} since the check; not sent"
            return Correction(status, mode, ReconcileResult.STALE, detail)
        unwritable = self._specs[resource.key.kind].unwritable([c.pointer for c in status.changes])
        if unwritable:
            detail = f"no update call changes {', '.join(unwritable[:5])}"
            return self._blocked(status, mode, BlockReason.NOT_WRITABLE, detail)
        try:
            plan = await self._read_and_plan(resource, status)
        except SecretError as error:
            return self._blocked(status, mode, BlockReason.SECRET_UNAVAILABLE, str(error))
        except InvalidWriteError as error:
            invalid = replace(
                status,
                status=Status.INVALID,
                reason=f"{resource.source}: the correcting request would be refused: {error}",
            )
            return Correction(invalid, mode, ReconcileResult.INVALID, invalid.reason)
        except FdiDriftError as error:
            return Correction(status, mode, ReconcileResult.FAILED, f"read before write: {error}")
        except Exception as error:  # a bug or a hostile document: this resource only
            return self._unplannable(resource, status, mode, error)
        if plan is None:
            detail = "live changed since the diff; not sent"
            return Correction(status, mode, ReconcileResult.STALE, detail)
        if not plan.writes:
            detail = "the differing fields have no update call"
            return self._blocked(status, mode, BlockReason.NOT_WRITABLE, detail)
        return self._around_running(resource, status, mode, plan)

    async def _read_and_plan(
        self, resource: DesiredResource, status: ResourceStatus
    ) -> _Plan | None:
        """Read live again and let the kind plan from it; None when live changed since the diff."""
        spec = self._specs[resource.key.kind]
        before: DecodedDocument | None = None
        digest = ""
        if status.status is not Status.MISSING:
            live = await self._drivers[resource.key.kind].read(resource.scope, status.live_id)
            if live.digest != status.fingerprint:
                return None
            before, digest = live.decode(), live.digest
        options = resource.options
        prepared = resource.prepared
        writes = spec.plan(resource.document, before, prepared.ignore, self._resolve, options)
        return _Plan(before, writes, digest)

    def _around_running(
        self, resource: DesiredResource, status: ResourceStatus, mode: ReconcileMode, plan: _Plan
    ) -> _Plan | Correction:
        """A running resource is stopped and started around the writes, if its policy says so."""
        spec = self._specs[resource.key.kind]
        if plan.before is None or not spec.is_running(plan.before.value):
            return plan
        restart = spec.restart()
        policy = resource.running or self._rails.running
        if restart is None or policy is not RunningPolicy.STOP_UPDATE_START:
            detail = "running; stop it or set policy.running"
            return self._blocked(status, mode, BlockReason.RUNNING, detail)
        return _Plan(plan.before, [restart[0], *plan.writes, restart[1]], plan.digest)

    def _saved(
        self,
        resource: DesiredResource,
        status: ResourceStatus,
        revision: str,
        plan: _Plan,
        requests: tuple[PlannedRequest, ...],
    ) -> tuple[SavedCorrection | None, str]:
        """A planned correction as a plan file keeps it, or why it cannot be kept.

        Each body is saved with its secrets as references, and live's own values under
        secret-looking keys or masked as references into the read planned over, and only once
        resolving them again gives back the very body planned: a value whose literal text in live
        differs from how it would be written again (an escape written another way) cannot be
        saved. What is shown is saved with every value under a secret-looking key hidden.
        """
        if ReconcileMode.AUTO.at_most(resource.reconcile) is not ReconcileMode.AUTO:
            return None, f"its policy.reconcile is {resource.reconcile}: --apply does not send it"
        live = None if plan.before is None else plan.before.value
        writes: list[SavedWrite] = []
        for write, request in zip(plan.writes, requests, strict=True):
            try:
                body = self._referenced(write, live)
                shown = _hidden(write.shown)
            except FdiDriftError as error:
                return None, f"{write.action}: {error}"
            writes.append(SavedWrite(write.action, request.line, body, shown, write.covers))
        spec = self._specs[resource.key.kind]
        running = plan.before is not None and spec.is_running(plan.before.value)
        planned = replace(status, fingerprint=plan.digest)
        saved = SavedCorrection(planned, revision, _declaration(resource), running, tuple(writes))
        return saved, ""

    def _referenced(self, write: Write, live: JSONValue | None) -> JSONValue:
        """The body of `write` as a plan file holds it, checked to resolve to the body."""
        referenced = write.referenced
        if referenced is None:
            if canonical_bytes(write.body) != canonical_bytes(write.shown):
                raise InvalidWriteError("the kind gives no form of it with secrets as references")
            referenced = write.body
        saved = with_live_references(referenced, live)
        if saved is not write.body:
            again = resolved(saved, self._resolve, live)
            if canonical_bytes(again) != canonical_bytes(write.body):
                raise InvalidWriteError(
                    "a secret's text in live is written differently from how a saved plan "
                    "would write it again, so the request cannot be saved exactly"
                )
        return saved

    async def apply_plan(
        self, tree: DesiredTree, plan: Sequence[SavedCorrection], *, tree_valid: bool = True
    ) -> list[Correction]:
        """Send a saved plan's requests exactly as planned, or nothing of the plan at all.

        Every resource is checked before anything is sent: still declared as planned, at the
        plan's desired revision, live read afresh with the plan's digest (and running or not as
        it was), its policy letting `--apply` send it, each rail open, each secret resolvable and
        each live reference naming a value of that fresh read. One that fails refuses the whole
        plan, like a stale Terraform plan: it is `stale` (or `blocked`, `failed`) with the
        reason, the others say the plan was refused. Otherwise each resource's requests go out
        in order, audited and verified as `run` sends them. Resources drifted now but not in the
        plan are not looked at.
        """
        declared = {resource.key: resource for resource in tree.resources}
        checked: list[_Ready | Correction] = []
        for saved in plan:
            resource = declared.get(saved.status.key)
            try:
                checked.append(await self._ready(resource, saved, tree.revision))
            except Exception as error:  # a bug or a hostile document: refused, nothing sent
                detail = f"checking it before sending failed: {account(error)}"
                status = saved.status
                checked.append(
                    Correction(status, ReconcileMode.AUTO, ReconcileResult.FAILED, detail)
                )
        ready = [item for item in checked if isinstance(item, _Ready)]
        if len(ready) == len(checked):
            checked = self._plan_rails(ready, tree_valid) or checked
        if any(isinstance(item, Correction) for item in checked):
            corrections = _refused(checked)
            for correction in corrections:
                self._observe(correction.status.key.kind, correction.result)
            return corrections
        corrections = []
        for item in ready:
            correction = await self._apply(
                item.resource, item.status, item.revision, item.plan, item.requests
            )
            history = self._history.setdefault(item.resource.key, _History())
            if correction.result is ReconcileResult.APPLIED:
                history.failures, history.retry_at = 0, 0.0
                attempt = (item.revision, item.status.fingerprint)
                history.attempts = [*history.attempts, attempt][-_REMEMBERED_ATTEMPTS:]
            elif correction.audit_id:
                self._fail(history)
            self._observe(item.status.key.kind, correction.result)
            corrections.append(correction)
        return corrections

    async def _ready(
        self, resource: DesiredResource | None, saved: SavedCorrection, revision: str
    ) -> _Ready | Correction:
        """A saved correction with its references resolved, or why it must not be sent now."""
        status = saved.status

        def stale(why: str) -> Correction:
            detail = f"stale: {why}; nothing was sent"
            return Correction(status, ReconcileMode.AUTO, ReconcileResult.STALE, detail)

        if resource is None:
            return stale("no longer declared in the desired state")
        if saved.revision != revision:
            return stale(
                f"the desired revision moved from {saved.revision[:12]} to {revision[:12]} "
                "since the plan"
            )
        if _declaration(resource) != saved.declared:
            return stale(f"its declaration in {resource.source} changed since the plan")
        if ReconcileMode.AUTO.at_most(resource.reconcile) is not ReconcileMode.AUTO:
            return stale(f"its policy.reconcile is {resource.reconcile}: --apply does not send it")
        key, scope = resource.key, resource.scope
        driver, spec = self._drivers[key.kind], self._specs[key.kind]
        before: DecodedDocument | None = None
        if status.status is Status.MISSING:
            named = [entry.id for entry in await driver.list(scope) if entry.name == key.name]
            if named:
                return stale(f"live changed since the plan: {key.name} exists now ({named[0]})")
        else:
            try:
                live = await driver.read(scope, status.live_id)
            except NotFoundError:
                return stale(f"live changed since the plan: {status.live_id} no longer exists")
            except FdiDriftError as error:
                detail = f"read before write: {error}; nothing was sent"
                return Correction(status, ReconcileMode.AUTO, ReconcileResult.FAILED, detail)
            if live.digest != status.fingerprint:
                return stale("live changed since the plan")
            before = live.decode()
            if spec.is_running(before.value) is not saved.running:
                now = "stopped" if saved.running else "running"
                return stale(f"live changed since the plan: it is {now} now")
        # With the planned digest, live holds what was planned over: a live reference to nothing
        # means the plan was edited, or made over another read.
        planned_over = None if before is None else before.value
        missing = [pointer for w in saved.writes for pointer in unresolved(w.body, planned_over)]
        if missing:
            return stale(f"live holds nothing at {missing[0]}, where a request refers to it")
        try:
            writes = [
                Write(
                    w.action,
                    resolved(w.body, self._resolve, planned_over),
                    w.shown,
                    w.covers,
                    w.body,
                )
                for w in saved.writes
            ]
        except SecretError as error:
            return self._blocked(
                status, ReconcileMode.AUTO, BlockReason.SECRET_UNAVAILABLE, str(error)
            )
        requests = tuple(
            PlannedRequest(driver.request_line(scope, status.live_id, w), w.shown) for w in writes
        )
        return _Ready(
            resource, status, revision, _Plan(before, writes, status.fingerprint), requests
        )

    def _plan_rails(
        self, ready: Sequence[_Ready], tree_valid: bool
    ) -> list[_Ready | Correction] | None:
        """The plan with each resource a closed rail blocks as its correction; None: all open."""
        limit = self._rails.max_writes_per_cycle
        checked: list[_Ready | Correction] = []
        for item in ready:
            history = self._history.setdefault(item.resource.key, _History())
            attempt = (item.revision, item.status.fingerprint)
            blocked = self._rail(history, attempt, tree_valid, 0)
            if blocked is None and len(ready) > limit:
                detail = (
                    f"the plan holds {len(ready)} corrections, more than max_writes_per_cycle "
                    f"({limit})"
                )
                blocked = BlockReason.WRITE_LIMIT, detail
            if blocked is None:
                checked.append(item)
            else:
                checked.append(self._blocked(item.status, ReconcileMode.AUTO, *blocked))
        return checked if any(isinstance(item, Correction) for item in checked) else None

    async def _apply(
        self,
        resource: DesiredResource,
        status: ResourceStatus,
        revision: str,
        plan: _Plan,
        requests: tuple[PlannedRequest, ...],
    ) -> Correction:
        """No intent, no write: the intent is audited first, then the writes sent and verified."""
        key, before = resource.key, plan.before
        shown = None if before is None else _shown_live(before, resource.prepared.secret_paths)
        try:
            audit_id = self._audit.intent(
                resource={**key.fields(), "live_id": status.live_id, "source": resource.source},
                revision=revision,
                live_before=shown,
                requests=[{"request": r.line, "body": r.body} for r in requests],
            )
        except AuditError as error:
            log.error("audit log unavailable; nothing sent", extra={"resource": key.fields()})
            detail = f"{error}; nothing was sent"
            return self._blocked(status, ReconcileMode.AUTO, BlockReason.AUDIT_UNAVAILABLE, detail)
        with recording_answers() as answers:
            correction = await self._send(resource, status, plan.writes, audit_id, answers)
        return replace(correction, requests=requests)

    async def _send(
        self,
        resource: DesiredResource,
        status: ResourceStatus,
        writes: list[Write],
        audit_id: str,
        answers: Sequence[Answer],
    ) -> Correction:
        """Send the writes in order, verifying each that says what it covers, then the whole.

        `answers` fills with every answer received meanwhile; the audit outcome lists them.
        """
        driver = self._drivers[resource.key.kind]
        fields = {"resource": resource.key.fields(), "audit_id": audit_id}
        live_id = status.live_id
        created = ""
        verified, detail = True, ""
        lost: list[str] = []  # writes whose answer was lost but which the read-back found
        try:
            for write in writes:
                try:
                    new_id = await driver.send(resource.scope, live_id, write)
                except OutcomeUnknownError as error:
                    new_id = await self._learn_outcome(resource, live_id, write, error)
                    lost.append(f"{write.action} (answer lost: {error}; read back: it was made)")
                except CloudError:
                    raise
                except Exception as error:  # a bug before or while sending: a failed write
                    raise _SendFailed(
                        f"{write.action} could not be sent: {account(error)}"
                    ) from error
                if self._accepted is not None:
                    await self._accepted(resource.key)
                if new_id:
                    live_id = created = new_id
                held = not write.covers or len(writes) == 1
                if not held and not await self._holds(resource, live_id, write.covers):
                    verified = False
                    detail = f"{write.action} was accepted, but the read-back still differs"
                    break
            if verified:
                verified = await self._holds(resource, live_id, ())
                detail = "" if verified else "written, but the read-back still differs"
        except (CloudError, _SendFailed) as error:
            detail = f"write failed: {error}"
            if created:
                detail = (
                    f"created {created}, then {detail}; the next cycle finds it by name "
                    "and finishes the correction"
                )
            self._record(
                audit_id,
                ReconcileResult.FAILED,
                _with_lost(detail, lost),
                created=created,
                answers=answers,
            )
            log.error("correction failed", extra={**fields, "detail": detail})
            failed = replace(status, reason=detail, live_id=live_id)
            return Correction(
                failed, ReconcileMode.AUTO, ReconcileResult.FAILED, detail, (), audit_id
            )
        except Exception as error:  # FdiDriftError while reading back, or a bug: recorded
            verified = False
            detail = f"written, but reading it back failed: {account(error)}"
        result = ReconcileResult.APPLIED if verified else ReconcileResult.VERIFY_FAILED
        if verified and created:
            detail = f"created {created}; add `id: {created}` to metadata in {resource.source}"
        detail = _with_lost(detail, lost)
        self._record(
            audit_id,
            result,
            detail,
            verification={"in_sync": verified},
            created=created,
            answers=answers,
        )
        if not verified:
            log.error("correction not verified", extra={**fields, "detail": detail})
            unverified = replace(status, reason=detail, live_id=live_id)
            return Correction(unverified, ReconcileMode.AUTO, result, detail, (), audit_id)
        log.info("correction applied", extra={**fields, "live_id": live_id, "detail": detail})
        fixed = replace(
            status,
            status=Status.IN_SYNC,
            changes=(),
            drift_since=None,
            reason=detail,
            live_id=live_id,
        )
        return Correction(fixed, ReconcileMode.AUTO, result, detail, (), audit_id)

    async def _learn_outcome(
        self, resource: DesiredResource, live_id: str, write: Write, error: OutcomeUnknownError
    ) -> str | None:
        """Whether a write whose answer was lost was made, from a read-back; never a resend.

        Returns the id a create made. Raises `error` again (the write then counts as failed,
        with its cause) when the read-back shows it was not made or cannot tell.
        """
        scope = resource.scope
        driver = self._drivers[resource.key.kind]
        try:
            if write.action == "create":
                named = [e for e in await driver.list(scope) if e.name == resource.key.name]
                if len(named) == 1:
                    return named[0].id
            elif write.action in ("stop", "start"):
                after = (await driver.read(scope, live_id)).decode().value
                if self._specs[resource.key.kind].is_running(after) is (write.action == "start"):
                    return None
            elif await self._holds(resource, live_id, write.covers):
                return None
        except FdiDriftError as reading:
            raise OutcomeUnknownError(
                f"{error}; reading back to learn the outcome failed too ({reading}): "
                "the write may or may not have been made",
                request=error.request,
            ) from error
        raise OutcomeUnknownError(
            f"{error}; the read-back shows it was not made", request=error.request
        ) from error

    def _record(
        self,
        audit_id: str,
        result: ReconcileResult,
        detail: str,
        *,
        verification: dict[str, bool] | None = None,
        created: str = "",
        answers: Sequence[Answer] = (),
    ) -> None:
        """Complete an intent; a log that cannot take it keeps it for the next record."""
        try:
            self._audit.outcome(
                audit_id,
                result=result.value,
                detail=detail,
                verification=verification,
                created=created,
                answers=[
                    {"request": a.request, "status": a.status, "request_id": a.request_id or None}
                    for a in answers
                ],
            )
        except AuditError as error:
            log.error(
                "audit outcome not written; it is kept and written with the next record",
                extra={"audit_id": audit_id, "result": result.value, "error": str(error)},
            )

    def _unplannable(
        self,
        resource: DesiredResource,
        status: ResourceStatus,
        mode: ReconcileMode,
        error: Exception,
    ) -> Correction:
        """An exception while planning: this resource is invalid, with the reason; none sent."""
        reason = f"{resource.source}: could not plan a correction: {account(error)}"
        log.error("planning failed", extra={"resource": resource.key.fields(), "error": reason})
        invalid = replace(status, status=Status.INVALID, reason=reason)
        return Correction(invalid, mode, ReconcileResult.INVALID, reason)

    async def _holds(
        self, resource: DesiredResource, live_id: str, covers: tuple[str, ...]
    ) -> bool:
        """Whether live now holds the desired document, or the parts of it `covers` names."""
        prepared = resource.prepared
        if covers:
            prepared = prepare_desired(_parts(resource.document, covers), prepared.ignore)
        after = await self._drivers[resource.key.kind].read(resource.scope, live_id)
        live = self._specs[resource.key.kind].normalize_live(after.decode().value)
        return match(prepared, live).in_sync

    def _rail(
        self,
        history: _History,
        attempt: tuple[str, str],
        tree_valid: bool,
        writes_so_far: int,
    ) -> tuple[BlockReason, str] | None:
        now = self._clock()
        if self._rails.suspended:
            return BlockReason.SUSPENDED, "reconcile is suspended"
        if not tree_valid:
            return BlockReason.DESIRED_STATE_INVALID, "the desired-state tree is invalid"
        if now < history.retry_at:
            return BlockReason.BACKOFF, f"after {history.failures} failed writes, retrying later"
        if not self._in_window(datetime.fromtimestamp(now, UTC)):
            return BlockReason.OUTSIDE_WINDOW, "outside every reconcile window"
        if attempt in history.attempts:
            return (
                BlockReason.FIGHTING,
                "this revision was written over this very live state before",
            )
        if writes_so_far >= self._rails.max_writes_per_cycle:
            return BlockReason.WRITE_LIMIT, f"{self._rails.max_writes_per_cycle} writes this cycle"
        return None

    def _fail(self, history: _History) -> None:
        history.failures += 1
        delay = self._rails.backoff_base_seconds * 2 ** (history.failures - 1)
        history.retry_at = self._clock() + min(delay, self._rails.backoff_max_seconds)

    @staticmethod
    def _blocked(
        status: ResourceStatus, mode: ReconcileMode, reason: BlockReason, detail: str
    ) -> Correction:
        held = replace(status, status=Status.BLOCKED, block=reason, reason=f"{reason}: {detail}")
        return Correction(held, mode, ReconcileResult.BLOCKED, held.reason)


def _refused(checked: Sequence[_Ready | Correction]) -> list[Correction]:
    """A plan refused whole: each reason found, and for every other resource, the refusal."""
    first = next(item for item in checked if isinstance(item, Correction))
    culprit = f"{first.status.key.kind} {first.status.key.name}"
    detail = (
        f"not sent: {culprit} is {first.result.value}, and a saved plan is applied whole or "
        "not at all"
    )
    corrections: list[Correction] = []
    for item in checked:
        if isinstance(item, Correction):
            corrections.append(item)
        elif first.status.block is not None:
            held = Reconciler._blocked(item.status, ReconcileMode.AUTO, first.status.block, detail)
            corrections.append(held)
        else:
            corrections.append(
                Correction(item.status, ReconcileMode.AUTO, ReconcileResult.STALE, detail)
            )
    return corrections


def _declaration(resource: DesiredResource) -> str:
    """A digest of what a correction of the resource follows: its document and its policy."""
    declared = [
        resource.document,
        resource.reconcile,
        resource.running,
        resource.allow_create,
        dict(resource.options),
        list(resource.ignore),
    ]
    # Key order kept: writes follow it. The standard library writes wide integers exactly.
    text = json.dumps(declared, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _parts(document: JSONObject, pointers: tuple[str, ...]) -> JSONObject:
    """Only the subtrees of `document` at `pointers` (which name dict keys)."""
    picked: JSONObject = {}
    for pointer in pointers:
        path = parse_pointer(pointer)
        source: JSONValue = document
        target = picked
        for index, segment in enumerate(path):
            if not isinstance(source, dict) or segment not in source:
                break
            source = source[segment]
            if index == len(path) - 1:
                target[segment] = source
            else:
                target = cast(JSONObject, target.setdefault(segment, {}))
    return picked


def _hidden(shown: JSONValue) -> JSONValue:
    """A body as shown, with every value under a secret-looking key hidden, JSON text included.

    The kinds hide them already; a plan file is passed on, so it does not rely on that.
    """
    document = decode(shown, what="a planned request as shown")
    hidden = redact(document.value)
    if canonical_bytes(hidden) == canonical_bytes(document.value):
        return shown
    return encode(hidden, document.encoded)


def _shown_live(document: DecodedDocument, secret_paths: tuple[Path, ...]) -> JSONValue:
    """The live document as read, nested strings encoded again, secrets hidden.

    Hidden are values under secret-looking keys and, whatever their keys are called, the values
    at the paths the resource declares as secret references (live holds what was written there).
    """
    return encode(redact_paths(redact(document.value), secret_paths), document.encoded)


class _SendFailed(Exception):
    """A write that failed in our own code before or while it was sent (the reason says how)."""


def _with_lost(detail: str, lost: list[str]) -> str:
    """`detail`, saying which writes' answers were lost and what reading back found."""
    if not lost:
        return detail
    note = "; ".join(lost)
    return f"{detail}; {note}" if detail else note
