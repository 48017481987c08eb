"""The alert rules: promtool accepts them and their unit tests, the operator copy matches them,
and every alert carries its labels, annotations and a runbook section that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_binary

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "fdi-drift-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "fdi-drift-rules.test.yml"
PROMETHEUS_RULE = DEPLOY / "kustomize" / "base" / "prometheusrule.yaml"
RUNBOOK = DEPLOY.parent / "README.md"
RUNBOOK_URL = "https://github.com/fdi-drift/fdi-drift/blob/main/README.md#"
TIMEOUT = 60.0

CRITICAL = {"FdiDriftReconcileFailing", "FdiDriftAbsent", "FdiDriftUnfinishedWrite"}
WARNING = {
    "FdiDriftResourceDrifted",
    "FdiDriftChecksStale",
    "FdiDriftResourcesUnknown",
    "FdiDriftDesiredStateInvalid",
    "FdiDriftReconcileBlocked",
    "FdiDriftApiThrottled",
    "FdiDriftApiErrors",
}
RESOURCE_LABELS = {"kind", "project_id", "instance_id", "resource", "name"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alerts() -> dict[str, dict[str, Any]]:
    """The plain file's alerting rules by name."""
    return {
        rule["alert"]: rule
        for group in load(RULES)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def runbook_anchors() -> set[str]:
    """The anchors GitHub gives the runbook's headings."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", RUNBOOK.read_text(encoding="utf-8"), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.mark.realtools
def test_promtool_check_rules_is_clean() -> None:
    """`promtool check rules` accepts the plain file with all ten rules and no warning."""
    result = run(require_binary("promtool"), "check", "rules", str(RULES))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS: 10 rules found" in output
    assert "warn" not in output.lower(), output


@pytest.mark.realtools
def test_promtool_unit_tests_pass() -> None:
    """Every case in the rules' unit tests passes under `promtool test rules`."""
    result = run(require_binary("promtool"), "test", "rules", str(RULE_TESTS))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS" in output


def test_one_group_holds_exactly_the_ten_alerts() -> None:
    """The file has the group `fdi-drift` and exactly the alerts the runbook documents."""
    groups = load(RULES)["groups"]
    assert [group["name"] for group in groups] == ["fdi-drift"]
    assert set(alerts()) == CRITICAL | WARNING


def test_prometheus_rule_carries_the_same_groups() -> None:
    """The operator's PrometheusRule holds exactly the plain file's groups."""
    resource = load(PROMETHEUS_RULE)
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["metadata"]["name"] == "fdi-drift"
    assert resource["spec"]["groups"] == load(RULES)["groups"]


@pytest.mark.parametrize("name", sorted(CRITICAL | WARNING))
def test_alert_has_labels_annotations_and_a_runbook_section(name: str) -> None:
    """Severity and component labels, templated texts, and a runbook link that resolves."""
    rule = alerts()[name]
    assert rule["labels"] == {
        "severity": "critical" if name in CRITICAL else "warning",
        "component": "fdi-drift",
    }
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert "{{" in annotations["summary"] + annotations["description"]
    url = annotations["runbook_url"]
    assert url.startswith(RUNBOOK_URL)
    assert url.removeprefix(RUNBOOK_URL) == name.lower()
    assert name.lower() in runbook_anchors()


def test_per_resource_alerts_keep_the_resource_labels() -> None:
    """Drift and blocked alerts come straight from per-resource series, without aggregation."""
    rules = alerts()
    assert rules["FdiDriftResourceDrifted"]["expr"].strip() == "fdi_drift_resource_drifted == 1"
    assert rules["FdiDriftReconcileBlocked"]["expr"].strip() == "fdi_drift_resource_blocked == 1"
    tests = load(RULE_TESTS)["tests"]
    fired = [
        expected["exp_labels"]
        for case in tests
        for check in case["alert_rule_test"]
        if check["alertname"] in {"FdiDriftResourceDrifted", "FdiDriftReconcileBlocked"}
        for expected in check["exp_alerts"]
    ]
    assert fired
    assert all(RESOURCE_LABELS - {"instance_id"} <= set(labels) for labels in fired)
    assert any("reason" in labels for labels in fired)


def test_drift_rule_waits_fifteen_minutes_on_a_line_of_its_own() -> None:
    """`for: 15m` appears once, in the drift rule, so a test copy can shorten just that wait."""
    assert alerts()["FdiDriftResourceDrifted"]["for"] == "15m"
    text = RULES.read_text(encoding="utf-8")
    assert text.count("for: 15m") == 1
    assert re.search(r"^ +for: 15m$", text, re.M)


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    """Each alert has a unit-test check where it fires and one where it must stay silent."""
    checks = [check for case in load(RULE_TESTS)["tests"] for check in case["alert_rule_test"]]
    for name in CRITICAL | WARNING:
        mine = [check for check in checks if check["alertname"] == name]
        assert any(check["exp_alerts"] for check in mine), f"{name} never fires in a test"
        assert any(not check["exp_alerts"] for check in mine), f"{name} is never shown silent"


def test_every_firing_alert_keeps_the_job_label() -> None:
    """Every expected alert carries job="fdi-drift", which Alertmanager's inhibition needs."""
    expected = [
        alert
        for case in load(RULE_TESTS)["tests"]
        for check in case["alert_rule_test"]
        for alert in check["exp_alerts"]
    ]
    assert expected
    assert all(alert["exp_labels"]["job"] == "fdi-drift" for alert in expected)
