"""One check cycle: list each scope, read what changed, compare, and produce statuses.

A list that fails makes every declared resource of that scope `unknown` (nothing is declared
missing from a list that did not finish). In a project where resources of a kind that lives in
instances are declared, every instance of it is listed, declared in or not, so that live
resources nobody declared are seen wherever they are. Resources whose live version and desired
fingerprint are unchanged since the last read keep their previous status without a read, except
on the periodic full sweep. Diffs of drifted documents run in a worker thread so the event loop
never stalls.

Nothing one resource does stops the others: any exception while listing a scope, or reading,
decoding or comparing a resource, makes only that scope or resource `unknown`, with the reason.
A cycle has a deadline (`cycle_timeout`): lists and reads still unfinished when it passes are
cancelled, their resources are `unknown`, and the report is not `complete`.

A sharded engine (one replica of several) still lists every scope and matches live entries
against every declared resource, so that a live resource bound by id under another name is
never mistaken for an unmanaged one; but it reads and reports only the declared resources its
shard owns, and of the live entries nobody declares, only those whose live key it owns. What
the report leaves out, nobody downstream (the reconciler, metrics) acts on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from fdi_drift.desired_cache import Verdicts
from fdi_drift.desired_state import DesiredResource, DesiredTree
from fdi_drift.drift.differ import Match, diff, match
from fdi_drift.drift.model import (
    CycleReport,
    FieldChange,
    Kind,
    Placement,
    ResourceKey,
    ResourceStatus,
    Status,
    UnknownReason,
)
from fdi_drift.errors import FdiDriftError, account
from fdi_drift.kinds.contract import KindDriver, KindSpec, LiveDocument, LiveEntry, Scope
from fdi_drift.sharding import Shard

log = logging.getLogger(__name__)

Offload = Callable[
    [Callable[[Match], tuple[FieldChange, ...]], Match], Awaitable[tuple[FieldChange, ...]]
]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How a cycle reads: reads in flight, how often every resource is read, its deadline.

    `cycle_timeout_seconds` None leaves the deadline to the caller (the daemon: three intervals).
    """

    concurrency: int = field(default=16, metadata={"minimum": 1})
    full_sweep_every: int = field(default=10, metadata={"minimum": 1})
    cycle_timeout_seconds: float | None = field(default=None, metadata={"minimum": 0.1})


@dataclass(frozen=True, slots=True)
class _Memo:
    live_id: str
    version: str | None  # the list's change marker when last read
    digest: str  # the live document's digest when last judged
    fingerprint: str  # the desired document's fingerprint when last judged
    status: ResourceStatus


class Engine:
    """Runs check cycles, remembering just enough between them to skip unchanged resources."""

    def __init__(
        self,
        drivers: Mapping[Kind, KindDriver],
        specs: Mapping[Kind, KindSpec],
        config: EngineConfig = EngineConfig(),
        *,
        clock: Callable[[], float] = time.time,
        offload: Offload = asyncio.to_thread,
        place: Callable[[str], Placement] = lambda project_id: Placement(),
        shard: Shard | None = None,
        verdicts: Verdicts | None = None,
    ) -> None:
        """`place` tells a project's region and account, which every status carries; `shard`
        which resources this engine checks (None: all of them)."""
        self._drivers = drivers
        self._shard = shard or Shard()
        self._verdicts = verdicts
        self._place = place
        self._specs = specs
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._full_sweep_every = config.full_sweep_every
        self._clock = clock
        self._offload = offload
        self._cycle_timeout = config.cycle_timeout_seconds
        self._deadline: float | None = None  # the loop time the running cycle must end by
        self._cut_short = False  # the running cycle's deadline cancelled something
        self._cycles = 0
        self._memo: dict[ResourceKey, _Memo] = {}
        self._verdicts_changed = True  # the in-sync verdicts differ from those last kept
        self._drift_since: dict[ResourceKey, float] = {}
        self._previous: dict[ResourceKey, Status] = {}

    async def run_cycle(self, tree: DesiredTree) -> CycleReport:
        """Check every declared resource of the tree once."""
        started = self._clock()
        full_sweep = self._cycles % self._full_sweep_every == 0
        self._cycles += 1
        timeout = self._cycle_timeout
        self._deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        self._cut_short = False
        groups: dict[tuple[Kind, Scope], list[DesiredResource]] = defaultdict(list)
        for resource in tree.resources:
            groups[(resource.key.kind, resource.scope)].append(resource)
        discoverable = self._discoverable(tree)
        found = await asyncio.gather(
            *(self._scopes(kind, project) for kind, project in discoverable)
        )
        for (kind, _), scopes in zip(discoverable, found, strict=True):
            for scope in scopes or ():
                groups.setdefault((kind, scope), [])
        outcomes = await asyncio.gather(
            *(
                self._check_scope(kind, scope, resources, full_sweep)
                for (kind, scope), resources in sorted(groups.items())
            )
        )
        statuses = sorted(
            (status for group, _ in outcomes for status in group),
            key=lambda s: (s.key.kind, s.key.project_id, s.key.instance_id, s.key.name, s.key.id),
        )
        self._forget(r.key for r in tree.resources if self._shard.owns(r.key))
        self._keep_verdicts()
        report = CycleReport(
            revision=tree.revision,
            started_at=started,
            finished_at=self._clock(),
            statuses=tuple(statuses),
            complete=all(ok for _, ok in outcomes)
            and all(scopes is not None for scopes in found)
            and not self._cut_short,
        )
        self._log_transitions(report)
        return report

    def _discoverable(self, tree: DesiredTree) -> list[tuple[Kind, str]]:
        """(kind, project) pairs whose instances are listed: where instance kinds are declared."""
        instance_kinds = sorted(kind for kind, spec in self._specs.items() if spec.needs_instance)
        projects = {
            r.scope.project_id for r in tree.resources if self._specs[r.key.kind].needs_instance
        }
        return [(kind, project) for kind in instance_kinds for project in sorted(projects)]

    async def _scopes(self, kind: Kind, project_id: str) -> list[Scope] | None:
        """The kind's scopes in the project; None (logged) when they cannot be listed."""
        try:
            async with asyncio.timeout_at(self._deadline):
                return await self._drivers[kind].scopes(project_id)
        except TimeoutError:
            self._cut_short = True
            reason = self._past_deadline()
        except Exception as error:  # contained: declared resources are judged all the same
            reason = f"failed: {_account(error, 'listing instances', project_id)}"
        log.warning(
            f"listing the scopes of {kind} in project {project_id} {reason}; "
            "resources in scopes nobody declared are not seen this cycle",
            extra={"kind": str(kind), "project_id": project_id},
        )
        return None

    async def _check_scope(
        self, kind: Kind, scope: Scope, resources: list[DesiredResource], full_sweep: bool
    ) -> tuple[list[ResourceStatus], bool]:
        mine = [r for r in resources if self._shard.owns(r.key)]
        try:
            async with asyncio.timeout_at(self._deadline):
                entries = await self._drivers[kind].list(scope)
        except TimeoutError:
            self._cut_short = True
            reason = f"listing {kind} in {scope} {self._past_deadline()}"
            return [self._unknown(r, UnknownReason.DEADLINE, reason) for r in mine], False
        except Exception as error:  # contained to this scope, whatever it is
            reason = f"listing {kind} in {scope} failed: {_account(error, 'listing', scope)}"
            return [self._unknown(r, UnknownReason.LIST_FAILED, reason) for r in mine], False
        by_id = {entry.id: entry for entry in entries}
        by_name: dict[str, list[LiveEntry]] = defaultdict(list)
        for entry in entries:
            by_name[entry.name].append(entry)
        claimed: set[str] = set()
        statuses: list[ResourceStatus] = []
        reads: list[Awaitable[ResourceStatus]] = []
        for resource in resources:
            key = resource.key
            if key.id:
                found = by_id.get(key.id)
                candidates = [found] if found else []
            else:
                candidates = by_name.get(key.name, [])
            if not self._shard.owns(key):  # another shard's: matched, not unmanaged, but not read
                claimed.update(c.id for c in candidates)
                continue
            if not candidates:
                bound = f"id {key.id}" if key.id else f"name {key.name!r}"
                statuses.append(
                    self._status(resource, Status.MISSING, f"no live {kind} with {bound}")
                )
                continue
            if len(candidates) > 1:
                claimed.update(c.id for c in candidates)
                reason = (
                    f"{len(candidates)} live {kind}s are named {key.name!r}; bind by metadata.id"
                )
                statuses.append(self._unknown(resource, UnknownReason.AMBIGUOUS, reason))
                continue
            entry = candidates[0]
            claimed.add(entry.id)
            memo = self._memo.get(key)
            if (
                not full_sweep
                and entry.version is not None
                and memo is not None
                and (memo.live_id, memo.version, memo.fingerprint)
                == (entry.id, entry.version, resource.prepared.fingerprint)
            ):
                statuses.append(memo.status)
                continue
            reads.append(self._check_resource(kind, resource, entry))
        statuses.extend(await asyncio.gather(*reads))
        for entry in entries:
            if entry.id not in claimed:
                key = ResourceKey(kind, scope.project_id, scope.instance_id, entry.name, entry.id)
                if not self._shard.owns(key):
                    continue
                placement = self._place(scope.project_id)
                statuses.append(
                    ResourceStatus(
                        key=key,
                        status=Status.UNMANAGED,
                        live_id=entry.id,
                        region=placement.region,
                        account=placement.account,
                    )
                )
        return statuses, True

    async def _check_resource(
        self, kind: Kind, resource: DesiredResource, entry: LiveEntry
    ) -> ResourceStatus:
        try:
            async with asyncio.timeout_at(self._deadline):
                async with self._semaphore:
                    live = await self._drivers[kind].read(resource.scope, entry.id)
                return await self.assess(kind, resource, entry, live)
        except TimeoutError:
            self._cut_short = True
            cause, reason = UnknownReason.DEADLINE, f"reading it {self._past_deadline()}"
        except Exception as error:  # contained to this resource, whatever it is
            cause = UnknownReason.READ_FAILED
            reason = f"read failed: {_account(error, 'reading', resource.key)}"
        return self._unknown(resource, cause, reason, entry.id)

    async def assess(
        self, kind: Kind, resource: DesiredResource, entry: LiveEntry, live: LiveDocument
    ) -> ResourceStatus:
        """Judge one freshly read resource; a digest judged before is not decoded again."""
        fingerprint = resource.prepared.fingerprint
        memo = self._memo.get(resource.key)
        if memo is not None and (memo.digest, memo.fingerprint) == (live.digest, fingerprint):
            judged = memo.status
            status = self._status(
                resource, judged.status, judged.reason, entry.id, judged.changes, live.digest
            )
        elif memo is None and self._judged_in_sync(resource.key, live.digest, fingerprint):
            status = self._status(resource, Status.IN_SYNC, "", entry.id, (), live.digest)
        else:
            stage = "decoding"
            try:
                document = live.decode()
                stage = "comparing"
                result = match(resource.prepared, self._specs[kind].normalize_live(document.value))
                if result.in_sync:
                    changes: tuple[FieldChange, ...] | None = None
                else:
                    stage = "diffing"
                    changes = await self._offload(diff, result)
            except Exception as error:  # contained to this resource, whatever it is
                decoding = stage == "decoding"
                cause = UnknownReason.DECODE_FAILED if decoding else UnknownReason.COMPARE_FAILED
                if decoding and isinstance(error, FdiDriftError):  # the answer's fault, not ours
                    reason = f"read failed: {error}"
                else:
                    reason = f"{stage} failed: {_account(error, stage, resource.key)}"
                return self._unknown(resource, cause, reason, entry.id)
            if changes is None:
                status = self._status(resource, Status.IN_SYNC, "", entry.id, (), live.digest)
            else:
                status = self._status(resource, Status.DRIFTED, "", entry.id, changes, live.digest)
        if memo is None or (memo.digest, memo.fingerprint, memo.status.status) != (
            live.digest,
            fingerprint,
            status.status,
        ):
            self._verdicts_changed = True
        self._memo[resource.key] = _Memo(entry.id, entry.version, live.digest, fingerprint, status)
        return status

    def _judged_in_sync(self, key: ResourceKey, digest: str, fingerprint: str) -> bool:
        """Whether a previous process judged these very hashes in sync (see Verdicts)."""
        verdicts = self._verdicts
        return verdicts is not None and verdicts.known.get(_verdict_key(key)) == (
            digest,
            fingerprint,
        )

    def _keep_verdicts(self) -> None:
        """Save the in-sync verdicts, when they changed since they were last saved."""
        if self._verdicts is not None and self._verdicts_changed:
            self._verdicts_changed = not self._verdicts.save(
                {
                    _verdict_key(key): (memo.digest, memo.fingerprint)
                    for key, memo in self._memo.items()
                    if memo.status.status is Status.IN_SYNC
                }
            )

    def _past_deadline(self) -> str:
        return f"did not finish within the cycle's deadline ({self._cycle_timeout:g}s)"

    def _unknown(
        self, resource: DesiredResource, cause: UnknownReason, reason: str, live_id: str = ""
    ) -> ResourceStatus:
        return replace(self._status(resource, Status.UNKNOWN, reason, live_id), cause=cause)

    def _status(
        self,
        resource: DesiredResource,
        status: Status,
        reason: str,
        live_id: str = "",
        changes: tuple[FieldChange, ...] = (),
        fingerprint: str = "",
    ) -> ResourceStatus:
        key = resource.key
        since: float | None = None
        if status is Status.DRIFTED:
            since = self._drift_since.setdefault(key, self._clock())
        elif status is not Status.UNKNOWN:  # an unknown read says nothing about drift
            self._drift_since.pop(key, None)
        judged = status is Status.IN_SYNC or status is Status.DRIFTED
        if not judged and self._memo.pop(key, None) is not None:
            self._verdicts_changed = True
        placement = self._place(key.project_id)
        return ResourceStatus(
            key=key,
            status=status,
            reason=reason,
            live_id=live_id,
            changes=changes,
            drift_since=since,
            source=resource.source,
            fingerprint=fingerprint,
            region=placement.region,
            account=placement.account,
        )

    def _forget(self, declared: Iterable[ResourceKey]) -> None:
        keep = set(declared)
        for table in (self._memo, self._drift_since):
            for key in [k for k in table if k not in keep]:
                del table[key]
                self._verdicts_changed = True

    def _log_transitions(self, report: CycleReport) -> None:
        current: dict[ResourceKey, Status] = {}
        previous = self._previous
        for status in report.statuses:
            if status.status is Status.UNMANAGED:
                continue
            current[status.key] = status.status
            before = previous.get(status.key)
            if before is status.status and before is not Status.UNKNOWN:
                continue  # nothing to say: most resources, most cycles
            fields: dict[str, object] = {
                "resource": status.key.fields(),
                "status": str(status.status),
                "live_id": status.live_id,
            }
            if status.region:
                fields["target"] = {"region": status.region, "account": status.account or None}
            if status.status is Status.UNKNOWN:
                cause = {"cause": str(status.cause), "reason": status.reason}
                log.warning("resource unknown", extra={**fields, **cause})
            elif before is not status.status:
                extra = {**fields, "previous": str(before) if before else None}
                if status.status is Status.DRIFTED:
                    extra["pointers"] = [c.pointer for c in status.changes]
                log.info(f"resource {status.status}", extra=extra)
        self._previous = current
        log.info(
            "cycle finished",
            extra={
                "revision": report.revision,
                "seconds": round(report.finished_at - report.started_at, 3),
                "complete": report.complete,
                "counts": {s.value: report.count(s) for s in Status if report.count(s)},
            },
        )


def _verdict_key(key: ResourceKey) -> str:
    return "/".join((key.kind, key.project_id, key.instance_id, key.name, key.id))


def _account(error: Exception, stage: str, subject: object) -> str:
    """The reason a status gives for `error`; an unexpected one is logged as well."""
    text = account(error)
    if not isinstance(error, FdiDriftError):
        log.error(f"{stage} failed", extra={"subject": str(subject), "error": text})
    return text
