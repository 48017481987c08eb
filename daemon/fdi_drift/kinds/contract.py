"""What every managed kind provides: pure spec rules for desired state, live reads, a registration.

A kind is one module in kinds/: it defines its `KindSpec` (offline rules), its `KindDriver` (reads
and writes through the API of one `Service`), and a `Registration` tying them together, which the
registry (catalog.py) lists. Nothing outside kinds/ names a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast

from fdi_drift.cloud.client import ApiClient
from fdi_drift.cloud.endpoints import Service
from fdi_drift.drift.document import DecodedDocument
from fdi_drift.drift.ignore import IgnoreRules
from fdi_drift.drift.model import JSONObject, JSONValue, Kind
from fdi_drift.drift.overlay import Resolve, overlay
from fdi_drift.drift.secret_ref import placeholder


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """Where a resource lives: a project, and for FDI kinds an instance inside it."""

    project_id: str
    instance_id: str = ""

    def __str__(self) -> str:
        return f"{self.project_id}/{self.instance_id}" if self.instance_id else self.project_id


@dataclass(frozen=True, slots=True)
class LiveEntry:
    """One live resource as a list answer shows it.

    `version` changes whenever the resource is modified; None when the list carries no such
    marker (DRS jobs), in which case the resource is read in every cycle.
    """

    id: str
    name: str
    version: str | None


@dataclass(frozen=True, slots=True)
class LiveDocument:
    """One read of a live resource: a cheap digest now, the decoded document on demand.

    Equal digests mean nothing a desired state can declare has changed, so a verdict reached
    for one digest holds for the next read with the same digest without decoding again.
    `decode` gives everything decoded (nested JSON strings too, integers exact), with the
    original texts, for comparing, export and writes; it raises DocumentError when the
    resource's JSON is broken or nests deeper than MAX_DEPTH.
    """

    digest: str
    decode: Callable[[], DecodedDocument]


@dataclass(frozen=True, slots=True)
class Write:
    """One request of a correction: a kind's action, the exact body, and the body as shown.

    `shown` is `body` with every resolved secret replaced: it is what plans, logs and the
    audit log carry. `body` is sent and never printed. `referenced` is `body` with each
    resolved secret back as the `{secretRef: NAME/KEY}` it came from (inside JSON text too):
    what a saved plan holds, turned back into `body` by `secrets.resolved`. None when the kind
    gives no such form: a plan then saves the write only if `body` equals `shown`.
    """

    action: str
    body: JSONValue
    shown: JSONValue
    # Pointers (into the desired document) this write establishes; when set, the write is
    # verified on its own, by a read-back, before the next one is sent.
    covers: tuple[str, ...] = ()
    referenced: JSONValue | None = None


@dataclass(frozen=True, slots=True)
class Laid:
    """Declared fields over live, three ways: to send, to show, and to save in a plan."""

    sent: JSONValue  # secrets resolved
    shown: JSONValue  # resolved secrets as REDACTED
    referenced: JSONValue  # each secret as its {secretRef: NAME/KEY}; `sent` itself when none


def lay(live: JSONValue, declared: JSONValue, ignore: IgnoreRules, resolve: Resolve) -> Laid:
    """`declared` over `live` (drift/overlay.py), with the form a saved plan holds."""
    laid = overlay(live, declared, ignore, resolve)
    if not laid.secret_paths:
        return Laid(laid.sent, laid.shown, laid.sent)
    # The overlay puts whatever the resolver answers where a reference stood: here, the
    # reference itself, a mapping where the secret's string goes.
    kept = overlay(live, declared, ignore, cast(Resolve, placeholder))
    return Laid(laid.sent, laid.shown, kept.sent)


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One thing wrong with a declared spec; `pointer` is relative to the file's root."""

    pointer: str
    message: str


class KindSpec(Protocol):
    """The offline half of a kind: validation, implied fields and normalization."""

    kind: Kind
    needs_instance: bool
    default_ignore: tuple[str, ...]
    can_create: bool  # a missing resource can be created (only with policy.allow_create)
    write_options: tuple[str, ...]  # extra `policy` keys this kind's writes read

    def validate(self, name: str, spec: JSONObject) -> list[SpecProblem]:
        """Problems with a declared spec (pointers start at /spec)."""
        ...

    def desired_document(self, name: str, spec: JSONObject) -> JSONObject:
        """The document to compare with live: the spec plus implied fields, normalized."""
        ...

    def normalize_live(self, document: JSONValue) -> JSONValue:
        """Live document in the form desired documents take (e.g. enum case)."""
        ...

    def export_spec(self, document: JSONValue) -> JSONObject:
        """A desired spec that declares every writable field of a decoded live document."""
        ...

    def plan(
        self,
        desired: JSONObject,
        live: DecodedDocument | None,
        ignore: IgnoreRules,
        resolve: Resolve,
        options: Mapping[str, JSONValue],
    ) -> list[Write]:
        """The writes that make `live` hold `desired`, undeclared fields kept as live has them.

        With `live` None, the writes that create the resource (only where `can_create`).
        Raises InvalidWriteError (naming the field) when the service would refuse a request,
        SecretError when a secret reference cannot be resolved.
        """
        ...

    def unwritable(self, pointers: Sequence[str]) -> list[str]:
        """The pointers among these that no write of this kind can change."""
        ...

    def is_running(self, live: JSONValue) -> bool:
        """Whether the resource refuses updates until it is stopped."""
        ...

    def restart(self) -> tuple[Write, Write] | None:
        """The stop and start writes that let a running resource be updated, if any."""
        ...


class KindDriver(Protocol):
    """The online half of a kind: listing and reading live resources."""

    kind: Kind

    async def scopes(self, project_id: str) -> list[Scope]:
        """Every scope of this kind in the project: its instances, or the project itself."""
        ...

    async def list(self, scope: Scope) -> list[LiveEntry]:
        """Every live resource of this kind in the scope; raises rather than answer short."""
        ...

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        """One live resource."""
        ...

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        """How a write goes on the wire: "PUT /v2/.../tasks/ID"."""
        ...

    async def send(self, scope: Scope, live_id: str, write: Write) -> str | None:
        """Send one write; a write that creates answers the new id. CloudError when refused."""
        ...


T = TypeVar("T")


class Connections(Protocol):
    """What a kind's driver factory is given: each service's API client, and shared objects."""

    def api(self, service: Service) -> ApiClient:
        """The one API client of `service`."""
        ...

    def shared(self, name: str, make: Callable[[], T]) -> T:
        """The object kinds share under `name` (made by `make` on first use)."""
        ...


@dataclass(frozen=True, slots=True)
class Registration:
    """A kind as the registry lists it: its rules, the API it needs, how to build its driver."""

    spec: KindSpec
    service: Service
    driver: Callable[[Connections], KindDriver]
    # How Cloud Trace Service names this kind's resources, (service_type, resource_type), to
    # find who changed one; None when its changes are not traced.
    traced_as: tuple[str, str] | None = None
