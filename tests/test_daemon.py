"""End-to-end over real sockets: the emulator and the daemon as processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_TASK, INSTANCE, MYSQL_TASK, PROJECT, TOKEN, require_binary
from tests.processes import CLI, DEADLINE, cli, export, put, samples, wait_for


def test_export_check_and_exit_codes(config: Path, emulator_url: str, tmp_path: Path) -> None:
    """export writes files, check exits 0 on them, 2 after a PUT, and names the field in JSON."""
    exported = export(config)
    assert exported.returncode == 0, exported.stderr
    assert "2 files written" in exported.stdout
    again = export(config)
    assert again.returncode == 1 and "pass --force" in again.stderr
    clean = cli("check", "-c", str(config))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No drift" in clean.stdout
    put(emulator_url, API_TASK, "edited by hand")
    drifted = cli("check", "-c", str(config), "--output", "json")
    assert drifted.returncode == 2, drifted.stderr
    report = json.loads(drifted.stdout)
    (resource,) = [r for r in report["resources"] if r["status"] == "drifted"]
    assert resource["id"] == API_TASK
    assert resource["changes"] == [
        {
            "pointer": "/task/description",
            "op": "changed",
            "desired": "mysql",
            "live": "edited by hand",
        }
    ]
    assert report["summary"]["in_sync"] == 1


def test_check_exits_1_when_reads_fail(config: Path, tmp_path: Path) -> None:
    """A token the emulator rejects makes every task unknown and the check exit 1."""
    (tmp_path / "desired" / "a.yaml").write_text(
        f"apiVersion: fdi-drift/v1\nkind: FdiTask\nmetadata:\n  name: fdi_task_pzy4m5\n"
        f"  project_id: {PROJECT}\n  instance_id: {INSTANCE}\n"
    )
    (tmp_path / "token").write_text("wrong-token\n")
    result = cli("check", "-c", str(config))
    assert result.returncode == 1
    assert "unknown" in result.stdout and "401" in result.stdout
    assert "Credentials in use: token file" in result.stdout
    assert "wrong-token" not in result.stdout + result.stderr
    as_json = cli("check", "-c", str(config), "--output", "json")
    (resource,) = json.loads(as_json.stdout)["resources"]
    assert (resource["status"], resource["cause"]) == ("unknown", "list_failed")


def test_validate_reports_every_problem(tmp_path: Path) -> None:
    """validate exits 1 and prints file, line and pointer for each problem."""
    (tmp_path / "bad.yaml").write_text("apiVersion: fdi-drift/v1\nkind: FdiTask\nmetadata: {}\n")
    result = cli("validate", str(tmp_path))
    assert result.returncode == 1
    assert "bad.yaml:3: /metadata/name: required" in result.stderr
    assert "bad.yaml:3: /metadata/project_id: required" in result.stderr
    (tmp_path / "good.yaml").write_text(
        f"apiVersion: fdi-drift/v1\nkind: FdiTask\nmetadata:\n  name: fdi_task_pzy4m5\n"
        f"  project_id: {PROJECT}\n  instance_id: {INSTANCE}\n"
    )
    (tmp_path / "bad.yaml").unlink()
    assert cli("validate", str(tmp_path)).returncode == 0


@pytest.fixture
def daemon(config: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`fdi-drift run` as a subprocess; yields its URL once /readyz answers 200."""
    assert export(config).returncode == 0
    port = config.read_text().rsplit(":", 1)[1].strip()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen(
        [*CLI, "run", "-c", str(config)],
        stdout=log,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for("readiness", lambda: httpx.get(f"{url}/readyz").status_code == 200)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def test_daemon_sees_drift_and_its_repair(
    daemon: tuple[str, subprocess.Popen[str]], emulator_url: str, tmp_path: Path
) -> None:
    """Scraped over HTTP: drifted goes to 1 after a hand edit and back to 0 once it is undone."""
    url, process = daemon
    assert samples(url, "fdi_drift_resource_drifted") == {API_TASK: 0.0, MYSQL_TASK: 0.0}
    put(emulator_url, API_TASK, "edited by hand")
    wait_for("drift", lambda: samples(url, "fdi_drift_resource_drifted").get(API_TASK) == 1.0)
    assert samples(url, "fdi_drift_resource_drift_fields")[API_TASK] == 1.0
    put(emulator_url, API_TASK, "mysql")
    wait_for("repair", lambda: samples(url, "fdi_drift_resource_drifted").get(API_TASK) == 0.0)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=DEADLINE) == 0
    events = [json.loads(line) for line in (tmp_path / "daemon.log").read_text().splitlines()]
    drifted = [e for e in events if e["message"] == "resource drifted"]
    assert drifted and drifted[0]["resource"]["id"] == API_TASK == drifted[0]["live_id"]
    assert drifted[0]["pointers"] == ["/task/description"]
    assert all("resource" in e for e in events if e["message"].startswith("resource "))
    assert events[-1]["message"] != "Traceback"


def test_daemon_keeps_last_good_tree_and_survives_failures(
    daemon: tuple[str, subprocess.Popen[str]], emulator_url: str, tmp_path: Path
) -> None:
    """An invalid edit keeps the last good tree in force; failing reads become unknown."""
    url, process = daemon
    target = next((tmp_path / "desired").rglob("fdi_task_pzy4m5.yaml"))
    good = target.read_text()
    target.write_text(good.replace("kind: FdiTask", "kind: [broken"))
    wait_for("invalid tree", lambda: samples(url, "fdi_drift_desired_state_valid") == {"": 0.0})
    detail = httpx.get(f"{url}/readyz").json()["desired_state"]
    assert detail["valid"] is False and "fdi_task_pzy4m5.yaml" in detail["problems"][0]
    assert set(samples(url, "fdi_drift_resource_drifted")) == {API_TASK, MYSQL_TASK}
    target.write_text(good)
    wait_for("valid tree", lambda: samples(url, "fdi_drift_desired_state_valid") == {"": 1.0})
    fault = {
        "method": "GET",
        "path": f".*/tasks/{API_TASK}",
        "delay_ms": 3000,
        "times": None,
        "status": 200,
        "body": {},
    }
    assert httpx.post(f"{emulator_url}/_emulator/faults", json=fault).status_code < 300

    def unknown() -> bool:
        status = httpx.get(f"{url}/api/v1/status").json()
        return any(r["id"] == API_TASK and r["status"] == "unknown" for r in status["resources"])

    wait_for("unknown after timeouts", unknown)
    status = httpx.get(f"{url}/api/v1/status").json()
    (failed,) = [r for r in status["resources"] if r["id"] == API_TASK]
    assert "timed out" in failed["reason"] or "timeout" in failed["reason"].lower()
    assert process.poll() is None  # still running


@pytest.mark.realtools
def test_promtool_accepts_a_real_scrape(
    daemon: tuple[str, subprocess.Popen[str]], emulator_url: str
) -> None:
    """`promtool check metrics` finds nothing wrong with what the daemon exposes."""
    promtool = require_binary("promtool")
    url, _ = daemon
    put(emulator_url, API_TASK, "edited by hand")
    wait_for("drift", lambda: samples(url, "fdi_drift_resource_drifted").get(API_TASK) == 1.0)
    scrape = httpx.get(f"{url}/metrics").text
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", (
        result.stdout + result.stderr
    )


def test_daemon_in_auto_mode_puts_a_hand_edit_back(
    config: Path, emulator_url: str, tmp_path: Path
) -> None:
    """With reconcile.mode auto, the daemon's own cycle undoes a hand edit and counts it."""
    assert export(config).returncode == 0
    config.write_text(config.read_text() + "reconcile: {mode: auto}\n")
    port = config.read_text().split("listen: 127.0.0.1:", 1)[1].split()[0]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*CLI, "run", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for("readiness", lambda: httpx.get(f"{url}/readyz").status_code == 200)
        put(emulator_url, API_TASK, "edited by hand")

        def applied() -> bool:
            scrape = httpx.get(f"{url}/metrics").text
            return 'fdi_drift_reconcile_total{kind="FdiTask",result="applied"} 1.0' in scrape

        wait_for("an applied correction", applied)
        task = httpx.get(
            f"{emulator_url}/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks/{API_TASK}",
            headers={"X-Auth-Token": TOKEN},
        ).json()["task"]
        assert task["description"] == "mysql"
        records = (tmp_path / "fdi-drift-audit.jsonl").read_text().splitlines()
        assert [json.loads(r)["event"] for r in records] == ["intent", "outcome"]
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE)
