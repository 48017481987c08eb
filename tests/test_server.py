"""Tests for the daemon's HTTP endpoints: probes, the status pages and their JSON twins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.drift.model import (
    BlockReason,
    ChangeOp,
    CycleReport,
    FieldChange,
    Kind,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.errors import AuditError
from fdi_drift.history import History
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DaemonMetrics, DesiredStateHealth
from fdi_drift.server import create_app
from fdi_drift.status_views import DaemonState, parse_resource_path, resource_path
from tests.browser import site
from tests.browser.site import (
    BILLING,
    DRS,
    HOSTILE_ERROR,
    HOSTILE_PROBLEM,
    HOSTILE_REASON,
    HOSTILE_REVISION,
    HOSTILE_USER,
    HOSTILE_VALUE,
    NODES,
    NOW,
    ORDERS,
    OTHER_PROJECT,
    PUT_LINE,
    SECRET_BODY,
    STRAY,
)


def client(state: DaemonState) -> httpx.AsyncClient:
    app = create_app(state, DaemonMetrics(CollectorRegistry(), version="x"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon")


@pytest.fixture
async def full(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the browser tests' state: history, audit log, plans and hostile text."""
    state = site.daemon_state(tmp_path)
    async with client(state) as http:
        yield http
    assert state.history is not None
    state.history.close()


class _Text(HTMLParser):
    """The text inside each element that has a given class, as a browser would join it."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.found: list[str] = []
        self._depth: list[int] = []  # open wanted elements, by nesting level
        self._level = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "meta", "link", "input"):
            return
        self._level += 1
        classes = (dict(attrs).get("class") or "").split()
        if self.wanted in classes and not self._depth:
            self._depth.append(self._level)
            self.found.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "meta", "link", "input"):
            return
        if self._depth and self._depth[-1] == self._level:
            self._depth.pop()
            self.found[-1] = " ".join(self.found[-1].split())
        self._level -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.found[-1] += data


def texts(page: str, wanted: str) -> list[str]:
    """The text of every element of class `wanted` in `page`, whitespace collapsed."""
    parser = _Text(wanted)
    parser.feed(page)
    return parser.found


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


async def test_a_paused_history_shows_in_readiness_detail_without_unready(
    tmp_path: Path,
) -> None:
    """The store's failure is in /readyz (and detection, and readiness, go on)."""
    state = DaemonState(report=drifted_report())
    async with client(state) as http:
        assert (await http.get("/readyz")).json()["history"] is None  # none configured
    broken = tmp_path / "no-such-folder" / "history.db"
    state.history = History(broken)
    async with client(state) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    detail = ready.json()["history"]
    assert (detail["path"], detail["healthy"]) == (str(broken), False)
    assert str(broken) in detail["error"]


async def test_status_page_and_json_api() -> None:
    """The status page escapes names and shows the target; the JSON API keeps its fields."""
    state = DaemonState(report=drifted_report(), health=DesiredStateHealth(True, "rev"))
    async with client(state) as http:
        page = (await http.get("/")).text
        body = (await http.get("/api/v1/status")).json()
        scrape = await http.get("/metrics")
    assert "orders&lt;script&gt;" in page and "<script>" not in page
    assert texts(page, "target") == ["acme<prod>/cn-north-4"]
    assert (body["revision"], body["started_at"], body["finished_at"]) == ("rev", 1.0, 2.0)
    assert body["summary"]["drifted"] == 1 and body["desired_state"]["revision"] == "rev"
    assert body["resources"][0]["changes"][0]["pointer"] == "/task/description"
    assert (body["resources"][0]["region"], body["resources"][0]["account"]) == (
        "cn-north-4",
        "acme<prod>",
    )
    assert body["overview"]["last_cycle"]["finished_at"] == "1970-01-01T00:00:02Z"
    assert scrape.headers["content-type"].startswith("text/plain")
    assert 'fdi_drift_build_info{version="x"} 1.0' in scrape.text


async def test_a_block_reason_and_the_field_pointers_are_apart() -> None:
    """A blocked resource's reason has its own cell; its fields are listed beside their values."""
    key = ResourceKey(FDI_TASK, "p1", "i1", "orders")
    change = FieldChange("/task/x", ChangeOp.CHANGED, desired=1, live=2)
    blocked = ResourceStatus(
        key, Status.BLOCKED, reason="running", changes=(change,), block=BlockReason.RUNNING
    )
    state = DaemonState(report=CycleReport("rev", 1.0, 2.0, (blocked,), True))
    async with client(state) as http:
        page = (await http.get("/")).text
    assert texts(page, "reason") == ["running"]
    assert texts(page, "pointer") == ["/task/x"]
    assert (texts(page, "live"), texts(page, "desired")) == (["2"], ["1"])
    assert "running/task/x" not in " ".join(page.split())


async def test_overview_counts_ages_attribution_and_values(full: httpx.AsyncClient) -> None:
    """The overview's twin carries counts, RFC 3339 times, ages, authors and both values."""
    overview = (await full.get("/api/v1/status")).json()["overview"]
    assert overview["counts"]["by_status"] == {
        "in_sync": 1,
        "drifted": 2,
        "missing": 0,
        "unmanaged": 1,
        "unknown": 1,
        "invalid": 0,
        "blocked": 1,
    }
    assert overview["counts"]["by_kind"]["FdiTask"]["drifted"] == 2
    assert overview["last_cycle"]["finished_at"] == "2025-06-15T15:05:58Z"
    assert overview["last_cycle"]["age_seconds"] == 42
    assert overview["desired_state"]["problems"] == [HOSTILE_PROBLEM]
    rows = {row["name"]: row for row in overview["resources"]}
    orders = rows[ORDERS.name]
    assert orders["changed_by"]["user"] == "alice" and orders["attribution"] == "found"
    assert (orders["drift_since"], orders["drift_age_seconds"]) == ("2025-06-15T14:36:40Z", 1800)
    assert orders["changes"][0] == {
        "pointer": "/task/description",
        "op": "changed",
        "live": HOSTILE_VALUE,
        "desired": "Orders into reporting",
    }
    # The store's open episode dates the drift, not the report's own drift_since.
    assert rows[BILLING.name]["drift_age_seconds"] == 300
    assert rows[BILLING.name]["attribution"] == "pending"


async def test_pages_show_what_their_json_twins_hold(full: httpx.AsyncClient) -> None:
    """The overview, a resource page and the history page list what their twins list."""
    overview = (await full.get("/api/v1/status?refresh=0")).json()["overview"]
    page = (await full.get("/?refresh=0")).text
    assert texts(page, "name") == [row["name"] for row in overview["resources"]]
    assert texts(page, "age") == ["42 s ago"]
    assert texts(page, "drift-age")[:2] == ["5 min", "30 min"]  # billing, then orders

    path = resource_path(ORDERS)
    twin = (await full.get(f"/api/v1/resources/{path}")).json()
    page = (await full.get(f"/resources/{path}")).text
    assert texts(page, "opened") == [e["opened_at"] for e in twin["episodes"]]
    assert texts(page, "requests") == [" ".join(w["requests"]) for w in twin["audit"]["writes"]]
    assert texts(page, "requests") == [PUT_LINE, PUT_LINE]
    assert texts(page, "result") == ["no outcome recorded", "applied"]
    assert twin["plan"]["text"] in page and twin["plan"]["json"][0]["result"] == "planned"
    assert twin["resource"]["desired_file"] == "/srv/desired/orders-mysql-to-mysql.yaml"
    assert SECRET_BODY not in page and SECRET_BODY not in str(twin)

    history = (await full.get("/api/v1/history")).json()
    page = (await full.get("/history")).text
    assert texts(page, "opened") == [e["opened_at"] for e in history["episodes"]]
    assert len(history["episodes"]) == 7


async def test_filters_select_rows_and_unmanaged_only_on_request(full: httpx.AsyncClient) -> None:
    """kind, status, project and instance narrow the rows; bad values are a 400."""

    async def names(query: str) -> list[str]:
        answer = await full.get(f"/api/v1/status?{query}")
        page = (await full.get(f"/?{query}")).text
        found: list[str] = [row["name"] for row in answer.json()["overview"]["resources"]]
        assert texts(page, "name") == found
        return found

    assert STRAY.name not in await names("")
    assert await names("status=unmanaged") == [STRAY.name]
    assert await names("kind=DrsJob") == [DRS.name]
    assert await names(f"project={OTHER_PROJECT}") == [BILLING.name]
    assert await names(f"instance={ORDERS.instance_id}&status=blocked") == [NODES.name]
    assert await names("kind=Nothing") == []
    for bad in ("status=sideways", "refresh=soon", "refresh=-1"):
        assert (await full.get(f"/api/v1/status?{bad}")).status_code == 400
        refused = await full.get(f"/?{bad}")
        assert refused.status_code == 400 and texts(refused.text, "error")


async def test_history_filters_by_spell_since_and_current_status(full: httpx.AsyncClient) -> None:
    """?spell=, ?since= (a duration) and the resource filters narrow the episodes."""

    async def episodes(query: str) -> list[tuple[str, str]]:
        body = (await full.get(f"/api/v1/history?{query}")).json()
        return [(e["name"], e["spell"]) for e in body["episodes"]]

    assert await episodes("spell=blocked") == [(NODES.name, "blocked")]
    # Ended before the last hour: ORDERS' first drift (2.7 h ago) and the DRS job's (a day).
    recent = await episodes("since=1h")
    assert len(recent) == 5 and (DRS.name, "drifted") not in recent
    assert await episodes("since=2d&kind=DrsJob") == [(DRS.name, "drifted")]
    assert await episodes("status=in_sync") == [(DRS.name, "drifted")]
    assert {name for name, _ in await episodes(f"project={OTHER_PROJECT}")} == {BILLING.name}
    for bad in ("since=yesterday", "since=5", "spell=happy"):
        assert (await full.get(f"/api/v1/history?{bad}")).status_code == 400
        assert (await full.get(f"/history?{bad}")).status_code == 400


async def test_hostile_text_is_escaped_on_every_page(full: httpx.AsyncClient) -> None:
    """Names, values, problems, users, reasons and the revision are text, never markup."""
    pages = [
        (await full.get(url)).text
        for url in ("/", f"/resources/{resource_path(NODES)}", "/history")
    ]
    overview, nodes, history = pages
    for page in pages:
        assert "<img" not in page and "<script" not in page
    for hostile in (HOSTILE_VALUE, HOSTILE_PROBLEM, HOSTILE_ERROR, HOSTILE_USER):
        assert hostile not in overview
    assert texts(overview, "problems") == [HOSTILE_PROBLEM]
    assert HOSTILE_REVISION in texts(overview, "revision")
    assert HOSTILE_REASON in texts(overview, "reason")
    assert "&lt;img src=x id=pwned-value onerror=alert(3)&gt;" in overview
    assert set(texts(nodes, "user")) == {HOSTILE_USER} and HOSTILE_USER in texts(history, "user")


async def test_pages_forbid_script_and_foreign_assets() -> None:
    """Pages carry a policy that runs no script and loads only the daemon's stylesheet."""
    async with client(DaemonState()) as http:
        page = await http.get("/")
        style = await http.get("/static/style.css")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "style-src 'self'" in policy
    assert "script-src" not in policy  # none: default-src 'none' covers it
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert 'href="/static/style.css"' in page.text
    assert texts(page.text, "cycle")[0].startswith("No cycle has finished yet.")


async def test_auto_refresh_by_default_off_with_refresh_zero() -> None:
    """The overview refreshes itself unless ?refresh=0; a tiny period is raised to 5 s."""
    async with client(DaemonState(report=drifted_report())) as http:
        default = (await http.get("/")).text
        stopped = (await http.get("/?refresh=0")).text
        fast = (await http.get("/?refresh=1")).text
    assert '<meta http-equiv="refresh" content="30">' in default
    assert "http-equiv" not in stopped
    assert '<meta http-equiv="refresh" content="5">' in fast
    assert 'href="/?refresh=0"' in default and 'name="refresh" value="0"' in stopped


@pytest.mark.parametrize(
    "name", ["plain", "a/b", "100%", "%2F", "-", "~x", "..", ".", "x y#?", "ünï", "-x", "a~"]
)
def test_resource_addresses_round_trip(name: str) -> None:
    """Any name, and an empty instance, comes back from its address unchanged."""
    key = ResourceKey(Kind("FdiTask"), "p1", "", name)
    path = resource_path(key)
    assert parse_resource_path(path) == ("FdiTask", "p1", "", name)
    segments = path.split("/")
    assert len(segments) == 4 and segments[2] == "-"
    assert segments[3].strip(".") and segments[3] != "-"  # no dot segment, no empty mark


async def test_resource_pages_answer_at_their_address_and_404_elsewhere(tmp_path: Path) -> None:
    """Names needing encoding reach their page; an unknown one or a bad path is a 404."""
    names = ["a/b %2F ~ü", "..", "-", "~tilde"]
    statuses = tuple(
        ResourceStatus(ResourceKey(FDI_TASK, "p1", "", name), Status.UNMANAGED) for name in names
    )
    state = DaemonState(report=CycleReport("rev", 1.0, 2.0, statuses, True))
    async with client(state) as http:
        listed = (await http.get("/api/v1/status?status=unmanaged")).json()["overview"]
        for row in listed["resources"]:
            page = await http.get(row["links"]["page"])
            twin = await http.get(row["links"]["api"])
            assert page.status_code == twin.status_code == 200
            assert texts(page.text, "name") == [row["name"]]
            assert twin.json()["resource"]["name"] == row["name"]
        for missing in ("/resources/FdiTask/p1/-/nope", "/resources/FdiTask/p1/nope"):
            page = await http.get(missing)
            assert page.status_code == 404 and texts(page.text, "error")
            assert (await http.get(f"/api/v1{missing}")).status_code == 404
    assert sorted(row["name"] for row in listed["resources"]) == sorted(names)


async def test_without_a_history_store_pages_say_so_and_use_the_reports_drift_age() -> None:
    """No store: every page still renders, says history is unavailable, and ages come from
    the report."""
    key = ResourceKey(FDI_TASK, "p1", "i1", "orders")
    drifted = ResourceStatus(key, Status.DRIFTED, drift_since=NOW - 600)
    state = DaemonState(report=CycleReport("rev", NOW - 2, NOW - 1, (drifted,), True))
    state.clock = lambda: NOW
    async with client(state) as http:
        pages = [await http.get(u) for u in ("/", f"/resources/{resource_path(key)}", "/history")]
        twin = (await http.get("/api/v1/status")).json()["overview"]
    for page in pages:
        assert page.status_code == 200
        assert texts(page.text, "history-unavailable") == [
            "history unavailable: no history store is configured"
        ]
    assert twin["history"] == {"available": False, "error": "no history store is configured"}
    assert twin["resources"][0]["drift_age_seconds"] == 600
    assert texts(pages[0].text, "drift-age") == ["10 min"]


async def test_an_unhealthy_history_store_is_named_on_the_pages(tmp_path: Path) -> None:
    """A store that cannot be opened shows its error; the pages still list the resources."""
    (tmp_path / "history.db").mkdir()  # not a file: the store cannot open it
    history = History(tmp_path / "history.db")
    assert not history.healthy
    state = DaemonState(report=drifted_report(), history=history)
    async with client(state) as http:
        page = (await http.get("/history")).text
        overview = (await http.get("/")).text
    assert texts(page, "history-unavailable") == [f"history unavailable: {history.error}"]
    assert texts(overview, "name") == ["orders<script>"]


async def test_a_plan_or_audit_log_that_fails_is_named_not_fatal() -> None:
    """A slow plan is given up after the deadline; errors and absent callables are named."""
    key = ResourceKey(FDI_TASK, "p1", "i1", "orders<script>")
    path = f"/resources/{resource_path(key)}"

    async def never(key: ResourceKey) -> tuple[str, list[dict[str, Any]]]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def broken(key: ResourceKey) -> list[dict[str, Any]]:
        raise AuditError("cannot read audit log /var/audit.jsonl: Permission denied")

    state = DaemonState(report=drifted_report())
    async with client(state) as http:
        plain = (await http.get(path)).text
        state.plan, state.audit_records, state.plan_timeout_seconds = never, broken, 0.01
        failing = (await http.get(path)).text
        twin = (await http.get(f"/api/v1{path}")).json()
    assert "plan unavailable: this process makes no plans" in texts(plain, "warning")
    assert "audit log unavailable: no audit log is configured" in texts(plain, "warning")
    assert "plan unavailable: no plan within 0.01 s" in texts(failing, "warning")
    assert (
        "audit log unavailable: cannot read audit log /var/audit.jsonl: Permission denied"
        in texts(failing, "warning")
    )
    assert twin["plan"] == {
        "available": False,
        "error": "no plan within 0.01 s",
        "text": None,
        "json": None,
    }
