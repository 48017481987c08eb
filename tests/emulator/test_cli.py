"""The command line: arguments, refusing bad seeds, and a real process on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import pathlib
import selectors
import signal
import subprocess
import sys
import time

import httpx
import pytest

from fdi_drift.emulator.cli import add_arguments, run
from fdi_drift.emulator.iam import IamUser
from tests.emulator.conftest import BASE, ORDERS, PROJECT, SAMPLES, TOKEN, sample_body

DEADLINE_SECONDS = 30.0


def parse(*argv: str) -> argparse.Namespace:
    """Parse emulator arguments as `fdi-drift emulator` would."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_arguments_and_defaults() -> None:
    """Options parse into the values the emulator needs, with documented defaults."""
    args = parse(
        "--port",
        "0",
        "--seed",
        "dir",
        "--token",
        "a",
        "--token",
        "b",
        "--user",
        "acme/ops:pa:ss/w",
        "--fail-rate",
        "0.1",
        "--random-seed",
        "3",
    )
    assert (args.host, args.port, args.seed) == ("127.0.0.1", 0, pathlib.Path("dir"))
    assert args.token == ["a", "b"]
    assert args.user == [IamUser(domain="acme", name="ops", password="pa:ss/w")]
    assert (args.fail_rate, args.throttle_rate, args.random_seed) == (0.1, 0.0, 3)
    assert (args.token_ttl, args.latency_ms) == (86400.0, 0)


@pytest.mark.parametrize("user", ["no-slash:pw", "acme/no-colon", "/ops:pw", "acme/ops:"])
def test_malformed_user_is_refused(user: str) -> None:
    """A --user value not of the form DOMAIN/NAME:PASSWORD is a usage error."""
    with pytest.raises(SystemExit) as caught:
        parse("--port", "0", "--seed", "dir", "--user", user)
    assert caught.value.code == 2


def test_bad_seed_refuses_to_start(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run() returns 1 and names the bad file when a seed is unusable."""
    bad = tmp_path / PROJECT / "instance" / "task.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{")
    assert run(parse("--port", "0", "--seed", str(tmp_path))) == 1
    assert str(bad) in capsys.readouterr().err


def test_bad_rate_refuses_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    """run() returns 1 for a rate outside 0-1."""
    assert run(parse("--port", "0", "--seed", str(SAMPLES), "--fail-rate", "3")) == 1
    assert "fail_rate" in capsys.readouterr().err


def read_line(process: subprocess.Popen[str], deadline: float) -> str:
    """The next stdout line of a process, failing once the deadline passes."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                return process.stdout.readline()
    raise AssertionError("the emulator did not print its ready line in time")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_process_serves_until_signalled(signum: signal.Signals) -> None:
    """The emulator process prints its URL, answers a request and exits 0 on SIGTERM/SIGINT."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "fdi_drift.emulator",
        "--port",
        "0",
        "--seed",
        str(SAMPLES),
        "--token",
        TOKEN,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        line = read_line(process, time.monotonic() + DEADLINE_SECONDS)
        assert line.startswith("emulator listening on http://127.0.0.1:")
        url = line.removeprefix("emulator listening on ").strip()
        assert not url.endswith(":0")
        answer = httpx.get(f"{url}{BASE}/tasks/{ORDERS}", headers={"X-Auth-Token": TOKEN})
        assert answer.json() == sample_body(ORDERS)
        process.send_signal(signum)
        assert process.wait(timeout=DEADLINE_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()
