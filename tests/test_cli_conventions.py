"""The command line's conventions: exit statuses, help, output formats, pipes, colour, packaging."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fdi_drift.cli import build_parser
from fdi_drift.commands.terminal import Painter, colour_wanted
from fdi_drift.drift.junit import report_to_junit
from fdi_drift.drift.model import (
    ChangeOp,
    CycleReport,
    FieldChange,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.drift.report import render_text
from fdi_drift.history import History
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from tests.conftest import API_TASK, INSTANCE, PROJECT
from tests.processes import CLI, DEADLINE, cli, export, put

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"


def subcommands() -> dict[str, object]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return dict(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "argv",
    [["chek"], ["check"], ["check", "-c"], ["history", "-c", "x", "--output", "yaml"], []],
    ids=["unknown command", "missing -c", "-c without a value", "bad choice", "no command"],
)
def test_a_usage_error_exits_1_never_2(argv: list[str]) -> None:
    """2 means drift to CI: a typo must not read as drift."""
    ran = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=DEADLINE)
    assert ran.returncode == 1
    assert "error:" in ran.stderr and "usage:" in ran.stderr


def test_every_command_explains_itself() -> None:
    """Every sub-command's help has a description, its options, exit statuses and an example."""
    for name, parser in subcommands().items():
        text = parser.format_help()  # type: ignore[attr-defined]
        assert parser.description, name  # type: ignore[attr-defined]
        assert "exit status:" in text and re.search(r"^example", text, re.MULTILINE), name
        for action in parser._actions:  # type: ignore[attr-defined]
            assert action.help, f"{name} {action.option_strings or action.dest}"


def test_the_readme_command_table_matches_the_parser() -> None:
    """Every command is in the README's table, and every option a row shows exists."""
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `fdi-drift ")]
    shown = {re.match(r"\| `fdi-drift ([a-z]+)", row)[1]: row for row in rows}  # type: ignore[index]
    commands = subcommands()
    assert set(shown) == set(commands)
    for name, row in shown.items():
        usage = row.split("`")[1]
        known = {
            option
            for action in commands[name]._actions  # type: ignore[attr-defined]
            for option in action.option_strings
        }
        for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", usage):
            assert option in known, f"{name}: README shows {option}"
    assert "| 141 |" in README.read_text() or "141" in README.read_text()


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`fdi-drift history ... | head -1`: no traceback, no message, status 141."""
    store = History(tmp_path / "history.db")
    statuses = tuple(
        ResourceStatus(ResourceKey(FDI_TASK, PROJECT, INSTANCE, f"task-{n:04d}"), Status.DRIFTED)
        for n in range(3000)
    )
    store.record_cycle(CycleReport("r", 0, 1, statuses, complete=True))
    store.close()
    config = tmp_path / "config.yaml"
    config.write_text(f"history_db: {tmp_path / 'history.db'}\nauth: {{token_env: NONE_NEEDED}}\n")
    process = subprocess.Popen(
        [*CLI, "history", "-c", str(config), "--output", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"NONE_NEEDED": "x", "PATH": "/usr/bin:/bin"},
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == b"{\n"
    process.stdout.close()  # as `head -1` does
    code = process.wait(timeout=DEADLINE)
    assert (code, process.stderr.read()) == (141, b"")


def drifted_report() -> CycleReport:
    change = FieldChange("/task/description", ChangeOp.CHANGED, desired="ok", live="bad\x07<&>")
    statuses = (
        ResourceStatus(
            ResourceKey(FDI_TASK, PROJECT, INSTANCE, "orders"),
            Status.DRIFTED,
            changes=(change,),
            source="orders.yaml",
        ),
        ResourceStatus(ResourceKey(FDI_TASK, PROJECT, INSTANCE, "users"), Status.IN_SYNC),
        ResourceStatus(
            ResourceKey(FDI_TASK, PROJECT, INSTANCE, "cdc"), Status.UNKNOWN, reason="HTTP 503"
        ),
        ResourceStatus(ResourceKey(FDI_TASK, PROJECT, INSTANCE, "stray"), Status.UNMANAGED),
    )
    return CycleReport("abc123", 10.0, 12.5, statuses, complete=True)


def test_junit_has_a_case_per_declared_resource_and_drift_as_a_failure() -> None:
    root = ET.fromstring(report_to_junit(drifted_report()))  # noqa: S314 - our own output
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    (suite,) = root
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"orders", "users", "cdc"}  # unmanaged left out
    failure = cases["orders"].find("failure")
    assert failure is not None and failure.get("type") == "drifted"
    assert '~ /task/description: "bad\\u0007<&>" -> "ok"' in (failure.text or "")
    error = cases["cdc"].find("error")
    assert error is not None and error.get("message") == "unknown: HTTP 503"
    assert list(cases["users"]) == []
    assert cases["orders"].get("classname") == f"FdiTask.{PROJECT}/{INSTANCE}"


def test_colour_only_at_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert colour_wanted(Terminal(), False, {})
    assert not colour_wanted(io.StringIO(), False, {})
    assert not colour_wanted(Terminal(), True, {})
    assert not colour_wanted(Terminal(), False, {"NO_COLOR": "1"})
    assert colour_wanted(Terminal(), False, {"NO_COLOR": ""})  # empty: not set (no-color.org)
    assert not colour_wanted(Terminal(), False, {"TERM": "dumb"})
    coloured = render_text(drifted_report(), paint=Painter(True))
    assert "\033[31mdrifted\033[0m, 1 field" in coloured
    assert "\033[" not in render_text(drifted_report(), paint=Painter(False))


def test_version_and_completion() -> None:
    version = subprocess.run([*CLI, "version", "--output", "json"], capture_output=True, text=True)
    assert version.returncode == 0 and json.loads(version.stdout)["version"]
    script = subprocess.run([*CLI, "completion", "bash"], capture_output=True, text=True)
    assert script.returncode == 0
    for name in subcommands():
        assert name in script.stdout
    assert "--allow-empty" in script.stdout


# Against the emulator as a process


def test_an_empty_tree_is_an_error_unless_allowed(config: Path, tmp_path: Path) -> None:
    """A wrong path must not pass as in sync."""
    empty = cli("check", "-c", str(config))
    assert empty.returncode == 1
    assert "declares no resource" in empty.stderr and "--allow-empty" in empty.stderr
    assert cli("check", "-c", str(config), "--allow-empty").returncode == 0
    assert cli("validate", str(tmp_path / "desired")).returncode == 1
    assert cli("validate", str(tmp_path / "desired"), "--allow-empty").returncode == 0


def test_check_selects_resources_and_speaks_json_and_junit(config: Path, emulator_url: str) -> None:
    assert export(config).returncode == 0
    put(emulator_url, API_TASK, "edited by hand")
    drifted = cli("check", "-c", str(config), "--output", "junit")
    assert drifted.returncode == 2, drifted.stderr
    root = ET.fromstring(drifted.stdout)  # noqa: S314 - our own output
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    # The in-sync one alone: exit 0, the drifted one left out of the report.
    in_sync = cli("check", "-c", str(config), "--output", "json", "fdi_task_pzy4m5")
    assert in_sync.returncode == 0, in_sync.stdout
    body = json.loads(in_sync.stdout)
    assert [r["name"] for r in body["resources"]] == ["fdi_task_pzy4m5"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["finished_at"])
    by_id = cli("check", "-c", str(config), "--output", "json", API_TASK)
    assert by_id.returncode == 2
    (resource,) = json.loads(by_id.stdout)["resources"]
    assert resource["id"] == API_TASK and resource["drift_since"].endswith("Z")


def test_export_of_one_resource_by_selector(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "one"
    scope = f"{PROJECT}/{INSTANCE}"
    done = cli("export", "-c", str(config), "--out", str(out), "--scope", scope, "*pzy4m5")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in out.rglob("*.yaml")] == ["fdi_task_pzy4m5.yaml"]
    none = cli("export", "-c", str(config), "--out", str(out), "--scope", scope, "nothing")
    assert none.returncode == 1 and "no live resource" in none.stderr


@pytest.mark.slow
def test_the_packaged_demo_runs_outside_the_repository(tmp_path: Path) -> None:
    """A wheel built from this tree, run from an empty folder, ships its sample desired state."""
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("fdi_drift-*.whl")
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), wheel],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sys, fdi_drift; assert fdi_drift.__file__.startswith(sys.argv[1]), "
        "fdi_drift.__file__; from fdi_drift.cli import main; sys.exit(main(['demo']))"
    )
    demo = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert demo.returncode == 0, demo.stderr
    assert "FdiTask nodes-api-to-oracle" in demo.stdout and "Plan: 3 to update." in demo.stdout
    assert not (elsewhere / "desired_state").exists()


def test_the_python_running_the_tests_is_a_declared_one() -> None:
    """The package declares the Python versions its tests run on (classifiers)."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    running = f"Programming Language :: Python :: {sys.version_info[0]}.{sys.version_info[1]}"
    assert running in declared
    assert (ROOT / "LICENSE").read_text().startswith("Apache License")


def test_reconcile_json_times_are_rfc_3339(config: Path, emulator_url: str) -> None:
    assert export(config).returncode == 0
    put(emulator_url, API_TASK, "edited by hand")
    planned = cli("reconcile", "-c", str(config), "--output", "json")
    assert planned.returncode == 2, planned.stderr
    body = json.loads(planned.stdout)
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.fullmatch(stamp, body["started_at"]) and re.fullmatch(stamp, body["finished_at"])
    (drifted,) = [r for r in body["resources"] if r["status"] == "drifted"]
    assert re.fullmatch(stamp, drifted["drift_since"])
