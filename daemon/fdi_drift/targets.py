"""The targets one daemon watches: each an (account, region, projects) with its own credentials.

A target has its own credentials, its own endpoints and, since each gets its own API clients, its
own connection pools and rate limits per service. A resource belongs to the target that names its
project, or else to the one target that names none (which serves every other project; the
single-target form of the configuration is such a target). The drivers the engine, the
reconciler and export use are `RoutedDriver`s: each call goes to the resource's target, so a
target whose credentials or endpoint fail fails only its own resources, and a project no target
serves fails with an error that says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from fdi_drift.cloud.client import ApiClient, ClientPolicy, ResponseObserver
from fdi_drift.cloud.cts import SERVICE as CTS
from fdi_drift.cloud.cts import CtsClient
from fdi_drift.cloud.endpoints import Endpoints
from fdi_drift.cloud.iam import SERVICE as IAM
from fdi_drift.credentials import AuthConfig, Credentials
from fdi_drift.drift.model import Kind, Placement
from fdi_drift.errors import ConfigError, UnservedProjectError
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import KindDriver, LiveDocument, LiveEntry, Scope, Write


@dataclass(frozen=True, slots=True)
class Target:
    """One account and region the daemon watches, and the projects it serves there.

    `account` is an alias people know the account by: shown in reports, metrics and logs, never
    sent. `projects` empty means every project no other target names.
    """

    region: str
    endpoints: Endpoints
    auth: AuthConfig
    account: str = ""
    projects: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How messages name the target: account/region, or the region alone."""
        return f"{self.account}/{self.region}" if self.account else self.region

    @property
    def serves_the_rest(self) -> bool:
        return not self.projects


@dataclass(slots=True)
class _Connected:
    target: Target
    credentials: Credentials
    apis: dict[str, ApiClient]
    drivers: dict[Kind, KindDriver]


class Fleet:
    """Every target's credentials, API clients and drivers, and which target serves a project."""

    def __init__(
        self,
        targets: tuple[Target, ...],
        *,
        policy: ClientPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Callable[[Target], ResponseObserver | None] = lambda target: None,
        user_agent: str = "fdi-drift",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not targets:
            raise ConfigError("no target is configured")
        self._connected: list[_Connected] = []
        self._by_project: dict[str, _Connected] = {}
        self._rest: _Connected | None = None
        for number, target in enumerate(targets):
            try:
                credentials = Credentials(
                    target.auth,
                    iam_url=target.endpoints[IAM.name],
                    policy=policy,
                    transport=transport,
                    clock=clock,
                )
            except ConfigError as error:
                where = f"target {target.label}" if len(targets) > 1 else "auth"
                raise ConfigError(f"{where}: {error}") from error
            apis = {
                service.name: ApiClient(
                    service=service.name,
                    base_url=target.endpoints[service.name],
                    auth=credentials.auth(),
                    transport=transport,
                    policy=policy,
                    observer=observer(target),
                    user_agent=user_agent,
                )
                for service in (*catalog.services(), CTS)
            }
            connected = _Connected(target, credentials, apis, catalog.build_drivers(apis))
            self._connected.append(connected)
            for project in target.projects:
                if project in self._by_project:
                    raise ConfigError(f"targets[{number}]: project {project} has two targets")
                self._by_project[project] = connected
            if target.serves_the_rest:
                if self._rest is not None:
                    raise ConfigError(f"targets[{number}]: only one target may leave out projects")
                self._rest = connected
        self.drivers: dict[Kind, KindDriver] = {
            kind: RoutedDriver(kind, self._drivers_for) for kind in catalog.specs()
        }

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(connected.target for connected in self._connected)

    def target_of(self, project_id: str) -> Target | None:
        """The target that serves the project, if any."""
        connected = self._serving(project_id)
        return connected.target if connected else None

    def placement(self, project_id: str) -> Placement:
        """The region and account alias of the project's target (empty when none serves it)."""
        target = self.target_of(project_id)
        return Placement(target.region, target.account) if target else Placement()

    def api(self, service: str, target: Target | None = None) -> ApiClient:
        """A target's API client of a service (by name); the first target's by default."""
        return self._connected_to(target).apis[service]

    def traces(self, project_id: str) -> CtsClient | None:
        """The Cloud Trace Service client of the project's target (None when none serves it)."""
        connected = self._serving(project_id)
        return None if connected is None else CtsClient(connected.apis[CTS.name])

    def describe(self, target: Target | None = None) -> str:
        """A target's credentials, for people (never a secret); the first target's by default."""
        return self._connected_to(target).credentials.describe()

    async def aclose(self) -> None:
        """Close every API client and IAM login client."""
        for connected in self._connected:
            for api in connected.apis.values():
                await api.aclose()
            await connected.credentials.aclose()

    def _connected_to(self, target: Target | None) -> _Connected:
        if target is None:
            return self._connected[0]
        return next(c for c in self._connected if c.target is target)

    def _serving(self, project_id: str) -> _Connected | None:
        return self._by_project.get(project_id, self._rest)

    def _drivers_for(self, project_id: str) -> Mapping[Kind, KindDriver]:
        connected = self._serving(project_id)
        if connected is None:
            served = ", ".join(sorted(self._by_project))
            raise UnservedProjectError(
                f"no configured target serves project {project_id} (targets serve {served})"
            )
        return connected.drivers


class RoutedDriver:
    """A kind's driver that sends each call to the driver of the scope's target."""

    def __init__(self, kind: Kind, drivers_for: Callable[[str], Mapping[Kind, KindDriver]]):
        self.kind = kind
        self._drivers_for = drivers_for

    def _driver(self, project_id: str) -> KindDriver:
        return self._drivers_for(project_id)[self.kind]

    async def scopes(self, project_id: str) -> list[Scope]:
        return await self._driver(project_id).scopes(project_id)

    async def list(self, scope: Scope) -> list[LiveEntry]:
        return await self._driver(scope.project_id).list(scope)

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        return await self._driver(scope.project_id).read(scope, live_id)

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        return self._driver(scope.project_id).request_line(scope, live_id, write)

    async def send(self, scope: Scope, live_id: str, write: Write) -> str | None:
        return await self._driver(scope.project_id).send(scope, live_id, write)
