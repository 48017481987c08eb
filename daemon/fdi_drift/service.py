"""Composition root and lifecycle: builds everything from settings, schedules, stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

import httpx
import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from fdi_drift.cloud.auth import FileToken, StaticToken, TokenAuth, TokenSource
from fdi_drift.cloud.client import ApiClient, ResponseObserver, RetryPolicy
from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.cloud.iam import IamPasswordToken
from fdi_drift.desired_state import DesiredStateLoader, DesiredTree
from fdi_drift.drift.model import CycleReport, Kind
from fdi_drift.engine import Engine
from fdi_drift.errors import AuthError, DesiredStateError
from fdi_drift.kinds.catalog import SPECS, build_drivers
from fdi_drift.kinds.contract import KindDriver
from fdi_drift.metrics import DaemonMetrics, DesiredStateHealth
from fdi_drift.server import DaemonState, create_app
from fdi_drift.settings import (
    AuthSettings,
    IamPasswordAuth,
    Settings,
    TokenEnvAuth,
    TokenFileAuth,
)

log = logging.getLogger(__name__)


def package_version() -> str:
    """The installed distribution's version."""
    try:
        return version("fdi-drift")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class _UnsetEnvToken:
    """Stands in for a token variable that is not set, so every request says so."""

    def __init__(self, variable: str) -> None:
        self._variable = variable

    async def get(self) -> str:
        raise AuthError(f"environment variable {self._variable} is not set")

    async def invalidate(self, token: str) -> None:
        return None

    def describe(self) -> str:
        return f"token from environment variable {self._variable}"


def token_source(
    auth: AuthSettings,
    *,
    iam_url: str,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
    verify: bool | str,
) -> TokenSource:
    """The credential source the configuration names."""
    if isinstance(auth, TokenFileAuth):
        return FileToken(auth.path)
    if isinstance(auth, TokenEnvAuth):
        if auth.value is None:
            return _UnsetEnvToken(auth.variable)
        return StaticToken(auth.value, auth.describe())
    assert isinstance(auth, IamPasswordAuth)
    password_file = auth.password_file

    def password() -> str:
        try:
            return password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise AuthError(
                f"cannot read password file {password_file}: {error.strerror}"
            ) from None

    return IamPasswordToken(
        iam_url=iam_url,
        domain=auth.domain,
        user=auth.user,
        password=password,
        project_id=auth.project_id,
        transport=transport,
        timeout=timeout,
        verify=verify,
    )


class Runtime:
    """Everything one process needs to check: clients, drivers, engine, loader, metrics."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: DaemonMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or DaemonMetrics(version=package_version())
        verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else True
        source = token_source(
            settings.auth,
            iam_url=settings.endpoints.iam,
            transport=transport,
            timeout=settings.request_timeout_seconds,
            verify=verify,
        )
        observer: ResponseObserver = self.metrics.observe_request
        self._fdi_api = ApiClient(
            service="fdi",
            base_url=settings.endpoints.fdi,
            auth=TokenAuth(source),
            transport=transport,
            timeout=settings.request_timeout_seconds,
            retry=RetryPolicy(
                attempts=settings.retry_attempts, base_delay=settings.retry_base_delay_seconds
            ),
            rate_limit_per_second=settings.rate_limit_per_second,
            observer=observer,
            user_agent=f"fdi-drift/{package_version()}",
            verify=verify,
        )
        self._token_source = source
        self.credentials = source.describe()
        self.fdi = FdiClient(self._fdi_api)
        self.drivers: dict[Kind, KindDriver] = build_drivers(self.fdi)
        self.engine = Engine(
            self.drivers,
            SPECS,
            concurrency=settings.concurrency,
            full_sweep_every=settings.full_sweep_every,
            clock=clock,
        )
        self.loader = DesiredStateLoader(settings.desired_state)
        self.state = DaemonState()
        self.tree: DesiredTree | None = None

    async def reload(self) -> DesiredTree | None:
        """Load the desired tree; an invalid one is reported and the last good one stays."""
        try:
            tree = await asyncio.to_thread(self.loader.load)
        except DesiredStateError as error:
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
        self.tree = tree
        health = DesiredStateHealth(valid=True, revision=tree.revision)
        self.state.health, self.state.problems = health, ()
        self.metrics.observe_desired_state(health)
        return tree

    async def check(self) -> CycleReport | None:
        """One cycle over the tree in force (None when no valid tree was ever loaded)."""
        if self.tree is None:
            log.warning("no valid desired state yet; skipping the cycle")
            return None
        report = await self.engine.run_cycle(self.tree)
        self.metrics.observe_cycle(report)
        self.state.report = report
        return report

    async def aclose(self) -> None:
        await self._fdi_api.aclose()
        if isinstance(self._token_source, IamPasswordToken):
            await self._token_source.aclose()


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
    scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
    scheduler.add_job(
        _guarded(runtime.check, "cycle"),
        "interval",
        seconds=settings.interval_seconds,
        jitter=settings.jitter_seconds or None,
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
        id="cycle",
    )
    scheduler.add_job(
        _guarded(runtime.reload, "desired-state reload"),
        "interval",
        seconds=settings.reload_seconds,
        coalesce=True,
        max_instances=1,
        id="reload",
    )
    config = uvicorn.Config(
        create_app(runtime.state, runtime.metrics),
        host=settings.listen_host,
        port=settings.listen_port,
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
                raise OSError(f"could not listen on {settings.listen_host}:{settings.listen_port}")
            await asyncio.sleep(0.01)
        url = f"http://{settings.listen_host}:{settings.listen_port}"
        log.info("listening", extra={"url": url, "credentials": runtime.credentials})
        if on_listening:
            on_listening(url)
        await stop.wait()
        log.info("stopping")
    finally:
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
