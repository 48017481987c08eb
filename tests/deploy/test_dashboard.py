"""The Grafana dashboard: a sound JSON model whose queries name only metrics and labels that a
real daemon exposes, and which promtool parses as PromQL."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fdi_drift.drift.model import (
    BlockReason,
    ChangeOp,
    CycleReport,
    FieldChange,
    ReconcileResult,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.history import Resolution
from fdi_drift.kinds.drs_job import KIND as DRS_JOB
from fdi_drift.kinds.fdi_composite_task import KIND as FDI_COMPOSITE_TASK
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DaemonMetrics, DesiredStateHealth
from tests.conftest import require_binary
from tests.processes import DEADLINE

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "fdi-drift-dashboard.json"
DATASOURCE = "${datasource}"
METRIC = re.compile(r"fdi_drift_[a-z_]+")
SELECTOR = re.compile(r"(fdi_drift_[a-z_]+)\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"')
# Labels a scrape adds; the daemon itself never sets them.
TARGET_LABELS = {"job", "instance"}
# What a daemon with a `history_db` exports about its drift history (as selectable series).
HISTORY_SERIES = {
    "fdi_drift_drift_episodes_opened_total",
    "fdi_drift_drift_episodes_total",
    "fdi_drift_drift_time_to_resolve_seconds_bucket",
    "fdi_drift_history_healthy",
}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in rows."""
    for panel in model["panels"]:
        yield panel
        yield from panel.get("panels", [])


def panel_exprs(model: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in panels(model) for target in panel.get("targets", [])]


def variable_query(variable: dict[str, Any]) -> str:
    """A query variable's query, whichever of Grafana's two shapes it is stored in."""
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


def template_exprs(model: dict[str, Any]) -> list[str]:
    """The series selectors inside the `label_values(...)` of the query variables."""
    selectors = []
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable_query(variable))
            assert found, variable_query(variable)
            selectors.append(found.group(1))
    return selectors


def as_promql(expr: str) -> str:
    """A Grafana query with its variables replaced by what they can stand for: its ranges by
    durations (the dashboard's time range by an hour), the others by any value."""
    ranged = expr.replace("$__rate_interval", "5m").replace("$__range", "1h")
    return re.sub(r"\$\w+", ".*", ranged)


def daemon_scrape() -> str:
    """What a daemon with a `history_db` exposes after one cycle with a drifted, a blocked and
    an in-sync resource, and a drift episode opened and one closed."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, version="test")
    metrics.enable_history(resolution.value for resolution in Resolution)
    metrics.observe_history(
        healthy=True,
        opened=[FDI_TASK],
        closed=[(FDI_TASK, Resolution.RECONCILED.value, 600.0)],
    )
    change = (FieldChange("/task/description", ChangeOp.CHANGED, "desired", "live"),)
    statuses = (
        ResourceStatus(
            ResourceKey(FDI_TASK, "p1", "i1", "orders"),
            Status.DRIFTED,
            live_id="t1",
            changes=change,
            drift_since=50.0,
        ),
        ResourceStatus(
            ResourceKey(FDI_COMPOSITE_TASK, "p1", "i1", "cdc"),
            Status.BLOCKED,
            live_id="t2",
            changes=change,
            drift_since=60.0,
            block=BlockReason.OUTSIDE_WINDOW,
        ),
        ResourceStatus(ResourceKey(DRS_JOB, "p1", "", "replica"), Status.IN_SYNC, live_id="j1"),
    )
    metrics.observe_desired_state(DesiredStateHealth(valid=True, revision="0123456789abcdef"))
    metrics.observe_cycle(CycleReport("0123456789abcdef", 100.0, 101.5, statuses, True))
    metrics.observe_request("fdi", "GET", "200", 0.05)
    metrics.observe_reconcile(FDI_TASK, ReconcileResult.APPLIED)
    return generate_latest(registry).decode()


def exposed_series() -> dict[str, set[str]]:
    """Each series name a query can select in that scrape, with the labels it carries.

    Names are the samples' own, so a counter is `..._total` and a histogram only
    `..._bucket`/`_count`/`_sum`: the bare family name of either selects nothing.
    """
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(daemon_scrape()):
        assert family.samples, f"{family.name} has no sample; feed the scrape more"
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def test_the_model_loads_with_its_variables() -> None:
    """A current schema, a Prometheus data-source variable, and kind/project_id from labels."""
    model = dashboard()
    assert model["schemaVersion"] >= 36
    assert model["uid"] == "fdi-drift"
    variables = {variable["name"]: variable for variable in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variable_query(variables["kind"]).startswith("label_values(")
    assert variable_query(variables["kind"]).endswith(", kind)")
    assert variable_query(variables["project_id"]).endswith(", project_id)")
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == DATASOURCE


def test_every_panel_queries_the_datasource_variable() -> None:
    """Panels and their targets use `${datasource}`, ids are unique and the grid fits."""
    model = dashboard()
    ids = [panel["id"] for panel in panels(model)]
    assert len(ids) == len(set(ids))
    for panel in panels(model):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE
            assert target["expr"].strip()


def test_the_panels_cover_what_operators_watch() -> None:
    """Drift, statuses, cycles, the cloud API, reconciling, blocks and the desired state."""
    named = set(METRIC.findall(" ".join(panel_exprs(dashboard()))))
    assert {
        "fdi_drift_resource_drifted",
        "fdi_drift_resource_drift_fields",
        "fdi_drift_resources",
        "fdi_drift_cycle_duration_seconds_bucket",
        "fdi_drift_last_successful_cycle_timestamp_seconds",
        "fdi_drift_api_requests_total",
        "fdi_drift_reconcile_total",
        "fdi_drift_resource_blocked",
        "fdi_drift_desired_state_valid",
        "fdi_drift_desired_state_info",
        *HISTORY_SERIES,
    } <= named
    assert "histogram_quantile" in " ".join(panel_exprs(dashboard()))


def test_no_two_panels_overlap() -> None:
    """Each panel, rows included, has a grid area of its own: none is drawn over another."""
    areas = [(panel["id"], panel["gridPos"]) for panel in panels(dashboard()) if "gridPos" in panel]
    for number, (first, a) in enumerate(areas):
        for second, b in areas[number + 1 :]:
            apart = (
                a["x"] + a["w"] <= b["x"]
                or b["x"] + b["w"] <= a["x"]
                or a["y"] + a["h"] <= b["y"]
                or b["y"] + b["h"] <= a["y"]
            )
            assert apart, f"panels {first} and {second} overlap"


def test_the_drift_history_row_holds_the_history_panels() -> None:
    """A row "Drift history" comes last; the panels under it query the history's series, each
    of them, and nothing but them, and its store-health panel is per replica."""
    model = dashboard()
    rows = [panel for panel in model["panels"] if panel["type"] == "row"]
    assert rows[-1]["title"] == "Drift history"
    top = rows[-1]["gridPos"]["y"]
    below = history_panels(model)
    assert below and all(panel["type"] != "row" for panel in below)
    exprs = [target["expr"] for panel in below for target in panel["targets"]]
    assert set(METRIC.findall(" ".join(exprs))) == HISTORY_SERIES
    others = [
        target["expr"]
        for panel in model["panels"]
        if panel["gridPos"]["y"] < top
        for target in panel.get("targets", [])
    ]
    assert not HISTORY_SERIES & set(METRIC.findall(" ".join(others)))
    [health] = [panel for panel in below if "fdi_drift_history_healthy" in str(panel["targets"])]
    [target] = health["targets"]
    assert re.search(r"by \(.*\bpod\b.*\binstance\b.*\)", target["expr"])


def test_every_named_metric_is_in_a_real_scrape() -> None:
    """Each metric a panel or variable names is a series the daemon's registry exposes."""
    series = exposed_series()
    model = dashboard()
    named = set(METRIC.findall(" ".join(panel_exprs(model) + template_exprs(model))))
    assert named
    assert named <= set(series), sorted(named - set(series))


def test_the_name_check_rejects_family_names() -> None:
    """A bare histogram or counter family name would not pass for a series."""
    series = exposed_series()
    assert "fdi_drift_cycle_duration_seconds" not in series
    assert "fdi_drift_cycle_duration_seconds_bucket" in series
    assert "fdi_drift_api_requests" not in series
    assert "fdi_drift_api_requests_total" in series


def test_every_filtered_label_exists_on_its_metric() -> None:
    """A selector never filters on a label its metric lacks (that would match nothing)."""
    series = exposed_series()
    model = dashboard()
    checked = 0
    for expr in panel_exprs(model) + template_exprs(model):
        for name, matchers in SELECTOR.findall(expr):
            labels = set(MATCHER.findall(matchers)) - TARGET_LABELS
            assert labels <= series[name], f"{name} has no {sorted(labels - series[name])}"
            checked += len(labels)
    assert checked


@pytest.mark.realtools
def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses every panel and variable query, with variables substituted."""
    model = dashboard()
    exprs = panel_exprs(model) + template_exprs(model)
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard_query_{number}", "expr": as_promql(expr)}
                    for number, expr in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def history_panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels under the last row, "Drift history"."""
    [row] = [panel for panel in model["panels"] if panel.get("title") == "Drift history"]
    return [panel for panel in model["panels"] if panel["gridPos"]["y"] > row["gridPos"]["y"]]


def panel_expr(model: dict[str, Any], title: str, ref: str | None = None) -> str:
    """The query of the panel with this title (the one it has, or the one with refId `ref`), as
    PromQL."""
    [found] = [panel for panel in panels(model) if panel.get("title") == title]
    [target] = [t for t in found["targets"] if ref is None or t["refId"] == ref]
    return as_promql(target["expr"])


def series(metric: str, values: str, /, **labels: str) -> dict[str, str]:
    """An input series of a promtool test, scraped as job fdi-drift."""
    matchers = ",".join(f'{key}="{value}"' for key, value in {"job": "fdi-drift", **labels}.items())
    return {"series": f"{metric}{{{matchers}}}", "values": values}


def replica(ordinal: int) -> dict[str, str]:
    return {"pod": f"fdi-drift-{ordinal}", "shard": str(ordinal)}


# Three replicas at minute 10: drifted resources on shards 0, 1 and 2 (one in sync on shard 1);
# replica 1's last complete cycle is 5 minutes old, the others' are fresh.
DRIFTED, RESOURCES = "fdi_drift_resource_drifted", "fdi_drift_resources"
LAST_CYCLE = "fdi_drift_last_successful_cycle_timestamp_seconds"
SHARDED_SERIES = [
    series(DRIFTED, "1x10", **replica(0), kind="FdiTask", resource="t1", name="a"),
    series(DRIFTED, "1x10", **replica(1), kind="FdiTask", resource="t2", name="b"),
    series(DRIFTED, "0x10", **replica(1), kind="FdiTask", resource="t3", name="c"),
    series(DRIFTED, "1x10", **replica(2), kind="DrsJob", resource="j1", name="d"),
    series(LAST_CYCLE, "0+60x10", pod="fdi-drift-0"),
    series(LAST_CYCLE, "0+60x5 300x5", pod="fdi-drift-1"),
    series(LAST_CYCLE, "0+60x10", pod="fdi-drift-2"),
    series(RESOURCES, "4x10", **replica(0), kind="FdiTask", status="in_sync"),
    series(RESOURCES, "1x10", **replica(0), kind="FdiTask", status="drifted"),
    series(RESOURCES, "3x10", **replica(1), kind="FdiTask", status="in_sync"),
    series(RESOURCES, "1x10", **replica(1), kind="FdiTask", status="drifted"),
    series(RESOURCES, "5x10", **replica(2), kind="DrsJob", status="in_sync"),
    series(RESOURCES, "1x10", **replica(2), kind="DrsJob", status="drifted"),
]
# What each panel shows of them at minute 10.
SHARDED_PANELS = {
    "Drifted resources": {"{}": 3},
    "Since the last complete cycle": {"{}": 300},
    "Resources by kind and status": {
        '{kind="FdiTask",status="in_sync"}': 7,
        '{kind="FdiTask",status="drifted"}': 2,
        '{kind="DrsJob",status="in_sync"}': 5,
        '{kind="DrsJob",status="drifted"}': 1,
    },
    "Resources by shard": {'{shard="0"}': 5, '{shard="1"}': 4, '{shard="2"}': 6},
}


@pytest.mark.realtools
def test_the_panels_add_up_the_shards(tmp_path: Path) -> None:
    """Over three replicas, promtool evaluates the panels' queries: totals count each shard's
    resources once, the cycle age is the stalest replica's, and the shard panel has a line per
    shard."""
    model = dashboard()
    checks = [
        {
            "expr": panel_expr(model, title),
            "eval_time": "10m",
            "exp_samples": [{"labels": key, "value": value} for key, value in samples.items()],
        }
        for title, samples in SHARDED_PANELS.items()
    ]
    (tmp_path / "none.yml").write_text("groups: []\n")
    case = {"interval": "1m", "input_series": SHARDED_SERIES, "promql_expr_test": checks}
    path = tmp_path / "panels.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": ["none.yml"], "tests": [case]}))
    result = subprocess.run(
        [require_binary("promtool"), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Three replicas with a history store, at minute 60. Opened: 2 FdiTask episodes on replica 0,
# 1 on replica 1, 1 DrsJob on replica 2. Closed: 2 FdiTask ones reconciled on replica 0 and one
# on replica 1, each lasting between 60 and 300 s; 1 FdiTask reverted on replica 1, after
# between 300 and 900 s; no DrsJob one. Replica 2's store is paused from minute 30.
OPENED, CLOSED = "fdi_drift_drift_episodes_opened_total", "fdi_drift_drift_episodes_total"
BUCKET, HEALTHY = "fdi_drift_drift_time_to_resolve_seconds_bucket", "fdi_drift_history_healthy"


def buckets(values: dict[str, str], /, **labels: str) -> list[dict[str, str]]:
    """A histogram's bucket series, one per `le`, as an input of a promtool test."""
    return [series(BUCKET, counts, le=le, **labels) for le, counts in values.items()]


HISTORY_SERIES_SHARDED = [
    series(OPENED, "0x30 2x30", pod="fdi-drift-0", kind="FdiTask"),
    series(OPENED, "0x40 1x20", pod="fdi-drift-1", kind="FdiTask"),
    series(OPENED, "0x10 1x50", pod="fdi-drift-2", kind="DrsJob"),
    series(CLOSED, "0x35 2x25", pod="fdi-drift-0", kind="FdiTask", resolution="reconciled"),
    series(CLOSED, "0x45 1x15", pod="fdi-drift-1", kind="FdiTask", resolution="reconciled"),
    series(CLOSED, "0x20 1x40", pod="fdi-drift-1", kind="FdiTask", resolution="reverted"),
    series(CLOSED, "0x60", pod="fdi-drift-2", kind="DrsJob", resolution="deleted"),
    *buckets(
        {"60": "0x60", "300": "0x35 2x25", "900": "0x35 2x25", "+Inf": "0x35 2x25"},
        pod="fdi-drift-0", kind="FdiTask", resolution="reconciled",
    ),
    *buckets(
        {"60": "0x60", "300": "0x45 1x15", "900": "0x45 1x15", "+Inf": "0x45 1x15"},
        pod="fdi-drift-1", kind="FdiTask", resolution="reconciled",
    ),
    *buckets(
        {"60": "0x60", "300": "0x60", "900": "0x20 1x40", "+Inf": "0x20 1x40"},
        pod="fdi-drift-1", kind="FdiTask", resolution="reverted",
    ),
    series(HEALTHY, "1x60", pod="fdi-drift-0"),
    series(HEALTHY, "1x60", pod="fdi-drift-1"),
    series(HEALTHY, "1x30 0x30", pod="fdi-drift-2"),
]  # fmt: skip
# What each history panel's query shows of them at minute 60. Time to resolve, FdiTask: of the
# 4 episodes, 3 ended within (60, 300] s and 1 within (300, 900] s; the median is the 2nd, at
# 60 + 240 * 2/3 = 220 s, the 90th percentile 3.6th, at 300 + 600 * 0.6 = 660 s.
HISTORY_PANELS = {
    ("Drift episodes per hour", "A"): {"{}": 4},
    ("Drift episodes per hour", "B"): {
        '{resolution="reconciled"}': 3,
        '{resolution="reverted"}': 1,
        '{resolution="deleted"}': 0,
    },
    ("Time to resolve drift (p50, p90)", "A"): {'{kind="FdiTask"}': 220},
    ("Time to resolve drift (p50, p90)", "B"): {'{kind="FdiTask"}': 660},
    ("Drift episodes in the time range", "A"): {'{kind="FdiTask"}': 3, '{kind="DrsJob"}': 1},
    ("Drift episodes in the time range", "B"): {
        '{kind="FdiTask",resolution="reconciled"}': 3,
        '{kind="FdiTask",resolution="reverted"}': 1,
        '{kind="DrsJob",resolution="deleted"}': 0,
    },
    ("History store per replica", "A"): {
        '{pod="fdi-drift-0"}': 1,
        '{pod="fdi-drift-1"}': 1,
        '{pod="fdi-drift-2"}': 0,
    },
}


@pytest.mark.realtools
def test_the_history_panels_add_up_the_shards(tmp_path: Path) -> None:
    """Over three replicas, promtool evaluates the drift history row's queries: episodes are
    counted once each across the replicas, the quantiles come from their buckets together, and
    the store's health has a line per replica."""
    model = dashboard()
    checked = {
        (panel["title"], target["refId"])
        for panel in history_panels(model)
        for target in panel["targets"]
    }
    assert checked == set(HISTORY_PANELS)
    checks = [
        {
            "expr": panel_expr(model, title, ref),
            "eval_time": "60m",
            "exp_samples": [{"labels": key, "value": value} for key, value in samples.items()],
        }
        for (title, ref), samples in HISTORY_PANELS.items()
    ]
    (tmp_path / "none.yml").write_text("groups: []\n")
    case = {"interval": "1m", "input_series": HISTORY_SERIES_SHARDED, "promql_expr_test": checks}
    path = tmp_path / "history.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": ["none.yml"], "tests": [case]}))
    result = subprocess.run(
        [require_binary("promtool"), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
