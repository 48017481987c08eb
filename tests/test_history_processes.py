"""Drift history end to end: the emulator, the daemon, `reconcile` and `history` as processes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_TASK, INSTANCE, PROJECT, TOKEN, seed_000_as_get, seed_002
from tests.processes import (
    CLI,
    DEADLINE,
    cli,
    emulator_process,
    export,
    free_port,
    put,
    wait_for,
    write_seeds,
)

pytestmark = pytest.mark.slow

ALICE = "alice-token-7f3e"


def episodes(config: Path) -> list[dict[str, Any]]:
    listed = cli("history", "-c", str(config), "--output", "json")
    assert listed.returncode == 0, listed.stderr
    found: list[dict[str, Any]] = json.loads(listed.stdout)["episodes"]
    return found


def test_an_edit_by_a_known_user_is_shown_and_reconcile_closes_its_episode(
    tmp_path: Path,
) -> None:
    seeds = write_seeds(tmp_path / "seeds", PROJECT, INSTANCE, seed_002(), seed_000_as_get())
    with emulator_process(seeds, "--token", TOKEN, "--token", f"{ALICE}=acme/alice") as emulator:
        port = free_port()
        config = tmp_path / "config.yaml"
        config.write_text(
            "desired_state: desired\n"
            "endpoints:\n"
            + "".join(f'  {name}: "{emulator}"\n' for name in ("fdi", "drs", "iam", "cts"))
            + "auth: {token_file: token}\n"
            "interval_seconds: 1\njitter_seconds: 0\nreload_seconds: 1\n"
            "retry_attempts: 2\nretry_base_delay_seconds: 0.01\nrequest_timeout_seconds: 2\n"
            "history_db: history.db\naudit_log: audit.jsonl\n"
            f"listen: 127.0.0.1:{port}\n"
        )
        (tmp_path / "token").write_text(TOKEN + "\n")
        (tmp_path / "desired").mkdir()
        assert export(config).returncode == 0
        url = f"http://127.0.0.1:{port}"
        with (tmp_path / "daemon.log").open("w") as log:
            daemon = subprocess.Popen(
                [*CLI, "run", "-c", str(config)],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                wait_for("readiness", lambda: httpx.get(f"{url}/readyz").status_code == 200)
                put(emulator, API_TASK, "edited by hand", token=ALICE)

                def attributed() -> bool:
                    found = episodes(config)
                    return bool(found) and found[0]["changed_by"] is not None

                wait_for("the drift attributed", attributed)
                (episode,) = episodes(config)
                assert episode["resource"] == API_TASK
                assert episode["changed_by"]["user"] == "alice"
                assert episode["changed_by"]["source_ip"] == "127.0.0.1"
                assert (episode["closed_at"], episode["resolution"]) == (None, None)
                assert "alice" in httpx.get(f"{url}/").text
                text = cli("history", "-c", str(config), API_TASK).stdout
                assert "changed by: alice from 127.0.0.1" in text

                fixed = cli("reconcile", "-c", str(config), "--apply")
                assert fixed.returncode == 0, fixed.stdout + fixed.stderr
                (episode,) = episodes(config)
                assert episode["resolution"] == "reconciled"
                assert episode["closed_at"] is not None
                # The daemon's next cycles see it in sync and open nothing new.
                wait_for(
                    "the daemon in sync",
                    lambda: httpx.get(f"{url}/api/v1/status").json()["summary"]["drifted"] == 0,
                )
                assert len(episodes(config)) == 1
            finally:
                daemon.terminate()
                assert daemon.wait(timeout=DEADLINE) == 0
