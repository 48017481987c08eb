"""`fdi-drift reconcile` as a user runs it: against the emulator process on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import API_TASK
from tests.processes import cli, export, put


def writes_seen(emulator_url: str) -> list[str]:
    log = httpx.get(f"{emulator_url}/_emulator/requests").json()
    return [f"{r['method']} {r['path']}" for r in log if r["method"] in ("PUT", "POST")]


def test_plan_sends_nothing_and_apply_audits_each_write(config: Path, emulator_url: str) -> None:
    """Without --apply: the exact PUT, exit 2, no write; with --apply: written, audited, exit 0."""
    assert export(config).returncode == 0
    put(emulator_url, API_TASK, "edited by hand")
    httpx.delete(f"{emulator_url}/_emulator/requests")

    plan = cli("reconcile", "-c", str(config))
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "FdiTask fdi_task_v2mysql-tomysql (id " in plan.stdout
    assert "will be updated in place" in plan.stdout
    assert '~ /task/description: "edited by hand" -> "mysql"' in plan.stdout
    assert "PUT /v2/" in plan.stdout and f"/tasks/{API_TASK}" in plan.stdout
    assert '"description": "mysql"' in plan.stdout
    assert "Run again with --apply" in plan.stdout
    assert writes_seen(emulator_url) == []
    assert not (config.parent / "fdi-drift-audit.jsonl").exists()
    (planned,) = json.loads(cli("reconcile", "-c", str(config), "--output", "json").stdout)[
        "corrections"
    ]
    assert (planned["mode"], planned["result"]) == ("dry-run", "planned")

    applied = cli("reconcile", "-c", str(config), "--apply", "--output", "json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    (correction,) = json.loads(applied.stdout)["corrections"]
    assert correction["result"] == "applied" and correction["id"] == API_TASK
    assert correction["mode"] == "auto"  # what the plan showed as dry-run, --apply ran as auto
    assert [w.rsplit("/", 1)[1] for w in writes_seen(emulator_url)] == [API_TASK]
    records = [
        json.loads(line)
        for line in (config.parent / "fdi-drift-audit.jsonl").read_text().splitlines()
    ]
    assert [r["event"] for r in records] == ["intent", "outcome"]
    intent, outcome = records
    assert intent["id"] == outcome["id"] == correction["audit_id"]
    assert intent["resource"]["live_id"] == API_TASK
    assert intent["live_before"]["task"]["description"] == "edited by hand"
    assert intent["requests"][0]["body"]["task"]["description"] == "mysql"
    assert outcome["result"] == "applied" and outcome["verification"] == {"in_sync": True}

    assert cli("check", "-c", str(config)).returncode == 0
    again = cli("reconcile", "-c", str(config))
    assert again.returncode == 0 and "Nothing to reconcile" in again.stdout


def test_invalid_tree_is_an_error_before_anything_is_planned(
    config: Path, emulator_url: str
) -> None:
    """reconcile on an invalid tree exits 1 with the problems, and plans nothing."""
    (config.parent / "desired" / "bad.yaml").write_text("kind: [")
    result = cli("reconcile", "-c", str(config), "--apply")
    assert result.returncode == 1
    assert "bad.yaml" in result.stderr
    assert writes_seen(emulator_url) == []
