"""Tests for the daemon's HTTP endpoints."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry

from fdi_drift.drift.model import (
    ChangeOp,
    CycleReport,
    FieldChange,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DaemonMetrics, DesiredStateHealth
from fdi_drift.server import DaemonState, create_app


def client(state: DaemonState) -> httpx.AsyncClient:
    app = create_app(state, DaemonMetrics(CollectorRegistry(), version="x"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon")


def drifted_report() -> CycleReport:
    key = ResourceKey(FDI_TASK, "p1", "i1", "orders<script>")
    change = FieldChange("/task/description", ChangeOp.CHANGED, "a", "b")
    status = ResourceStatus(
        key, Status.DRIFTED, changes=(change,), region="cn-north-4", account="acme<prod>"
    )
    return CycleReport("rev", 1.0, 2.0, (status,), True)


async def test_not_ready_until_a_cycle_finished() -> None:
    """/readyz is 503 before the first cycle, 200 after; /healthz is always 200."""
    state = DaemonState()
    async with client(state) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 503
        state.health = DesiredStateHealth(valid=True, revision="rev")
        state.report = drifted_report()
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["last_cycle"]["summary"]["drifted"] == 1


async def test_invalid_tree_shows_in_readiness_detail_without_unready() -> None:
    """A later invalid tree keeps the pod ready and lists the problems."""
    state = DaemonState(report=drifted_report())
    state.health = DesiredStateHealth(valid=False, revision="rev", error="invalid")
    state.problems = ("a.yaml:3: /kind: must be one of FdiTask",)
    async with client(state) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["desired_state"]["problems"] == ["a.yaml:3: /kind: must be one of FdiTask"]


async def test_status_page_and_json_api() -> None:
    """The status page escapes names and shows the target; the JSON API carries the changes."""
    state = DaemonState(report=drifted_report(), health=DesiredStateHealth(True, "rev"))
    async with client(state) as http:
        page = (await http.get("/")).text
        body = (await http.get("/api/v1/status")).json()
        scrape = await http.get("/metrics")
    assert "orders&lt;script&gt;" in page and "<script>" not in page
    assert "<td>acme&lt;prod&gt;/cn-north-4</td>" in page
    assert body["resources"][0]["changes"][0]["pointer"] == "/task/description"
    assert (body["resources"][0]["region"], body["resources"][0]["account"]) == (
        "cn-north-4",
        "acme<prod>",
    )
    assert scrape.headers["content-type"].startswith("text/plain")
    assert 'fdi_drift_build_info{version="x"} 1.0' in scrape.text
