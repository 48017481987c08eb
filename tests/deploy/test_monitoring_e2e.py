"""The shipped alerts end to end on 127.0.0.1: daemon, real Prometheus, real Alertmanager.

Everything is the shipped configuration except what a test cannot wait for: the drift alert's
`for: 15m` becomes a few seconds, Alertmanager's grouping waits become one second, and the
webhook URLs point at a receiver inside this test.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import API_TASK, require_binary
from tests.processes import CLI, DEADLINE, export, free_port, put, wait_for

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "fdi-drift-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "fdi-drift-dashboard.json"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"


class Receiver:
    """An Alertmanager webhook receiver: keeps every notification it is sent."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def alerts(self, status: str, alertname: str) -> list[dict[str, Any]]:
        return [
            alert
            for notification in self.notifications
            for alert in notification.get("alerts", [])
            if alert["status"] == status and alert["labels"].get("alertname") == alertname
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()


def missing_dashboard_names(scrape: str) -> set[str]:
    """The metrics a dashboard query names that this scrape of the real daemon lacks."""
    exposed = set()
    for family in text_string_to_metric_families(scrape):
        exposed.add(family.name)
        exposed.update(sample.name for sample in family.samples)
    named = set(re.findall(r"fdi_drift_[a-z_]+", DASHBOARD.read_text()))
    assert named, "the dashboard queries no fdi_drift metric"
    return named - exposed


def shortened_drift_wait(rules: dict[str, Any]) -> dict[str, Any]:
    """The shipped rules with the drift alert's `for: 15m` cut to two seconds, nothing else."""
    [drift] = [
        rule
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "FdiDriftResourceDrifted"
    ]
    assert drift["for"] == "15m"
    drift["for"] = "2s"
    return rules


def started(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    sink = log.open("wb")
    return subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.realtools
def test_drift_alert_reaches_the_receiver_and_resolves(
    config: Path, emulator_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    """Drift fires FdiDriftResourceDrifted with the task's labels; the fix sends `resolved`.
    The daemon, configured as deployed with a drift history, then exports every metric the
    dashboard names (the time-to-resolve histogram only once an episode has closed)."""
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager")
    assert export(config).returncode == 0
    with config.open("a") as appended:
        appended.write("history_db: history.db\n")
    daemon_port = config.read_text().split("listen: 127.0.0.1:", 1)[1].split()[0]

    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(shortened_drift_wait(yaml.safe_load(RULES.read_text()))))
    routing = tmp_path / "alertmanager.yml"
    shipped_routing = ALERTMANAGER.read_text()
    routing.write_text(
        re.sub(
            r"(group_wait|group_interval): \S+",
            r"\1: 1s",
            re.sub(r"url: \S+", f"url: {receiver.url}/", shipped_routing),
        )
    )
    am_port, prom_port = free_port(), free_port()
    (tmp_path / "prometheus.yml").write_text(
        f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
alerting:
  alertmanagers: [{{static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]}}]
scrape_configs:
  - job_name: fdi-drift
    static_configs: [{{targets: ["127.0.0.1:{daemon_port}"]}}]
"""
    )
    processes = [
        started([*CLI, "run", "-c", str(config)], tmp_path / "daemon.log"),
        started(
            [
                alertmanager,
                f"--config.file={routing}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            tmp_path / "alertmanager.log",
        ),
        started(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path / "prometheus.log",
        ),
    ]
    try:

        def scraped() -> bool:
            query = {"query": 'up{job="fdi-drift"}'}
            answer = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/query", params=query)
            if answer.status_code != 200:
                return False  # still starting
            return [r["value"][1] for r in answer.json()["data"]["result"]] == ["1"]

        wait_for("Prometheus scraping the daemon", scraped)
        put(emulator_url, API_TASK, "edited by hand")
        firing = wait_for(
            "the firing drift alert at the receiver",
            lambda: receiver.alerts("firing", "FdiDriftResourceDrifted"),
            deadline=90,
        )
        labels = firing[0]["labels"]
        assert labels["kind"] == "FdiTask"
        assert labels["resource"] == API_TASK
        assert labels["name"] == "fdi_task_v2mysql-tomysql"
        assert labels["job"] == "fdi-drift"
        assert firing[0]["annotations"]["summary"]
        put(emulator_url, API_TASK, "mysql")
        resolved = wait_for(
            "the resolved notification",
            lambda: receiver.alerts("resolved", "FdiDriftResourceDrifted"),
            deadline=90,
        )
        assert resolved[0]["labels"]["resource"] == API_TASK
        metrics = f"http://127.0.0.1:{daemon_port}/metrics"
        wait_for(
            "every dashboard metric in the daemon's scrape",
            lambda: not missing_dashboard_names(httpx.get(metrics).text),
        )
        assert (tmp_path / "history.db").is_file()
    finally:
        stop(*processes)
