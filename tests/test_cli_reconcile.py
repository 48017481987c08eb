"""`fdi-drift reconcile` as a user runs it: against the emulator process on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.cli import build_parser, main
from fdi_drift.commands import reconcile as reconcile_command
from fdi_drift.commands.reconcile import Terminal
from tests.conftest import API_TASK, INSTANCE, PROJECT
from tests.processes import cli, export, put

TASKS = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks"


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


def plan_requests(path: Path) -> list[tuple[str, Any]]:
    """The request lines and bodies a plan file holds, in order."""
    plan = json.loads(path.read_text())
    return [
        (request["request"], request["body"])
        for resource in plan["resources"]
        for request in resource["requests"]
    ]


def writes_with_bodies(emulator_url: str) -> list[tuple[str, Any]]:
    log = httpx.get(f"{emulator_url}/_emulator/requests").json()
    return [
        (f"{r['method']} {r['path']}", json.loads(r["body"]))
        for r in log
        if r["method"] in ("PUT", "POST")
    ]


def test_a_saved_plan_is_sent_exactly_and_a_stale_one_is_refused(
    config: Path, emulator_url: str
) -> None:
    """--out saves and sends nothing; --apply --plan sends exactly it; stale: nothing, exit 1."""
    assert export(config).returncode == 0
    put(emulator_url, API_TASK, "edited by hand")
    httpx.delete(f"{emulator_url}/_emulator/requests")
    plan = config.parent / "plan.json"

    saved = cli("reconcile", "-c", str(config), "--out", str(plan))
    assert saved.returncode == 2, saved.stdout + saved.stderr
    assert "will be updated in place" in saved.stdout
    assert (
        f"Saved the plan to {plan}; apply it with "
        f"`fdi-drift reconcile -c {config} --apply --plan {plan}`"
    ) in saved.stdout
    assert "Run again with --apply" not in saved.stdout
    assert writes_seen(emulator_url) == []
    assert plan.stat().st_mode & 0o777 == 0o600
    planned = plan_requests(plan)
    assert [line for line, _ in planned] == [f"PUT {TASKS}/{API_TASK}"]

    applied = cli("reconcile", "-c", str(config), "--apply", "--plan", str(plan))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "updated, read back, in sync" in applied.stdout
    assert writes_with_bodies(emulator_url) == planned
    assert cli("check", "-c", str(config)).returncode == 0

    put(emulator_url, API_TASK, "edited again")
    assert cli("reconcile", "-c", str(config), "--out", str(plan)).returncode == 2
    put(emulator_url, API_TASK, "and once more, after the plan")
    httpx.delete(f"{emulator_url}/_emulator/requests")
    stale = cli("reconcile", "-c", str(config), "--apply", "--plan", str(plan))
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "stale: live changed since the plan; nothing was sent" in stale.stdout
    assert writes_seen(emulator_url) == []


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--apply", "--out", "plan.json"], ("--out", "--apply")),
        (["--plan", "plan.json"], ("--plan", "--apply")),
        (["--yes"], ("--yes", "--apply")),
    ],
)
def test_misused_plan_flags_are_a_usage_error_naming_them(
    flags: list[str], named: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """--out only without --apply, --plan and --yes only with it: exit 1 before anything runs."""
    assert main(["reconcile", "-c", "no-such-config.yaml", *flags]) == 1
    error = capsys.readouterr().err
    assert all(flag in error for flag in named), error


class Person:
    """A terminal the test answers from: each question gets the next answer."""

    def __init__(self, *answers: str, interactive: bool = True) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        self.on_a_terminal = interactive

    def terminal(self) -> Terminal:
        return Terminal(interactive=lambda: self.on_a_terminal, ask=self._ask)

    def _ask(self, question: str) -> str:
        self.asked.append(question)
        return self.answers.pop(0)


def test_apply_on_a_terminal_asks_first_unless_told_yes_or_not_at_a_terminal(
    config: Path,
    emulator_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Answering no sends nothing (exit 1), yes sends the plan shown; --yes and CI do not ask."""
    assert export(config).returncode == 0
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # the command configures logs
    monkeypatch.setattr(root, "level", root.level)

    def reconcile(person: Person, *flags: str) -> int:
        args = build_parser().parse_args(["reconcile", "-c", str(config), "--apply", *flags])
        return reconcile_command.run(args, person.terminal())

    put(emulator_url, API_TASK, "edited by hand")
    httpx.delete(f"{emulator_url}/_emulator/requests")
    declined = Person("no")
    assert reconcile(declined) == 1
    assert declined.asked == ["Apply these 1 changes? Only 'yes' is accepted: "]
    shown = capsys.readouterr().out
    assert "will be updated in place" in shown and "PUT /v2/" in shown
    assert "Apply cancelled: nothing was sent." in shown
    assert writes_seen(emulator_url) == []

    accepted = Person("yes")
    assert reconcile(accepted) == 0
    assert len(accepted.asked) == 1
    assert "updated, read back, in sync" in capsys.readouterr().out
    assert [w.rsplit("/", 1)[1] for w in writes_seen(emulator_url)] == [API_TASK]

    for person, flags in ((Person(), ("--yes",)), (Person(interactive=False), ())):
        put(emulator_url, API_TASK, "edited by hand")
        assert reconcile(person, *flags) == 0
        assert person.asked == []
        assert "updated, read back, in sync" in capsys.readouterr().out
    assert cli("check", "-c", str(config)).returncode == 0
