"""The example Alertmanager configuration: amtool accepts it, alerts reach the right receivers,
and a real Alertmanager inhibits per-resource alerts while the daemon is absent."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import require_binary
from tests.processes import DEADLINE, free_port, wait_for

CONFIG = Path(__file__).parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"
INHIBITED = {
    "FdiDriftResourceDrifted",
    "FdiDriftResourcesUnknown",
    "FdiDriftReconcileBlocked",
    "FdiDriftChecksStale",
}


def routes(*labels: str) -> list[str]:
    """The receivers `amtool config routes test` picks for an alert with these labels."""
    result = subprocess.run(
        [
            require_binary("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={CONFIG}",
            *labels,
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().split(",")


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.realtools
def test_amtool_accepts_the_configuration() -> None:
    """`amtool check-config` finds the file valid."""
    result = subprocess.run(
        [require_binary("amtool"), "check-config", str(CONFIG)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("kind", "receiver"),
    [
        ("FdiTask", "fdi-drift-fditask"),
        ("FdiCompositeTask", "fdi-drift-fdicompositetask"),
        ("DrsJob", "fdi-drift-drsjob"),
    ],
)
def test_drift_alert_goes_to_its_kind_receiver(kind: str, receiver: str) -> None:
    """A drift alert of each kind is routed to that kind's receiver only."""
    assert routes(f"kind={kind}", "project_id=p", "alertname=FdiDriftResourceDrifted") == [receiver]


@pytest.mark.realtools
def test_critical_alerts_page() -> None:
    """Critical alerts reach the pager first and still reach the kind's receiver."""
    assert routes("alertname=FdiDriftReconcileFailing", "severity=critical", "kind=DrsJob") == [
        "fdi-drift-pager",
        "fdi-drift-drsjob",
    ]
    assert routes("alertname=FdiDriftAbsent", "severity=critical", "job=fdi-drift")[0] == (
        "fdi-drift-pager"
    )


@pytest.mark.realtools
def test_warnings_without_a_kind_go_to_operations_and_do_not_page() -> None:
    """A warning with no kind goes to the operations receiver, and other alerts to the default."""
    assert routes("alertname=FdiDriftChecksStale", "severity=warning") == ["fdi-drift-operations"]
    paused = ("alertname=FdiDriftHistoryPaused", "severity=warning", "pod=fdi-drift-2")
    assert routes(*paused) == ["fdi-drift-operations"]
    assert routes("alertname=SomethingElse", "severity=critical") == ["default"]


def test_fdi_drift_alerts_are_grouped_by_kind_and_project() -> None:
    """Every route that handles fdi-drift alerts groups by alert name, kind and project."""
    children = config()["route"]["routes"]
    assert children
    assert all(child["group_by"] == ["alertname", "kind", "project_id"] for child in children)


def test_every_receiver_is_a_resolving_webhook_on_a_url_line() -> None:
    """Each receiver posts firing and resolved alerts to a URL written as a `url:` line."""
    text = CONFIG.read_text(encoding="utf-8")
    receivers = config()["receivers"]
    assert len(receivers) >= 5
    for receiver in receivers:
        (webhook,) = receiver["webhook_configs"]
        assert webhook["send_resolved"] is True
        assert webhook["url"].startswith("http://alert-router.monitoring.svc:9095/")
        assert re.search(rf"^ *url: {re.escape(webhook['url'])}$", text, re.M)
    assert len(re.findall(r"url: \S+", text)) == len(receivers)
    for kind in ("FdiTask", "FdiCompositeTask", "DrsJob"):
        assert f"url: http://alert-router.monitoring.svc:9095/fdi-drift/{kind}\n" in text


def test_absent_daemon_inhibits_its_resource_and_cycle_alerts() -> None:
    """FdiDriftAbsent mutes exactly the four alerts of the same job and instance, and the shard
    alert of the same job and namespace."""
    rule, shards = config()["inhibit_rules"]
    assert rule["source_matchers"] == shards["source_matchers"] == ['alertname="FdiDriftAbsent"']
    (target,) = rule["target_matchers"]
    pattern = re.fullmatch(r'alertname=~"(.*)"', target)
    assert pattern is not None
    assert set(pattern.group(1).split("|")) == INHIBITED
    assert rule["equal"] == ["job", "instance"]
    assert shards["target_matchers"] == ['alertname="FdiDriftShardsInconsistent"']
    assert shards["equal"] == ["job", "namespace"]


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """The shipped configuration in a real Alertmanager on 127.0.0.1; webhooks go nowhere."""
    binary = require_binary("prometheus-alertmanager")
    # A closed local port instead of cluster names, so nothing resolves or leaves the host.
    routing = tmp_path / "alertmanager.yml"
    routing.write_text(re.sub(r"url: \S+", "url: http://127.0.0.1:9/", CONFIG.read_text()))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={routing}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("Alertmanager ready", lambda: httpx.get(f"{url}/-/ready").status_code == 200)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.realtools
def test_alertmanager_inhibits_while_the_daemon_is_absent(alertmanager: str) -> None:
    """A real Alertmanager suppresses the absent job's drift alert, not another job's or a page."""
    resource = {"kind": "FdiTask", "project_id": "p1", "resource": "t1", "name": "orders"}
    sent = [
        {"alertname": "FdiDriftAbsent", "job": "fdi-drift", "severity": "critical"},
        {"alertname": "FdiDriftResourceDrifted", "job": "fdi-drift", **resource},
        {"alertname": "FdiDriftResourceDrifted", "job": "fdi-drift-staging", **resource},
        {"alertname": "FdiDriftReconcileFailing", "job": "fdi-drift", "kind": "FdiTask"},
    ]
    posted = httpx.post(
        f"{alertmanager}/api/v2/alerts",
        json=[{"labels": {**labels, "component": "fdi-drift"}} for labels in sent],
    )
    assert posted.status_code == 200, posted.text

    def states() -> dict[tuple[str, str], str] | None:
        answer = httpx.get(f"{alertmanager}/api/v2/alerts").json()
        found = {
            (alert["labels"]["alertname"], alert["labels"]["job"]): alert["status"]["state"]
            for alert in answer
        }
        if len(found) < len(sent) or "suppressed" not in found.values():
            return None
        return found

    assert wait_for("the inhibition", states) == {
        ("FdiDriftAbsent", "fdi-drift"): "active",
        ("FdiDriftResourceDrifted", "fdi-drift"): "suppressed",
        ("FdiDriftResourceDrifted", "fdi-drift-staging"): "active",
        ("FdiDriftReconcileFailing", "fdi-drift"): "active",
    }


@pytest.mark.realtools
def test_one_absent_replica_mutes_only_its_own_alerts(alertmanager: str) -> None:
    """Sharded: replica 1 down mutes its drift alert and the shard alert, not replica 0's drift
    nor the total of unknown resources over the replicas still up."""
    scrape = {"job": "fdi-drift", "namespace": "fdi-drift"}
    zero = {**scrape, "pod": "fdi-drift-0", "instance": "10.1.0.10:9108"}
    one = {**scrape, "pod": "fdi-drift-1", "instance": "10.1.0.11:9108"}
    task = {"kind": "FdiTask", "project_id": "p1", "name": "orders"}
    sent = {
        "absent 1": {"alertname": "FdiDriftAbsent", **one},
        "drift on 1": {"alertname": "FdiDriftResourceDrifted", **one, **task, "resource": "t1"},
        "drift on 0": {"alertname": "FdiDriftResourceDrifted", **zero, **task, "resource": "t2"},
        "unknown": {"alertname": "FdiDriftResourcesUnknown", **scrape, "kind": "DrsJob"},
        "shards": {"alertname": "FdiDriftShardsInconsistent", **scrape},
    }
    posted = httpx.post(
        f"{alertmanager}/api/v2/alerts",
        json=[
            {"labels": {**labels, "component": "fdi-drift", "case": case}}
            for case, labels in sent.items()
        ],
    )
    assert posted.status_code == 200, posted.text

    def states() -> dict[str, str] | None:
        answer = httpx.get(f"{alertmanager}/api/v2/alerts").json()
        found = {alert["labels"]["case"]: alert["status"]["state"] for alert in answer}
        if len(found) < len(sent) or list(found.values()).count("suppressed") < 2:
            return None
        return found

    assert wait_for("the inhibition", states) == {
        "absent 1": "active",
        "drift on 1": "suppressed",
        "drift on 0": "active",
        "unknown": "active",
        "shards": "suppressed",
    }
