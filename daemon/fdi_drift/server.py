"""The daemon's HTTP face: /metrics, /healthz, /readyz, the status pages and their JSON twins.

Each page's data comes from one view in status_views.py: the page renders it through a
template, its twin under /api/v1/ returns it as it is, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from fdi_drift.drift.model import Status
from fdi_drift.drift.report import report_to_json
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.status_views import (
    DEFAULT_REFRESH_SECONDS,
    BadQuery,
    DaemonState,
    Filters,
    compact,
    desired_state_of,
    history_view,
    overview,
    parse_resource_path,
    refresh_seconds,
    resource_view,
)
from fdi_drift.times import age

_SHOWN_VALUE_CHARS = 80
# Nothing on a page runs script or loads anything from elsewhere, even if escaping failed.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the daemon's HTTP face listens (all interfaces by default: it runs in a pod)."""

    host: str = "0.0.0.0"  # noqa: S104 - a daemon in a pod listens on all interfaces
    port: int = 9108


def _link(path: str, params: Mapping[str, object], **changes: object) -> str:
    """`path` with the query `params` updated by `changes`, empty values left out."""
    merged = {**params, **changes}
    query = urlencode({k: v for k, v in merged.items() if v not in ("", None)})
    return f"{path}?{query}" if query else path


_TEMPLATES = Environment(
    loader=PackageLoader("fdi_drift", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters.update(compact=compact, duration=age)
_TEMPLATES.globals.update(
    link=_link, shown_chars=_SHOWN_VALUE_CHARS, default_refresh=DEFAULT_REFRESH_SECONDS
)


def _render(template: str, data: Mapping[str, Any], status_code: int = 200) -> HTMLResponse:
    text = _TEMPLATES.get_template(template).render(data=data)
    return HTMLResponse(text, status_code=status_code, headers=_PAGE_HEADERS)


def _where(request: Request) -> tuple[str, str, str, str]:
    """The resource a /resources/ or /api/v1/resources/ address names; LookupError if none.

    Read from the raw path: a "%2F" in a name must not split it.
    """
    raw = request.scope.get("raw_path")
    text = raw.decode("latin-1") if raw else quote(request.scope["path"])
    where = parse_resource_path(text.split("?", 1)[0].partition("/resources/")[2])
    if where is None:
        raise LookupError(text)
    return where


View = Callable[[Request], Awaitable[dict[str, Any]]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _api(view: View) -> Endpoint:
    """The JSON of what `view` returns: 400 for a query it cannot use (BadQuery), 404 for an
    address that names nothing (LookupError)."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await view(request))
        except BadQuery as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except LookupError:
            return JSONResponse({"error": _NOT_FOUND}, status_code=404)

    return endpoint


def _page(view: View, template: str) -> Endpoint:
    """What `view` returns rendered through `template`; errors as in `_api`, as pages."""

    async def endpoint(request: Request) -> Response:
        try:
            return _render(template, await view(request))
        except BadQuery as error:
            return _render("error.html", {"title": "Bad request", "message": str(error)}, 400)
        except LookupError:
            return _render("error.html", {"title": "Not found", "message": _NOT_FOUND}, 404)

    return endpoint


_NOT_FOUND = "No resource at this address in the last cycle."


def create_app(state: DaemonState, metrics: DaemonMetrics) -> Starlette:
    """The ASGI app serving the daemon's endpoints."""
    stylesheet = (files("fdi_drift") / "templates" / "static" / "style.css").read_bytes()

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

    async def style(request: Request) -> Response:
        return Response(stylesheet, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    async def overview_of(request: Request) -> dict[str, Any]:
        query = request.query_params
        return await overview(state, Filters.parse(query), refresh_seconds(query))

    async def status_of(request: Request) -> dict[str, Any]:
        # The body it always had (the last report, shaped as `check --output json`), and beside
        # it what the overview shows.
        body = report_to_json(state.report) if state.report else {"resources": []}
        return {
            **body,
            "desired_state": desired_state_of(state),
            "overview": await overview_of(request),
        }

    async def resource_of(request: Request) -> dict[str, Any]:
        return await resource_view(state, _where(request))

    async def history_of(request: Request) -> dict[str, Any]:
        return await history_view(state, Filters.parse(request.query_params))

    return Starlette(
        routes=[
            Route("/metrics", scrape),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/static/style.css", style),
            # Each page and its JSON twin share one view: they cannot disagree.
            Route("/", _page(overview_of, "overview.html")),
            Route("/api/v1/status", _api(status_of)),
            Route("/resources/{where:path}", _page(resource_of, "resource.html")),
            Route("/api/v1/resources/{where:path}", _api(resource_of)),
            Route("/history", _page(history_of, "history.html")),
            Route("/api/v1/history", _api(history_of)),
        ]
    )


def _readiness(state: DaemonState) -> dict[str, object]:
    history = state.history
    return {
        "desired_state": desired_state_of(state),
        # A paused history is news, not unreadiness: detection goes on without it.
        "history": None
        if history is None
        else {
            "path": str(history.path),
            "healthy": history.healthy,
            "error": history.error or None,
        },
        "last_cycle": None
        if state.report is None
        else {
            "finished_at": state.report.finished_at,
            "complete": state.report.complete,
            "summary": {s.value: state.report.count(s) for s in Status},
        },
    }
