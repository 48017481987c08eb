"""A new kind is one module and one line in the registry: it is then validated, listed, exported
and checked, with nothing in settings, the service or the command line naming it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.cloud.client import ApiClient
from fdi_drift.cloud.endpoints import Service
from fdi_drift.desired_state import DesiredStateLoader
from fdi_drift.drift.document import DecodedDocument
from fdi_drift.drift.ignore import IgnoreRules
from fdi_drift.drift.model import JSONObject, JSONValue, Kind, Status
from fdi_drift.drift.overlay import Resolve
from fdi_drift.emulator.app import Emulator
from fdi_drift.errors import DesiredStateError
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import (
    Connections,
    LiveDocument,
    LiveEntry,
    Registration,
    Scope,
    SpecProblem,
    Write,
)
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.service import Runtime
from tests.conftest import BASE_URL, PROJECT, settings_for

# --- the new kind: what one module in kinds/ would hold --------------------------------------

WIDGET = Kind("Widget")
WIDGETS = Service("widgets", "widgets")


class WidgetSpec:
    """Widgets have a colour, and nothing else a person may declare."""

    kind: Kind = WIDGET
    needs_instance: bool = False
    default_ignore: tuple[str, ...] = ()
    can_create: bool = False
    write_options: tuple[str, ...] = ()

    def validate(self, name: str, spec: JSONObject) -> list[SpecProblem]:
        return [
            SpecProblem(f"/spec/{key}", "unknown field (color)") for key in spec if key != "color"
        ]

    def desired_document(self, name: str, spec: JSONObject) -> JSONObject:
        return {"name": name, **spec}

    def normalize_live(self, document: JSONValue) -> JSONValue:
        return document

    def export_spec(self, document: JSONValue) -> JSONObject:
        return {"color": cast(JSONObject, document)["color"]}

    def plan(
        self,
        desired: JSONObject,
        live: DecodedDocument | None,
        ignore: IgnoreRules,
        resolve: Resolve,
        options: Mapping[str, JSONValue],
    ) -> list[Write]:
        body: JSONObject = {"color": desired["color"]}
        return [Write("update", body, body)]

    def unwritable(self, pointers: Sequence[str]) -> list[str]:
        return []

    def is_running(self, live: JSONValue) -> bool:
        return False

    def restart(self) -> tuple[Write, Write] | None:
        return None


class WidgetDriver:
    """Widgets over their own API: /v1/{project}/widgets[/{id}]."""

    kind: Kind = WIDGET

    def __init__(self, api: ApiClient) -> None:
        self._api = api

    async def scopes(self, project_id: str) -> list[Scope]:
        return [Scope(project_id)]

    async def list(self, scope: Scope) -> list[LiveEntry]:
        answer = cast(
            list[JSONObject], await self._api.request("GET", f"/v1/{scope.project_id}/widgets")
        )
        return [LiveEntry(str(w["id"]), str(w["name"]), str(w["version"])) for w in answer]

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        path = f"/v1/{scope.project_id}/widgets/{live_id}"
        widget = cast(JSONObject, await self._api.request("GET", path))
        digest = hashlib.sha256(json.dumps(widget, sort_keys=True).encode()).hexdigest()
        return LiveDocument(digest, lambda: DecodedDocument(widget, {}))

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        return f"PUT /v1/{scope.project_id}/widgets/{live_id}"

    async def send(self, scope: Scope, live_id: str, write: Write) -> str | None:
        await self._api.request("PUT", f"/v1/{scope.project_id}/widgets/{live_id}", json=write.body)
        return None


def _driver(connections: Connections) -> WidgetDriver:
    return WidgetDriver(connections.api(WIDGETS))


REGISTRATION = Registration(spec=WidgetSpec(), service=WIDGETS, driver=_driver)

# --- the widget service, and a transport that reaches it beside the emulator ------------------

WIDGET_HOST = "widgets.test"


class WidgetCloud:
    """The widget API, in memory."""

    def __init__(self) -> None:
        self.widgets: dict[str, dict[str, Any]] = {
            "w1": {"id": "w1", "name": "blue-widget", "color": "blue", "version": 1}
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if parts[2:] == [] or parts[-1] == "widgets":
            return httpx.Response(200, json=list(self.widgets.values()))
        widget = self.widgets[parts[-1]]
        if request.method == "PUT":
            widget.update(json.loads(request.content), version=widget["version"] + 1)
        return httpx.Response(200, json=widget)


class ByHost(httpx.AsyncBaseTransport):
    """Requests for the widget host go to the widget API, all others to the emulator."""

    def __init__(self, widgets: WidgetCloud, emulator: Emulator) -> None:
        self._widgets = httpx.MockTransport(widgets)
        self._emulator = httpx.ASGITransport(app=emulator)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == WIDGET_HOST:
            return await self._widgets.handle_async_request(request)
        return await self._emulator.handle_async_request(request)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The one line in the registry."""
    monkeypatch.setattr(catalog, "REGISTRY", (*catalog.REGISTRY, REGISTRATION))
    yield


def runtime(desired: Path, emulator: Emulator, widgets: WidgetCloud) -> Runtime:
    endpoints = {
        "fdi": BASE_URL,
        "drs": BASE_URL,
        "iam": BASE_URL,
        "widgets": f"http://{WIDGET_HOST}",
    }
    return Runtime(
        settings_for(desired, endpoints=endpoints, reconcile={"mode": "auto"}),
        transport=ByHost(widgets, emulator),
        metrics=DaemonMetrics(CollectorRegistry(), version="t", kinds=catalog.specs()),
    )


async def test_a_kind_added_in_kinds_alone_is_listed_exported_and_checked(
    registered: None, emulator: Emulator, desired_dir: Path
) -> None:
    """Validation knows it, metrics list it, export writes it, check judges it, auto fixes it."""
    widgets = WidgetCloud()
    daemon = runtime(desired_dir, emulator, widgets)
    # Listed: validation names it among the kinds, the metrics carry it from the start.
    (desired_dir / "typo.yaml").write_text("apiVersion: fdi-drift/v1\nkind: Gadget\n")
    with pytest.raises(DesiredStateError) as refused:
        DesiredStateLoader(desired_dir).load()
    assert (
        "/kind: must be one of FdiTask, FdiCompositeTask, DrsJob, Widget"
        in refused.value.problems[0]
    )
    (desired_dir / "typo.yaml").unlink()
    registry = daemon.metrics.registry
    assert (
        registry.get_sample_value(
            "fdi_drift_reconcile_total", {"kind": "Widget", "result": "applied"}
        )
        == 0.0
    )
    # Exported: a project's export covers widgets, and writes a file that validates.
    targets = catalog.export_targets(PROJECT)
    assert (WIDGET, Scope(PROJECT)) in targets
    (written,) = await export_resources(
        daemon.drivers, daemon.specs, [(WIDGET, Scope(PROJECT))], desired_dir
    )
    assert written.kind == WIDGET and "color: blue" in written.path.read_text()
    # Checked: in sync, then a hand edit is drift, which auto mode puts back.
    await daemon.reload(strict=True)
    report = await daemon.check()
    assert report is not None
    (status,) = [s for s in report.statuses if s.key.kind == WIDGET]
    assert status.status is Status.IN_SYNC
    widgets.widgets["w1"].update(color="red", version=2)
    outcome = await daemon.cycle()
    assert outcome is not None
    (correction,) = outcome[1]
    assert correction.status.key.kind == WIDGET and correction.result.value == "applied"
    assert widgets.widgets["w1"]["color"] == "blue"
    await daemon.aclose()
