"""Tests for `fdi-drift demo`, run the way the README says."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.processes import DEADLINE, free_port, samples, wait_for

ROOT = Path(__file__).parents[1]
NODES_TASK = "15366328208d4d77b76532fe9f4006a6"


def test_demo_reports_the_pointer_inside_the_nested_string() -> None:
    """The demo names the edited task and every changed pointer, bodyRaw's included."""
    result = subprocess.run(
        [sys.executable, "-m", "fdi_drift.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert result.returncode == 0, result.stderr
    assert "FdiTask nodes-api-to-oracle" in result.stdout
    assert "drifted, 3 fields" in result.stdout
    assert (
        '~ /task_detail/sourceSelectedDatasource/bodyRaw/pageSize: "500" -> "10"' in result.stdout
    )
    assert "~ /task/description:" in result.stdout
    assert "3 in sync" in result.stdout
    plan = result.stdout[result.stdout.index("reconcile --apply` would send") :]
    assert "PUT /v2/c53626012ba84727b938ca8bf03108ef/fdi/instances/" in plan
    assert f"/tasks/{NODES_TASK}" in plan and "Plan: 3 to update." in plan
    assert "(type speed_limit)" in plan and "/multi-tasks/" in plan
    assert '+ /task/operation_types/2: (absent) -> "DELETE"' in result.stdout
    assert '~ /speed_limit/0/speed: "200" -> "50"' in result.stdout


def test_demo_serve_keeps_the_daemon_up() -> None:
    """With --serve the daemon's metrics show the drift, and SIGTERM stops it cleanly."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "fdi_drift.cli", "demo", "--serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("Daemon metrics:"):
                break
        url = f"http://127.0.0.1:{port}"
        assert f"{url}/metrics" in line
        offered = process.stdout.readline()
        assert offered.startswith("A configuration for trying every command against it: ")
        config = Path(offered.rsplit(" ", 1)[1].strip())
        wait_for(
            "drift in metrics",
            lambda: samples(url, "fdi_drift_resource_drifted").get(NODES_TASK) == 1.0,
        )
        assert httpx.get(f"{url}/readyz").status_code == 200
        # The commands of the README work against the demo with that file, from anywhere.
        checked = subprocess.run(
            [sys.executable, "-m", "fdi_drift.cli", "check", "-c", str(config)],
            cwd=config.parent.parent,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
        assert checked.returncode == 2, checked.stderr  # the demo's edits are drift
        assert "FdiTask nodes-api-to-oracle" in checked.stdout
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
