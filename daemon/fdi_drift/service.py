"""Composition root and lifecycle: builds everything from settings, schedules, stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from fdi_drift import windows
from fdi_drift.attribution import Attributor
from fdi_drift.audit import AuditLog
from fdi_drift.cloud.client import ApiClient
from fdi_drift.desired_cache import Verdicts
from fdi_drift.desired_state import DEFAULT_MAX_FILE_BYTES, DesiredStateLoader, DesiredTree
from fdi_drift.drift.model import (
    CycleReport,
    Kind,
    ReconcileMode,
    ReconcileResult,
    ResourceKey,
    ResourceStatus,
)
from fdi_drift.engine import Engine
from fdi_drift.errors import DesiredStateError, account
from fdi_drift.history import DRIFT_SPELLS, History, Recorded, Resolution
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import KindDriver
from fdi_drift.metrics import DaemonMetrics, DesiredStateHealth
from fdi_drift.plan import plan_to_json, render_plan
from fdi_drift.reconciler import Correction, Reconciler
from fdi_drift.secrets import SecretResolver
from fdi_drift.server import create_app
from fdi_drift.settings import Settings
from fdi_drift.status_views import DaemonState
from fdi_drift.targets import Fleet

log = logging.getLogger(__name__)


def package_version() -> str:
    """The installed distribution's version."""
    try:
        return version("fdi-drift")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def desired_loader(settings: Settings) -> DesiredStateLoader:
    """The loader of the configured desired-state tree."""
    limit = settings.desired_state_max_file_bytes
    return DesiredStateLoader(
        settings.desired_state,
        max_file_bytes=DEFAULT_MAX_FILE_BYTES if limit is None else limit,
        cache_dir=settings.cache_dir,
    )


@contextlib.asynccontextmanager
async def drivers_at(settings: Settings, share: float) -> AsyncIterator[Mapping[Kind, KindDriver]]:
    """The kind drivers of a runtime whose requests take `share` of the configured rate."""
    rate = settings.client.rate_limit_per_second * share
    client = replace(settings.client, rate_limit_per_second=rate)
    runtime = Runtime(replace(settings, client=client), history=False)
    try:
        yield runtime.drivers
    finally:
        await runtime.aclose()


class Runtime:
    """Everything one process needs to check: clients, drivers, engine, loader, metrics."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: DaemonMetrics | None = None,
        clock: Callable[[], float] = time.time,
        history: bool = True,
    ) -> None:
        """`history` False: this runtime records no drift history (`check` only looks)."""
        self.settings = settings
        self.metrics = metrics or DaemonMetrics(version=package_version(), kinds=catalog.specs())
        self.metrics.interval.set(settings.schedule.interval_seconds)
        shard = settings.shard
        self.metrics.observe_shard(shard.index, shard.count)
        # The API's rate limit is the account's: the replicas of a sharded daemon share it.
        # One pool connection per concurrent read the engine may start, so none queues.
        self.client_policy = replace(
            settings.client,
            rate_limit_per_second=settings.client.rate_limit_per_second / shard.count,
            max_connections=settings.engine.concurrency,
        )
        # Each target its own credentials and one client per service the managed kinds use.
        self.fleet = Fleet(
            settings.targets,
            policy=self.client_policy,
            transport=transport,
            observer=lambda target: functools.partial(
                self.metrics.observe_request, region=target.region
            ),
            user_agent=f"fdi-drift/{package_version()}",
            clock=clock,
        )
        self.specs = catalog.specs()
        self.drivers: dict[Kind, KindDriver] = self.fleet.drivers
        deadline = replace(settings.engine, cycle_timeout_seconds=settings.cycle_deadline_seconds)
        self.engine = Engine(
            self.drivers,
            self.specs,
            deadline,
            clock=clock,
            place=self.fleet.placement,
            shard=shard,  # the reconciler writes only what the engine reports: the shard's own
            verdicts=None
            if settings.cache_dir is None
            else Verdicts(settings.cache_dir, shard.index),
        )
        self.loader = desired_loader(settings)
        self.audit = AuditLog(settings.audit_log, clock=clock)
        self.history: History | None = None
        if history and settings.history_db is not None:
            self.history = History(
                settings.history_db,
                clock=clock,
                max_age_seconds=settings.history_max_age_days * 86400,
                max_episodes=settings.history_max_episodes,
            )
            self.metrics.enable_history(resolution.value for resolution in Resolution)
            self.metrics.observe_history(healthy=self.history.healthy)
        self.attributor = (
            None
            if self.history is None
            else Attributor(
                self.history,
                self.fleet.traces,
                catalog.traced_as(),
                window_seconds=settings.attribution_minutes * 60,
                clock=clock,
            )
        )
        self.reconciler = Reconciler(
            self.drivers,
            self.specs,
            self.audit,
            settings.rails,
            resolve=SecretResolver(settings.secrets_dir, settings.secret_env),
            in_window=windows.reconcile_windows(settings.rails.windows),
            observe=self.metrics.observe_reconcile,
            clock=clock,
            stopping=self.stopping,
            revision_in_force=lambda: self.tree.revision if self.tree else None,
            accepted=self._accepted,
        )
        # Plans shown on the status page: never sends, and counts nothing in the metrics.
        self._planner = Reconciler(
            self.drivers,
            self.specs,
            self.audit,
            settings.rails,
            resolve=SecretResolver(settings.secrets_dir, settings.secret_env),
            clock=clock,
        )
        self.state = DaemonState(
            history=self.history,
            audit_records=self.audit.records_for,
            plan=self.plan_for,
            desired_root=str(settings.desired_state),
            clock=clock,
        )
        self.tree: DesiredTree | None = None
        self._stopping = False  # set on SIGTERM: no new write starts
        self._checking: asyncio.Task[CycleReport] | None = None  # a cycle's reads, while running
        self._cycles: set[asyncio.Task[object]] = set()

    async def reload(self, *, strict: bool = False) -> DesiredTree | None:
        """Load the desired tree; an invalid one is reported and the last good one stays.

        With `strict` (one-shot commands, which have no last good tree) it raises instead.
        """
        try:
            tree = await asyncio.to_thread(self.loader.load)
        except DesiredStateError as error:
            if strict:
                raise
            revision = self.tree.revision if self.tree else ""
            health = DesiredStateHealth(valid=False, revision=revision, error=str(error))
            self.state.health, self.state.problems = health, error.problems
            self.metrics.observe_desired_state(health)
            log.error(
                "desired state invalid; keeping the last good tree",
                extra={"problems": list(error.problems), "revision_in_force": revision or None},
            )
            return self.tree
        if self.tree is None or tree != self.tree:
            log.info(
                "desired state loaded",
                extra={"revision": tree.revision, "resources": len(tree.resources)},
            )
            # The tree lives until the next change: later collections need not scan it again.
            gc.freeze()
        self.tree = tree
        health = DesiredStateHealth(valid=True, revision=tree.revision)
        self.state.health, self.state.problems = health, ()
        self.metrics.observe_desired_state(health)
        return tree

    async def check(self) -> CycleReport | None:
        """One check over the tree in force, nothing reconciled (None: no valid tree yet)."""
        outcome = await self.cycle(mode=ReconcileMode.OBSERVE)
        return None if outcome is None else outcome[0]

    async def cycle(
        self,
        *,
        mode: ReconcileMode | None = None,
        only: Callable[[ResourceStatus], bool] | None = None,
    ) -> tuple[CycleReport, list[Correction]] | None:
        """One check, then reconciling what the modes allow (the daemon's scheduled job).

        `mode` stands in for the configured `reconcile.mode` for this one cycle; with `only`,
        only the resources it is true of are reconciled (`reconcile --target`).
        """
        # One tree for the whole cycle: a reload meanwhile must not pair this cycle's diffs
        # with another revision's documents.
        tree = self.tree
        if tree is None:
            log.warning("no valid desired state yet; skipping the cycle")
            return None
        if self.stopping():
            return None
        running = asyncio.current_task()
        if running is not None:
            self._cycles.add(running)
        try:
            checking = asyncio.ensure_future(self.engine.run_cycle(tree))
            self._checking = checking
            try:
                report = await checking
            except asyncio.CancelledError:
                if self._stopping and checking.cancelled():
                    return None  # stopped before any write: nothing to finish
                raise
            finally:
                self._checking = None
            valid = self.state.health is not None and self.state.health.valid
            recorded = await self._record(tree, report)  # what the check saw, before any fix
            targeted = report
            if only is not None:
                targeted = replace(report, statuses=tuple(s for s in report.statuses if only(s)))
            fixed, corrections = await self.reconciler.run(
                tree, targeted, tree_valid=valid, mode=mode
            )
            reconciled = fixed if only is None else _merged(report, fixed)
            applied = [c.status.key for c in corrections if c.result is ReconcileResult.APPLIED]
            if applied:  # fixed in this cycle: those episodes close as reconciled now
                recorded = await self._record(tree, reconciled, applied)
            reconciled = _with_drift_since(reconciled, recorded)
            self._publish(reconciled)
            await self._attribute()
            return reconciled, corrections
        finally:
            if running is not None:
                self._cycles.discard(running)

    def stopping(self) -> bool:
        """Whether shutdown has begun: no new cycle, no new write."""
        return self._stopping

    async def shutdown(self, grace_seconds: float) -> None:
        """Start no new write; give a write in flight `grace_seconds` to finish and be recorded.

        Reads are simply cancelled: nothing is lost by stopping them. A cycle still writing
        when the grace period ends is cancelled too, and its intent stays unfinished in the
        audit log (the next start reports it).
        """
        self._stopping = True
        if self._checking is not None:
            self._checking.cancel()
        running = [task for task in self._cycles if not task.done()]
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=grace_seconds)
        for task in late:
            log.error(
                "a write was still running when the shutdown grace period ended; cancelled",
                extra={"grace_seconds": grace_seconds},
            )
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _record(
        self, tree: DesiredTree, report: CycleReport, applied: Sequence[ResourceKey] = ()
    ) -> Recorded | None:
        """Record a cycle in the drift history, if there is one; a failure only pauses it."""
        history = self.history
        if history is None:
            return None
        declared = [resource.key for resource in tree.resources]
        try:
            recorded = await asyncio.to_thread(
                history.record_cycle, report, applied=applied, declared=declared
            )
        except Exception as error:  # a bug: detection goes on, history misses this cycle
            log.error("drift history could not record a cycle", extra={"error": account(error)})
            return None
        self.metrics.observe_history(
            healthy=history.healthy,
            opened=[key.kind for key, spell in recorded.opened if spell in DRIFT_SPELLS],
            closed=[
                (e.key.kind, e.resolution.value, (e.closed_at or e.opened_at) - e.opened_at)
                for e in recorded.closed
                if e.resolution is not None
            ],
        )
        return recorded

    async def plan_for(self, key: ResourceKey) -> tuple[str, list[dict[str, Any]]]:
        """What `fdi-drift reconcile` would send for one resource now, as text and as JSON.

        It reads the resource live, as the command does; nothing is sent or audited.
        """
        tree, report = self.tree, self.state.report
        status = (
            None if report is None else next((s for s in report.statuses if s.key == key), None)
        )
        if tree is None or report is None or status is None:
            return "No plan: the resource was not in the last cycle.\n", []
        _, corrections = await self._planner.run(
            tree, replace(report, statuses=(status,)), mode=ReconcileMode.DRY_RUN
        )
        text = render_plan(corrections, applying=False, hints=False)
        return text, [dict(item) for item in plan_to_json(corrections)]

    async def _attribute(self) -> None:
        """Look up who made the changes of new drift episodes, within a deadline."""
        attributor, history = self.attributor, self.history
        if attributor is None or history is None or not history.healthy:
            return
        try:
            await asyncio.wait_for(attributor.run(), _ATTRIBUTION_SECONDS)
        except TimeoutError:
            log.warning(
                "looking up who changed resources took too long; the rest waits for the next cycle",
                extra={"deadline_seconds": _ATTRIBUTION_SECONDS},
            )
        except Exception as error:  # a bug: detection and history go on
            log.error("looking up who changed resources failed", extra={"error": account(error)})

    async def _accepted(self, key: ResourceKey) -> None:
        """A write to `key` was accepted: its drift episode will close as reconciled."""
        history = self.history
        if history is None:
            return
        try:
            await asyncio.to_thread(history.record_applied, key)
        except Exception as error:  # never a reason to doubt the write itself
            log.error("drift history could not record a write", extra={"error": account(error)})

    def _publish(self, report: CycleReport) -> None:
        self.metrics.observe_cycle(report)
        self.state.report = report

    def unfinished_writes(self) -> list[dict[str, object]]:
        """Audited writes whose outcome was never recorded; each is logged as an error.

        Damaged lines are skipped and counted (a metric); an audit path that is not a regular
        file raises AuditError, so the daemon refuses to start with a clear error.
        """
        scan = self.audit.scan()
        unfinished = list(scan.unfinished)
        self.metrics.observe_audit(unfinished=len(unfinished), damaged=len(scan.damaged))
        for intent in unfinished:
            log.error(
                "a write was started but its outcome never recorded; check the resource by hand",
                extra={"audit_id": intent.get("id"), "resource": intent.get("resource")},
            )
        return unfinished

    def api(self, service: str) -> ApiClient:
        """The first target's API client of a service, for callers that talk to it directly."""
        return self.fleet.api(service)

    async def aclose(self) -> None:
        """Close the API clients, what the credentials opened, and the history store."""
        await self.fleet.aclose()
        if self.history is not None:
            self.history.close()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_daemon(
    runtime: Runtime,
    *,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve metrics and run scheduled cycles until SIGTERM/SIGINT (or `stop` is set)."""
    settings = runtime.settings
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await runtime.reload()
    runtime.unfinished_writes()
    scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
    scheduler.add_job(
        _guarded(runtime.cycle, "cycle"),
        "interval",
        seconds=settings.schedule.interval_seconds,
        jitter=settings.schedule.jitter_seconds or None,
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
        id="cycle",
        name="check cycle",
    )
    scheduler.add_job(
        _guarded(runtime.reload, "desired-state reload"),
        "interval",
        seconds=settings.schedule.reload_seconds,
        coalesce=True,
        max_instances=1,
        id="reload",
        name="desired-state reload",
    )
    config = uvicorn.Config(
        create_app(runtime.state, runtime.metrics),
        host=settings.listen.host,
        port=settings.listen.port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    scheduler.start()
    try:
        while not server.started:
            if serving.done():
                await serving  # surfaces the bind error
                raise OSError(f"could not listen on {settings.listen.host}:{settings.listen.port}")
            await asyncio.sleep(0.01)
        url = f"http://{settings.listen.host}:{settings.listen.port}"
        targets = [
            {"target": target.label, "credentials": runtime.fleet.describe(target)}
            for target in runtime.fleet.targets
        ]
        log.info("listening", extra={"url": url, "targets": targets})
        if on_listening:
            on_listening(url)
        await stop.wait()
        log.info("stopping", extra={"grace_seconds": settings.schedule.shutdown_grace_seconds})
    finally:
        # Paused, not shut down: APScheduler's executor cancels running jobs on shutdown, and a
        # write in flight gets the grace period to finish and be recorded first.
        scheduler.pause()
        await runtime.shutdown(settings.schedule.shutdown_grace_seconds)
        scheduler.shutdown(wait=False)
        server.should_exit = True
        await serving
        await runtime.aclose()


def _guarded(job: Callable[[], Awaitable[object]], what: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:
            # A bug in one cycle must not kill the daemon; the next cycle tries again.
            log.exception(f"{what} failed")

    return run


def _merged(report: CycleReport, fixed: CycleReport) -> CycleReport:
    """The report with the statuses reconciling changed (of the targeted resources) put in."""
    after = {status.key: status for status in fixed.statuses}
    return replace(report, statuses=tuple(after.get(s.key, s) for s in report.statuses))


# How long a cycle spends, at most, looking up who changed resources after it is published.
_ATTRIBUTION_SECONDS = 30.0


def _with_drift_since(report: CycleReport, recorded: Recorded | None) -> CycleReport:
    """The report with each drift's age from the history store, where it has the episode."""
    if recorded is None or not recorded.drift_since:
        return report
    since = recorded.drift_since
    statuses = list(report.statuses)
    changed = False
    for index, status in enumerate(statuses):
        opened = since.get(status.key)
        if opened is not None and opened != status.drift_since:
            statuses[index] = replace(status, drift_since=opened)
            changed = True
    return replace(report, statuses=tuple(statuses)) if changed else report
