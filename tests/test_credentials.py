"""Credentials as real accounts use them, end to end over 127.0.0.1: AK/SK, IAM, token file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_TASK, INSTANCE, PROJECT, seed_000_as_get, seed_002
from tests.conftest import TOKEN as PERSON_TOKEN  # what put() edits tasks with, as a person
from tests.processes import CLI, DEADLINE, cli, free_port, put, samples, wait_for

pytestmark = pytest.mark.slow  # the emulator and the daemon run as processes

# Known credentials, so that every output can be searched for them afterwards.
TOKEN = "tok-3f9a1c77e0b54d2e9a8c6b1d"
PASSWORD = "pw-S3cr3t-Hunter2-9q"
AK = "AKLEAKTEST7Q2W9E3R"
SK = "sk-LeakTest-5c1e9b7a3d2f8e6a4b0c"
SK_ROTATED = "sk-Rotated-0a9b8c7d6e5f4a3b2c1d"
SECRETS = (TOKEN, PASSWORD, AK, SK, SK_ROTATED)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[str]:
    """The emulator as a process, accepting a token, an IAM user and a key pair."""
    seeds = tmp_path / "seeds" / PROJECT / INSTANCE
    seeds.mkdir(parents=True)
    for body in (seed_002(), seed_000_as_get()):
        (seeds / f"{body['task']['task_id']}.json").write_text(json.dumps(body))
    process = subprocess.Popen(
        [
            *CLI,
            "emulator",
            "--port",
            "0",
            "--seed",
            str(tmp_path / "seeds"),
            "--token",
            TOKEN,
            "--token",
            PERSON_TOKEN,
            "--user",
            f"acme/drift-bot:{PASSWORD}",
            "--key-pair",
            f"{AK}:{SK}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "emulator listening on" in line, line
    try:
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE)


def configure(tmp_path: Path, url: str, auth: str) -> Path:
    """A configuration using `auth`, with credential files written beside it."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "password").write_text(PASSWORD + "\n")
    (tmp_path / "ak").write_text(AK + "\n")
    (tmp_path / "sk").write_text(SK + "\n")
    (tmp_path / "desired").mkdir(exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
desired_state: desired
endpoints: {{fdi: "{url}", drs: "{url}", iam: "{url}"}}
auth: {auth}
interval_seconds: 1
jitter_seconds: 0
reload_seconds: 1
full_sweep_every: 1
retry_attempts: 3
retry_base_delay_seconds: 0.01
request_timeout_seconds: 2
listen: 127.0.0.1:{free_port()}
log_level: DEBUG
reconcile: {{mode: auto}}
"""
    )
    return path


AUTH_MODES = {
    "aksk files": "{aksk: {ak_file: ak, sk_file: sk}}",
    "iam password": "{iam_password: {domain: acme, user: drift-bot, password_file: password, "
    f"project_id: {PROJECT}}}}}",
    "token file": "{token_file: token}",
}


def requests_seen(url: str) -> list[dict[str, object]]:
    answer: list[dict[str, object]] = httpx.get(f"{url}/_emulator/requests").json()
    return answer


@pytest.mark.parametrize("mode", list(AUTH_MODES))
def test_each_credential_mode_checks_and_corrects_without_leaking(
    tmp_path: Path, cloud: str, mode: str
) -> None:
    """export, check, reconcile --apply and the daemon all work; no secret shows anywhere."""
    config = configure(tmp_path, cloud, AUTH_MODES[mode])
    outputs: list[str] = []

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = cli(*args)
        outputs.extend((result.stdout, result.stderr))
        return result

    exported = run(
        "export",
        "-c",
        str(config),
        "--out",
        str(tmp_path / "desired"),
        "--scope",
        f"{PROJECT}/{INSTANCE}",
    )
    assert exported.returncode == 0, exported.stderr
    put(cloud, API_TASK, "edited by hand")
    assert run("check", "-c", str(config), "--output", "json").returncode == 2
    applied = run("reconcile", "-c", str(config), "--apply", "--output", "json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    put(cloud, API_TASK, "edited again")
    port = config.read_text().split("listen: 127.0.0.1:", 1)[1].split()[0]
    log = tmp_path / "daemon.log"
    with log.open("w") as sink:
        daemon = subprocess.Popen([*CLI, "run", "-c", str(config)], stdout=sink, stderr=sink)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for(
                "the daemon's correction", lambda: b"applied" in httpx.get(f"{url}/metrics").content
            )
            outputs.append(httpx.get(f"{url}/metrics").text)
            outputs.append(httpx.get(f"{url}/api/v1/status").text)
            outputs.append(httpx.get(f"{url}/readyz").text)
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=DEADLINE) == 0
    outputs.append(log.read_text())
    outputs.append((tmp_path / "fdi-drift-audit.jsonl").read_text())
    everything = "\n".join(outputs)
    assert '"level": "debug"' in everything  # the daemon really logged at every level
    for secret in SECRETS:
        assert secret not in everything, f"{mode}: a credential leaked"


def test_rotated_key_file_is_picked_up_and_a_wrong_key_causes_no_retry_storm(
    tmp_path: Path, cloud: str
) -> None:
    """A wrong SK: one 401 per request, status unknown; new key files: in sync, no restart."""
    config = configure(tmp_path, cloud, AUTH_MODES["aksk files"])
    assert (
        cli(
            "export",
            "-c",
            str(config),
            "--out",
            str(tmp_path / "desired"),
            "--scope",
            f"{PROJECT}/{INSTANCE}",
        ).returncode
        == 0
    )
    port = config.read_text().split("listen: 127.0.0.1:", 1)[1].split()[0]
    url = f"http://127.0.0.1:{port}"
    daemon = subprocess.Popen(
        [*CLI, "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        wait_for("in sync", lambda: samples(url, "fdi_drift_resource_drifted").get(API_TASK) == 0.0)
        # The account's secret is rotated at the cloud first: our key is now wrong.
        rotated = [{"access_key": AK, "secret_key": SK_ROTATED}]
        assert httpx.put(f"{cloud}/_emulator/key-pairs", json=rotated).status_code < 300
        httpx.delete(f"{cloud}/_emulator/requests")

        def unknown() -> bool:
            status = httpx.get(f"{url}/api/v1/status").json()
            return any(
                r["status"] == "unknown" and "401" in r["reason"] for r in status["resources"]
            )

        def cycles() -> float:
            return samples(url, "fdi_drift_cycle_duration_seconds_count")[""]

        before = cycles()
        wait_for("unknown after the key went wrong", unknown)
        wait_for("three cycles with the wrong key", lambda: cycles() >= before + 3)
        elapsed = cycles() - before
        rejected = [r for r in requests_seen(cloud) if r["status"] == 401]
        # Two lists per cycle (the project's instances, the instance's tasks), each sent once:
        # a retry would multiply the 401s.
        assert 1 <= len(rejected) <= 2 * (elapsed + 1), (len(rejected), elapsed)
        # Then the new secret is mounted: picked up without a restart.
        (tmp_path / "sk").write_text(SK_ROTATED + "\n")
        wait_for(
            "in sync with the rotated key",
            lambda: (
                samples(url, "fdi_drift_resource_drifted").get(API_TASK) == 0.0 and not unknown()
            ),
        )
        assert daemon.poll() is None
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=DEADLINE)
