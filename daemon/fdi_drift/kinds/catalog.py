"""The registry of managed kinds: each kind module's registration, and what follows from them.

Adding a kind is one module in kinds/ (its spec, driver and `REGISTRATION`) and one line in
`REGISTRY`. Everything else asks here: which kinds exist and their rules (validation, export,
metrics), which cloud services the daemon needs clients for, how to build the drivers over
them, and which kinds an export scope covers. Nothing outside kinds/ names a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from fdi_drift.cloud.client import ApiClient
from fdi_drift.cloud.endpoints import Service
from fdi_drift.drift.model import Kind
from fdi_drift.errors import ConfigError
from fdi_drift.kinds import drs_job, fdi_composite_task, fdi_task
from fdi_drift.kinds.contract import KindDriver, KindSpec, Registration, Scope

REGISTRY: tuple[Registration, ...] = (
    fdi_task.REGISTRATION,
    fdi_composite_task.REGISTRATION,
    drs_job.REGISTRATION,
)

T = TypeVar("T")


def specs() -> dict[Kind, KindSpec]:
    """Every managed kind's offline rules, by kind."""
    return {registration.spec.kind: registration.spec for registration in REGISTRY}


def services() -> tuple[Service, ...]:
    """The cloud services the managed kinds talk to, each once, in registry order."""
    return tuple(dict.fromkeys(registration.service for registration in REGISTRY))


def traced_as() -> dict[Kind, tuple[str, str]]:
    """How Cloud Trace Service names each traced kind's resources: (service_type, resource_type)."""
    return {r.spec.kind: r.traced_as for r in REGISTRY if r.traced_as is not None}


class _Connections:
    """The API clients of one set of drivers, and what their kinds share over them."""

    def __init__(self, apis: Mapping[str, ApiClient]) -> None:
        self._apis = apis
        self._shared: dict[str, Any] = {}

    def api(self, service: Service) -> ApiClient:
        return self._apis[service.name]

    def shared(self, name: str, make: Callable[[], T]) -> T:
        if name not in self._shared:
            self._shared[name] = make()
        return cast(T, self._shared[name])


def build_drivers(apis: Mapping[str, ApiClient]) -> dict[Kind, KindDriver]:
    """One driver per managed kind, over the API clients (by service name) given."""
    connections = _Connections(apis)
    return {r.spec.kind: r.driver(connections) for r in REGISTRY}


def export_targets(text: str) -> list[tuple[Kind, Scope]]:
    """The kinds and scope an export's `--scope` names.

    PROJECT_ID/INSTANCE_ID covers the kinds that live in an instance; PROJECT_ID alone, every
    kind, those that live in instances in each instance of the project (export lists them).
    """
    project, _, instance = text.partition("/")
    if not project or "/" in instance or text.endswith("/"):
        raise ConfigError(f"--scope {text!r}: expected PROJECT_ID/INSTANCE_ID or PROJECT_ID")
    scope = Scope(project, instance)
    return (
        [(kind, scope) for kind in living_in(scope)]
        if instance
        else [(kind, scope) for kind in specs()]
    )


def living_in(scope: Scope) -> list[Kind]:
    """The kinds whose resources live in scopes like this one: an instance, or a project."""
    return [
        kind for kind, spec in specs().items() if spec.needs_instance == bool(scope.instance_id)
    ]
