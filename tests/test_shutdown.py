"""SIGTERM while a write is in flight: that write finishes and is recorded, no new one starts."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import API_TASK, INSTANCE, MYSQL_TASK, PROJECT, TOKEN
from tests.processes import CLI, DEADLINE, export, put, wait_for

TASKS = f"{{emulator}}/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks"


def audit_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_sigterm_mid_write_lets_the_write_finish_and_starts_no_other(
    config: Path, emulator_url: str, tmp_path: Path
) -> None:
    """The PUT in flight completes and its outcome is audited; the next drifted task is left."""
    assert export(config).returncode == 0
    settings = config.read_text().replace(
        "request_timeout_seconds: 1\n", "request_timeout_seconds: 10\n"
    )
    config.write_text(settings + "reconcile: {mode: auto}\n")
    # Both tasks drift; the first correction's PUT takes 3 s to answer (and is then applied).
    put(emulator_url, API_TASK, "edited by hand")
    base = TASKS.format(emulator=emulator_url)
    headers = {"X-Auth-Token": TOKEN}
    mysql = httpx.get(f"{base}/{MYSQL_TASK}", headers=headers).json()
    detail = json.loads(mysql["task_detail"])
    detail["description"] = "edited by hand"
    body = {
        "task": {
            key: mysql["task"][key]
            for key in ("task_name", "source_datasource_id", "target_datasource_id")
        }
        | {"task_type": "TIMING"},
        "task_detail": json.dumps(detail),
    }
    assert httpx.put(f"{base}/{MYSQL_TASK}", json=body, headers=headers).status_code == 200
    slow_put = {"method": "PUT", "path": "/tasks/", "status": None, "delay_ms": 3000, "times": None}
    assert httpx.post(f"{emulator_url}/_emulator/faults", json=slow_put).status_code == 201
    httpx.delete(f"{emulator_url}/_emulator/requests")
    audit = tmp_path / "fdi-drift-audit.jsonl"
    log = (tmp_path / "daemon.log").open("w")
    process = subprocess.Popen([*CLI, "run", "-c", str(config)], stdout=log, stderr=log)
    try:
        wait_for("the first intent", lambda: audit_records(audit))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    records = audit_records(audit)
    assert [r["event"] for r in records] == ["intent", "outcome"]
    assert records[1]["id"] == records[0]["id"]
    assert records[1]["result"] == "applied"
    written = [
        r for r in httpx.get(f"{emulator_url}/_emulator/requests").json() if r["method"] == "PUT"
    ]
    assert len(written) == 1  # the second correction never started
    lines = [json.loads(line) for line in (tmp_path / "daemon.log").read_text().splitlines()]
    assert any(line["message"] == "stopping" for line in lines)
    assert not any("grace period ended" in line["message"] for line in lines)
