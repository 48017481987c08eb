"""Helpers for tests that run fdi-drift as processes on 127.0.0.1: start, poll, scrape."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import INSTANCE, PROJECT, TOKEN, seed_000_as_get, seed_002

DEADLINE = 30.0
CLI = [sys.executable, "-m", "fdi_drift.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(what: str, probe: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` at the deadline."""
    end = time.monotonic() + deadline
    last: Any = None
    while time.monotonic() < end:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as error:
            last = error
        else:
            if last:
                return last
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}; last saw {last!r}")


@contextlib.contextmanager
def emulator_process(seeds: Path, *options: str) -> Iterator[str]:
    """`fdi-drift emulator` on a free port in a subprocess; yields its URL, stops it after."""
    process = subprocess.Popen(
        [*CLI, "emulator", "--port", "0", "--seed", str(seeds), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "emulator listening on" in line, line + (process.stderr.read() if process.stderr else "")
    try:
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE)


def write_seeds(root: Path, project: str, instance: str, *bodies: dict[str, Any]) -> Path:
    """Seed files (GET bodies) for one instance under `root`, as the emulator reads them."""
    folder = root / project / instance
    folder.mkdir(parents=True)
    for body in bodies:
        (folder / f"{body['task']['task_id']}.json").write_text(json.dumps(body))
    return root


@pytest.fixture
def emulator_url(tmp_path: Path) -> Iterator[str]:
    """`fdi-drift emulator` in a subprocess, seeded with the two seed tasks."""
    seeds = write_seeds(tmp_path / "seeds", PROJECT, INSTANCE, seed_002(), seed_000_as_get())
    with emulator_process(seeds, "--token", TOKEN) as url:
        yield url


@pytest.fixture
def config(tmp_path: Path, emulator_url: str) -> Path:
    """A daemon configuration for the emulator, with a fast cycle and fast retries."""
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
desired_state: desired
endpoints:
  fdi: "{emulator_url}"
  drs: "{emulator_url}"
  iam: "{emulator_url}"
  cts: "{emulator_url}"
auth: {{token_file: token}}
interval_seconds: 1
jitter_seconds: 0
reload_seconds: 1
full_sweep_every: 1
retry_attempts: 2
retry_base_delay_seconds: 0.01
request_timeout_seconds: 1
listen: 127.0.0.1:{port}
"""
    )
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "desired").mkdir()
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=DEADLINE)


def export(config: Path) -> subprocess.CompletedProcess[str]:
    """`fdi-drift export` of the emulated instance into the configuration's desired state."""
    out = config.parent / "desired"
    return cli("export", "-c", str(config), "--out", str(out), "--scope", f"{PROJECT}/{INSTANCE}")


def put(emulator_url: str, task_id: str, description: str, token: str = TOKEN) -> None:
    """Change a task's description through the emulator's PUT, as a person would."""
    base = f"{emulator_url}/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks/{task_id}"
    headers = {"X-Auth-Token": token}
    answer = httpx.get(base, headers=headers).json()
    task = answer["task"]
    body = {
        "task": {
            "task_name": task["task_name"],
            "task_type": task["task_type"].upper(),
            "source_datasource_id": task["source_datasource_id"],
            "target_datasource_id": task["target_datasource_id"],
            "description": description,
            **({"task_tag": task["task_tag"]} if "task_tag" in task else {}),
        },
        "task_detail": answer["task_detail"],
    }
    assert httpx.put(base, json=body, headers=headers).status_code == 200


def samples(url: str, name: str) -> dict[str, float]:
    """Values of one metric family from a scrape, keyed by the task's `resource` label."""
    text = httpx.get(f"{url}/metrics").text
    return {
        sample.labels.get("resource", ""): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }
