"""Sharded daemons as processes: three, then four, `fdi-drift run` against one emulator process."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fdi_drift.sharding import owner
from tests.conftest import INSTANCE, PROJECT, TOKEN, seed_002
from tests.processes import CLI, DEADLINE, cli, emulator_process, free_port, wait_for, write_seeds

pytestmark = pytest.mark.slow

TASKS = {f"{n:032x}": f"sharded_{n:02d}" for n in range(1, 31)}
AUTO = sorted(TASKS)[::4]  # drift, and `policy: {reconcile: auto}`: written back
OBSERVED = sorted(TASKS)[2::4]  # drift under `policy: {reconcile: observe}`: left alone
TASKS_URL = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks"


def seed(task_id: str, name: str) -> dict[str, object]:
    body = copy.deepcopy(seed_002())
    body["task"]["task_id"] = task_id
    body["task"]["task_name"] = name
    return body


def configure(root: Path, emulator_url: str, **keys: object) -> Path:
    """A daemon configuration in its own folder (its own audit log) on the shared desired state."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "token").write_text(TOKEN + "\n")
    lines = [f"{key}: {json.dumps(value)}" for key, value in keys.items()]
    path = root / "config.yaml"
    path.write_text(
        f"""
desired_state: {root.parent / "desired"}
endpoints: {{fdi: "{emulator_url}", drs: "{emulator_url}", iam: "{emulator_url}"}}
auth: {{token_file: token}}
interval_seconds: 1
jitter_seconds: 0
reload_seconds: 1
full_sweep_every: 1
retry_attempts: 2
retry_base_delay_seconds: 0.01
request_timeout_seconds: 2
rate_limit_per_second: 300
reconcile: {{mode: auto, max_writes_per_cycle: 50}}
listen: 127.0.0.1:{free_port()}
"""
        + "\n".join(lines)
        + "\n"
    )
    return path


def hand_edit(emulator_url: str, task_id: str) -> None:
    """Change a declared field of a task through the emulator's PUT, as a person would."""
    url = f"{emulator_url}{TASKS_URL}/{task_id}"
    headers = {"X-Auth-Token": TOKEN}
    answer = httpx.get(url, headers=headers).json()
    task, detail = answer["task"], json.loads(answer["task_detail"])
    detail["sourceSelectedDatasource"]["orderType"] = "DESC"
    keys = ("task_name", "source_datasource_id", "target_datasource_id", "task_tag")
    body = {
        "task": {
            **{key: task[key] for key in keys if key in task},
            "task_type": task["task_type"].upper(),
        },
        "task_detail": json.dumps(detail, separators=(",", ":")),
    }
    assert httpx.put(url, json=body, headers=headers).status_code == 200


@contextlib.contextmanager
def replicas(configs: list[Path]) -> Iterator[list[str]]:
    """`fdi-drift run` for each configuration; yields their URLs once each is ready."""
    processes: list[subprocess.Popen[str]] = []
    urls = []
    try:
        for config in configs:
            port = config.read_text().split("listen: 127.0.0.1:", 1)[1].split()[0]
            urls.append(f"http://127.0.0.1:{port}")
            log = config.parent / "daemon.log"
            processes.append(
                subprocess.Popen(
                    [*CLI, "run", "-c", str(config)],
                    stdout=subprocess.DEVNULL,
                    stderr=log.open("w"),
                    text=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )
        for url in urls:
            wait_for(f"{url} ready", lambda url=url: httpx.get(f"{url}/readyz").status_code == 200)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            assert process.wait(timeout=DEADLINE) == 0


def reported(url: str) -> dict[str, tuple[str, float]]:
    """Each task a replica reports: its id -> (the shard label, drifted)."""
    text = httpx.get(f"{url}/metrics").text
    return {
        sample.labels["resource"]: (sample.labels["shard"], sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "fdi_drift_resource_drifted"
    }


def owners(urls: list[str]) -> dict[str, str] | None:
    """Which shard reports each task, once every task is reported exactly once (else None)."""
    found: dict[str, str] = {}
    for url in urls:
        for task_id, (shard, _) in reported(url).items():
            if task_id in found:
                pytest.fail(f"{task_id} is reported by shards {found[task_id]} and {shard}")
            found[task_id] = shard
    return found if set(found) == set(TASKS) else None


def puts(emulator_url: str) -> dict[str, int]:
    """The emulator's PUT requests since its log was last emptied, counted by task id."""
    log = httpx.get(f"{emulator_url}/_emulator/requests").json()
    counts: dict[str, int] = {}
    for request in log:
        if request["method"] == "PUT" and request["path"].startswith(TASKS_URL):
            task_id = request["path"].rsplit("/", 1)[1]
            counts[task_id] = counts.get(task_id, 0) + 1
    return counts


def test_replicas_share_the_tasks_and_a_fourth_takes_only_its_own(tmp_path: Path) -> None:
    """Three replicas report each task once and write each drifted auto task once; restarted
    as four, the tasks that change hands are exactly those whose owner changes, all to shard 3."""
    seeds = write_seeds(tmp_path / "seeds", PROJECT, INSTANCE, *map(seed, TASKS, TASKS.values()))
    with emulator_process(seeds, "--token", TOKEN) as emulator_url:
        plain = configure(tmp_path / "one-shot", emulator_url, shards=3)  # check acts on all
        out = tmp_path / "desired"
        scope = f"{PROJECT}/{INSTANCE}"
        exported = cli("export", "-c", str(plain), "--out", str(out), "--scope", scope)
        assert exported.returncode == 0, exported.stderr
        folder = out / PROJECT / INSTANCE
        for task_id, reconcile in [(t, "auto") for t in AUTO] + [(t, "observe") for t in OBSERVED]:
            path = folder / f"{TASKS[task_id]}.yaml"
            path.write_text(path.read_text() + f"policy:\n  reconcile: {reconcile}\n")
            hand_edit(emulator_url, task_id)
        checked = cli("check", "-c", str(plain), "--output", "json")
        assert checked.returncode == 2, checked.stderr  # not sharded: sees every drifted task
        summary = json.loads(checked.stdout)["summary"]
        drifted = len(AUTO) + len(OBSERVED)
        assert (summary["drifted"], summary["in_sync"]) == (drifted, len(TASKS) - drifted)
        assert httpx.delete(f"{emulator_url}/_emulator/requests").status_code == 204

        three = [
            configure(tmp_path / f"three-{i}", emulator_url, shards=3, shard=i) for i in range(3)
        ]
        with replicas(three) as urls:
            before = wait_for("every task reported once", lambda: owners(urls))

            def settled() -> bool:
                drifted = {t for url in urls for t, (_, d) in reported(url).items() if d}
                return drifted == set(OBSERVED)

            wait_for("the auto tasks written back", settled)
        assert puts(emulator_url) == dict.fromkeys(AUTO, 1)
        assert set(before.values()) == {"0", "1", "2"}
        for task_id, shard in before.items():
            assert owner(f"FdiTask/{PROJECT}/{INSTANCE}/{TASKS[task_id]}", 3) == int(shard)

        four = [
            configure(tmp_path / f"four-{i}", emulator_url, shards=4, shard=i) for i in range(4)
        ]
        with replicas(four) as urls:
            after = wait_for("every task reported once by four", lambda: owners(urls))
        assert puts(emulator_url) == dict.fromkeys(AUTO, 1)  # nothing more to write
    moved = {task_id for task_id in TASKS if before[task_id] != after[task_id]}
    expected = {
        task_id
        for task_id, name in TASKS.items()
        if owner(f"FdiTask/{PROJECT}/{INSTANCE}/{name}", 4)
        != owner(f"FdiTask/{PROJECT}/{INSTANCE}/{name}", 3)
    }
    assert moved == expected and moved
    assert {after[task_id] for task_id in moved} == {"3"}
