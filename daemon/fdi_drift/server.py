"""The daemon's HTTP face: /metrics, /healthz, /readyz, a status page and a JSON API."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from fdi_drift.drift.model import CycleReport, Status
from fdi_drift.drift.report import report_to_json
from fdi_drift.metrics import DaemonMetrics, DesiredStateHealth


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the daemon's HTTP face listens (all interfaces by default: it runs in a pod)."""

    host: str = "0.0.0.0"  # noqa: S104 - a daemon in a pod listens on all interfaces
    port: int = 9108


@dataclass(slots=True)
class DaemonState:
    """What the daemon knows now; written by the service, read by every request."""

    health: DesiredStateHealth | None = None
    report: CycleReport | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)


def create_app(state: DaemonState, metrics: DaemonMetrics) -> Starlette:
    """The ASGI app serving the daemon's endpoints."""

    async def scrape(request: Request) -> Response:
        # The per-resource series were rendered when the last cycle was published.
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return Response("ok\n", media_type="text/plain")

    async def readyz(request: Request) -> Response:
        # Ready once a desired tree is in force and one cycle has finished. A later invalid tree
        # does not make the pod unready (Prometheus would stop scraping the very alert about it);
        # it shows in the detail instead.
        detail = _readiness(state)
        ready = state.report is not None  # a report exists only once a tree was in force
        return JSONResponse(detail, status_code=200 if ready else 503)

    async def status_json(request: Request) -> Response:
        body = report_to_json(state.report) if state.report else {"resources": []}
        return JSONResponse({**body, "desired_state": _readiness(state)["desired_state"]})

    async def status_page(request: Request) -> Response:
        return HTMLResponse(_page(state))

    return Starlette(
        routes=[
            Route("/metrics", scrape),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/api/v1/status", status_json),
            Route("/", status_page),
        ]
    )


def _readiness(state: DaemonState) -> dict[str, object]:
    health = state.health
    return {
        "desired_state": {
            "valid": health.valid if health else None,
            "revision": health.revision if health else None,
            "error": health.error if health else "not loaded yet",
            "problems": list(state.problems),
        },
        "last_cycle": None
        if state.report is None
        else {
            "finished_at": state.report.finished_at,
            "complete": state.report.complete,
            "summary": {s.value: state.report.count(s) for s in Status},
        },
    }


def _page(state: DaemonState) -> str:
    rows = []
    report = state.report
    for item in report.statuses if report else ():
        if item.status is Status.UNMANAGED:
            continue
        key = item.key
        pointers = "<br>".join(html.escape(c.pointer) for c in item.changes)
        target = "/".join(part for part in (item.account, item.region) if part)
        rows.append(
            "<tr>"
            f"<td>{html.escape(key.kind)}</td><td>{html.escape(key.name)}</td>"
            f"<td>{html.escape(target)}</td>"
            f"<td>{html.escape(key.project_id)}/{html.escape(key.instance_id)}</td>"
            f"<td class={item.status.value}>{item.status.value}</td>"
            f"<td>{html.escape(item.reason)}{pointers}</td></tr>"
        )
    health = state.health
    revision = html.escape(health.revision if health else "not loaded")
    warning = ""
    if health and not health.valid:
        warning = f"<p class=unknown>Desired state invalid: {html.escape(health.error)}</p>"
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>fdi-drift</title><style>"
        "body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left}"
        ".drifted,.missing,.blocked{color:#b00}.unknown,.invalid{color:#a60}.in_sync{color:#070}"
        "</style></head><body><h1>fdi-drift</h1>"
        f"<p>Desired state revision <code>{revision}</code></p>{warning}"
        "<table><tr><th>kind</th><th>name</th><th>target</th><th>scope</th><th>status</th>"
        "<th>detail</th></tr>"
        + "".join(rows)
        + "</table><p><a href=/metrics>metrics</a> · <a href=/api/v1/status>JSON</a></p>"
        "</body></html>"
    )
