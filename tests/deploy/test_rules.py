"""The alert rules: promtool accepts them and their unit tests, the operator copy matches them,
every alert carries its labels and annotations, and docs/runbook.md has exactly one section per
alert, which every `runbook_url` and the README's alert table link to."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_binary
from tests.deploy.markdown import anchors, github_anchor, headings, links

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "fdi-drift-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "fdi-drift-rules.test.yml"
PROMETHEUS_RULE = DEPLOY / "kustomize" / "base" / "prometheusrule.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"
README = ROOT / "README.md"
RUNBOOK_URL = "https://github.com/fdi-drift/fdi-drift/blob/main/docs/runbook.md#"
TIMEOUT = 60.0
# A row of an alert table: | [Name](link) | fires when | for | severity |
TABLE_ROW = re.compile(r"^\| \[(FdiDrift\w+)\]\(([^)]+)\) \| .+? \| (.+?) \| (\w+) \|$", re.M)

CRITICAL = {"FdiDriftReconcileFailing", "FdiDriftAbsent", "FdiDriftUnfinishedWrite"}
WARNING = {
    "FdiDriftResourceDrifted",
    "FdiDriftChecksStale",
    "FdiDriftResourcesUnknown",
    "FdiDriftDesiredStateInvalid",
    "FdiDriftReconcileBlocked",
    "FdiDriftApiThrottled",
    "FdiDriftApiErrors",
    "FdiDriftShardsInconsistent",
    "FdiDriftHistoryPaused",
}
RESOURCE_LABELS = {"kind", "project_id", "instance_id", "resource", "name"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alerting_rules(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The alerting rules of some rule groups, by name."""
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def alerts() -> dict[str, dict[str, Any]]:
    """The plain file's alerting rules by name."""
    return alerting_rules(load(RULES)["groups"])


def shipped_alerts(path: Path) -> dict[str, dict[str, Any]]:
    """The alerting rules of the plain file or of the PrometheusRule, by name."""
    document = load(path)
    return alerting_rules(document["spec"]["groups"] if "spec" in document else document["groups"])


def runbook_sections() -> dict[str, str]:
    """The runbook's text under each heading named like an alert, up to the next heading."""
    text = RUNBOOK.read_text(encoding="utf-8").splitlines()
    found = headings(RUNBOOK)
    ends = [heading.line - 1 for heading in found[1:]] + [len(text)]
    return {
        heading.text: "\n".join(text[heading.line : end])
        for heading, end in zip(found, ends, strict=True)
        if heading.text.startswith("FdiDrift")
    }


def alert_table(path: Path) -> dict[str, tuple[str, str, str]]:
    """A page's alert table: link, `for` and severity by alert name."""
    rows = TABLE_ROW.findall(path.read_text(encoding="utf-8"))
    table = {name: (link, wait, severity) for name, link, wait, severity in rows}
    assert len(table) == len(rows), f"an alert is listed twice in {path.name}"
    return table


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.mark.realtools
def test_promtool_check_rules_is_clean() -> None:
    """`promtool check rules` accepts the plain file with all twelve rules and no warning."""
    result = run(require_binary("promtool"), "check", "rules", str(RULES))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS: 12 rules found" in output
    assert "warn" not in output.lower(), output


@pytest.mark.realtools
def test_promtool_unit_tests_pass() -> None:
    """Every case in the rules' unit tests passes under `promtool test rules`."""
    result = run(require_binary("promtool"), "test", "rules", str(RULE_TESTS))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS" in output


def test_one_group_holds_exactly_the_twelve_alerts() -> None:
    """The file has the group `fdi-drift` and exactly the twelve alerts listed above."""
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
    assert url == RUNBOOK_URL + github_anchor(name) == RUNBOOK_URL + name.lower()
    assert name in runbook_sections()


@pytest.mark.parametrize("path", [RULES, PROMETHEUS_RULE], ids=["rules", "prometheusrule"])
def test_every_runbook_url_resolves_to_its_own_runbook_heading(path: Path) -> None:
    """In both shipped copies, each `runbook_url` is the anchor of its alert's runbook heading."""
    rules = shipped_alerts(path)
    assert set(rules) == CRITICAL | WARNING
    runbook = anchors(RUNBOOK)
    for name, rule in rules.items():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_URL), url
        anchor = url.removeprefix(RUNBOOK_URL)
        assert anchor in runbook, f"{name}: docs/runbook.md has no heading #{anchor}"
        assert anchor == github_anchor(name), f"{name} links to another alert's section"


def test_unit_tests_expect_the_rules_runbook_urls() -> None:
    """Every annotation set the promtool unit tests expect carries its rule's `runbook_url`."""
    rules = alerts()
    checked = 0
    for case in load(RULE_TESTS)["tests"]:
        for check in case["alert_rule_test"]:
            for expected in check["exp_alerts"]:
                url = rules[check["alertname"]]["annotations"]["runbook_url"]
                assert expected["exp_annotations"]["runbook_url"] == url
                checked += 1
    assert checked >= len(rules)


def test_runbook_has_one_level_two_section_per_alert_and_no_other_alert() -> None:
    """docs/runbook.md has a `## <alert>` heading for each alert and none for a missing one."""
    named = [heading for heading in headings(RUNBOOK) if heading.text.startswith("FdiDrift")]
    assert sorted(heading.text for heading in named) == sorted(CRITICAL | WARNING)
    assert all(heading.level == 2 for heading in named)


@pytest.mark.parametrize("name", sorted(CRITICAL | WARNING))
def test_runbook_section_says_what_it_means_what_to_check_and_how_to_fix(name: str) -> None:
    """Each alert's section has the three parts the runbook's introduction promises, in order."""
    section = runbook_sections()[name]
    parts = [section.find(part) for part in ("**Means:**", "**Check first:**", "**Fix:**")]
    assert all(position >= 0 for position in parts), name
    assert parts == sorted(parts), name


@pytest.mark.parametrize(
    ("page", "prefix"),
    [(RUNBOOK, "#"), (README, "docs/runbook.md#")],
    ids=["runbook", "readme"],
)
def test_alert_tables_match_the_rules(page: Path, prefix: str) -> None:
    """The runbook's and the README's tables list every alert once, with its wait and severity,
    linked to its runbook section."""
    rules = alerts()
    table = alert_table(page)
    assert set(table) == set(rules)
    for name, (link, wait, severity) in table.items():
        assert link == prefix + github_anchor(name)
        assert wait == rules[name].get("for", "at once"), name
        assert severity == rules[name]["labels"]["severity"], name


def test_readme_links_to_the_runbook_instead_of_carrying_it() -> None:
    """The README has no per-alert section any more, and links to docs/runbook.md."""
    assert not [heading for heading in headings(README) if heading.text.startswith("FdiDrift")]
    text = README.read_text(encoding="utf-8")
    assert "**Means:**" not in text
    assert "**Check first:**" not in text
    targets = {link.target for link in links(README)}
    assert "docs/runbook.md" in targets


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


def test_drift_and_history_alerts_wait_fifteen_minutes() -> None:
    """Drift is news after 15 minutes (test_monitoring_e2e.py shortens just that rule's wait);
    so is a paused history store, long enough for a passing lock wait to clear."""
    rules = alerts()
    assert rules["FdiDriftResourceDrifted"]["for"] == "15m"
    assert rules["FdiDriftHistoryPaused"]["for"] == "15m"
    assert rules["FdiDriftHistoryPaused"]["expr"].strip() == "fdi_drift_history_healthy == 0"


def test_history_alert_is_unit_tested_per_pod_and_without_a_store() -> None:
    """The history alert's unit tests show it firing for one replica of three, and silent for
    a daemon that exports no fdi_drift_history_healthy (no `history_db`)."""
    cases = [
        case
        for case in load(RULE_TESTS)["tests"]
        if any(c["alertname"] == "FdiDriftHistoryPaused" for c in case["alert_rule_test"])
    ]
    fired = [
        expected["exp_labels"]
        for case in cases
        for check in case["alert_rule_test"]
        for expected in check["exp_alerts"]
    ]
    assert any("pod" in labels for labels in fired)
    without_store = [
        case
        for case in cases
        if not any("fdi_drift_history_healthy" in s["series"] for s in case["input_series"])
    ]
    assert without_store
    assert all(
        not check["exp_alerts"] for case in without_store for check in case["alert_rule_test"]
    )


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
