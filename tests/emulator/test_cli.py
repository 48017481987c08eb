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
from fdi_drift.emulator.credentials import KeyPair
from fdi_drift.emulator.iam import IamUser
from tests.emulator.conftest import BASE, KEY, ORDERS, PROJECT, SAMPLES, TOKEN, sample_body
from tests.emulator.signer import sign

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
    assert (args.key_pair, args.credentials) == ([], None)


def test_key_pairs_and_credentials_file_parse() -> None:
    """--key-pair splits at the first colon (a secret may hold more); --credentials is a path."""
    args = parse(
        "--port", "0", "--seed", "dir", "--key-pair", "AK1:s:e:c", "--credentials", "c.yaml"
    )
    assert args.key_pair == [KeyPair("AK1", "s:e:c")]
    assert args.credentials == pathlib.Path("c.yaml")


@pytest.mark.parametrize("pair", ["hidden-value", ":hidden-value", "AK:", "A K:hidden-value"])
def test_malformed_key_pair_is_refused(pair: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A --key-pair value that is not AK:SK with a usable access key is a usage error."""
    with pytest.raises(SystemExit) as caught:
        parse("--port", "0", "--seed", "dir", "--key-pair", pair)
    assert caught.value.code == 2
    assert "hidden-value" not in capsys.readouterr().err


def test_bad_credentials_file_refuses_to_start(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run() returns 1 and names the file when the credentials file is unusable."""
    bad = tmp_path / "creds.yaml"
    bad.write_text("key_pairs: [{access_key: AK}]\n")
    assert run(parse("--port", "0", "--seed", str(SAMPLES), "--credentials", str(bad))) == 1
    assert f"{bad}: key_pairs[0].secret_key" in capsys.readouterr().err


def test_access_key_in_both_option_and_file_refuses_to_start(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An access key given by --key-pair and again in the file is refused, not silently merged."""
    creds = tmp_path / "creds.yaml"
    creds.write_text("key_pairs: [{access_key: AK1, secret_key: from-file}]\n")
    argv = ("--port", "0", "--seed", str(SAMPLES), "--credentials", str(creds))
    assert run(parse(*argv, "--key-pair", "AK1:from-option")) == 1
    err = capsys.readouterr().err
    assert "AK1 is listed twice" in err
    assert "from-file" not in err and "from-option" not in err


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


def test_process_verifies_signed_requests_with_keys_from_a_file(tmp_path: pathlib.Path) -> None:
    """Over a real socket, a request signed with a key from --credentials (Host with port) reads
    a task, and the answer carries exactly one Date header."""
    creds = tmp_path / "creds.json"
    creds.write_text(
        f'{{"key_pairs": [{{"access_key": "{KEY.access_key}", "secret_key": "{KEY.secret_key}"}}]}}'
    )
    command = [
        sys.executable,
        "-m",
        "fdi_drift.emulator",
        "--port",
        "0",
        "--seed",
        str(SAMPLES),
        "--credentials",
        str(creds),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        line = read_line(process, time.monotonic() + DEADLINE_SECONDS)
        url = line.removeprefix("emulator listening on ").strip()
        with httpx.Client(base_url=url) as http:
            request = http.build_request("GET", f"{BASE}/tasks/{ORDERS}")
            assert request.headers["host"] == url.removeprefix("http://")
            sign(request, KEY.access_key, KEY.secret_key, at=time.time())
            answer = http.send(request)
            unsigned = http.get(f"{BASE}/tasks/{ORDERS}")
        assert answer.json() == sample_body(ORDERS)
        assert len(answer.headers.get_list("date")) == 1
        assert unsigned.status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()
