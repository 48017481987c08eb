"""`fdi-drift adopt` as a person runs it: a hand edit kept, in one commit, then in sync."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import API_TASK
from tests.processes import cli, export, put


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_adopt_commits_one_line_on_a_branch_and_the_check_is_in_sync(
    config: Path, emulator_url: str, tmp_path: Path
) -> None:
    assert export(config).returncode == 0
    git(tmp_path, "init", "-q", "-b", "main")
    (file,) = [p for p in (tmp_path / "desired").rglob("*.yaml") if "v2mysql" in p.name]
    file.write_text("# orders, kept by the data team\n" + file.read_text())
    git(tmp_path, "add", "desired")
    git(tmp_path, "commit", "-q", "-m", "desired state")
    before = file.read_text()
    put(emulator_url, API_TASK, "kept by hand")
    assert cli("check", "-c", str(config)).returncode == 2

    adopted = cli("adopt", "-c", str(config), API_TASK, "--commit", "--branch", "keep-edit")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert "+    description: kept by hand" in adopted.stdout  # the diff
    assert "Committed " in adopted.stdout and "on branch keep-edit" in adopted.stdout
    after = file.read_text()
    changed = [
        (old, new)
        for old, new in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]
    assert changed == [("    description: mysql", "    description: kept by hand")]
    assert after.startswith("# orders, kept by the data team\n")
    assert git(tmp_path, "rev-parse", "--abbrev-ref", "HEAD").strip() == "keep-edit"
    assert git(tmp_path, "rev-list", "--count", "main..keep-edit").strip() == "1"
    shown = git(tmp_path, "show", "--stat", "--format=%s", "HEAD")
    assert "description" in shown.splitlines()[0] and file.name in shown
    assert cli("check", "-c", str(config)).returncode == 0


def test_adopt_usage_errors(config: Path) -> None:
    missing = cli("adopt", "-c", str(config))
    assert missing.returncode == 1 and "SELECTOR" in missing.stderr
    loose = cli("adopt", "-c", str(config), "x", "--branch", "b")
    assert loose.returncode == 1 and "go with --commit" in loose.stderr
