"""Tests for the log formats: JSON lines for machines, one plain line for people."""

from __future__ import annotations

import io
import json
import logging
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.logs import JsonLinesFormatter, LogFormat, TextLineFormatter, chosen_format
from tests.processes import CLI, DEADLINE, cli, export, wait_for


def make_record(
    message: str, extra: dict[str, Any] | None = None, *, failing: bool = False
) -> logging.LogRecord:
    """A record as `logging.getLogger("fdi_drift.engine").warning(message, extra=...)` makes."""
    exc_info = None
    if failing:
        try:
            raise KeyError("task_id")
        except KeyError as error:
            exc_info = (type(error), error, error.__traceback__)
    return logging.getLogger("fdi_drift.engine").makeRecord(
        "fdi_drift.engine", logging.WARNING, __file__, 1, message, (), exc_info, extra=extra
    )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_json_line_carries_the_fields_and_every_extra() -> None:
    """time, level, logger, message, then each `extra` field with its JSON type kept."""
    extra = {"resource": {"id": "t1"}, "pointers": ["/task/description"], "seconds": 1.5}
    line = JsonLinesFormatter().format(make_record("resource drifted", extra))
    event = json.loads(line)
    assert list(event)[:4] == ["time", "level", "logger", "message"]
    assert event["time"].endswith("+00:00")
    assert event | {"time": None} == {
        "time": None,
        "level": "warning",
        "logger": "fdi_drift.engine",
        "message": "resource drifted",
        **extra,
    }


def test_uvicorns_coloured_copy_of_the_message_is_left_out() -> None:
    """uvicorn's `color_message` extra (the message with ANSI codes) is in neither format."""
    record = make_record("Started server process [1]", {"color_message": "\x1b[36m1\x1b[0m"})
    assert "color_message" not in json.loads(JsonLinesFormatter().format(record))
    text = TextLineFormatter().format(record)
    assert "color_message" not in text and "\x1b" not in text


def test_an_exception_is_one_error_field_never_a_traceback() -> None:
    """log.exception gives "error": "Type: message" on the one line, and no traceback."""
    line = JsonLinesFormatter().format(make_record("cycle failed", failing=True))
    assert "\n" not in line and "Traceback" not in line
    event = json.loads(line)
    assert event["error"] == "KeyError: 'task_id'"
    assert set(event) == {"time", "level", "logger", "message", "error"}


def test_a_text_line_is_one_line_with_extras_as_key_value() -> None:
    """Time, level, logger and message, then key=value; values with spaces or structure quoted."""
    extra = {"url": "http://127.0.0.1:9108", "credentials": "token file", "resources": 2}
    line = TextLineFormatter().format(make_record("listening\nagain", extra, failing=True))
    assert "\n" not in line
    time_text, level, rest = line.split(" ", 2)
    assert time_text.endswith("+00:00") and level == "WARNING"
    assert rest.strip() == (
        "fdi_drift.engine: listening\\nagain url=http://127.0.0.1:9108 "
        'credentials="token file" resources=2 error="KeyError: \'task_id\'"'
    )


@pytest.mark.parametrize(
    ("choice", "daemon", "terminal", "chosen"),
    [
        (LogFormat.AUTO, False, True, LogFormat.TEXT),
        (LogFormat.AUTO, False, False, LogFormat.JSON),
        (LogFormat.AUTO, True, True, LogFormat.JSON),  # the daemon's logs are for a collector
        (LogFormat.TEXT, True, False, LogFormat.TEXT),  # an explicit choice always holds
        (LogFormat.JSON, False, True, LogFormat.JSON),
    ],
)
def test_auto_is_text_only_for_a_command_on_a_terminal(
    choice: LogFormat, daemon: bool, terminal: bool, chosen: LogFormat
) -> None:
    """AUTO picks JSON for `run` and for a stderr that is not a terminal, text otherwise."""
    stream = _Terminal() if terminal else io.StringIO()
    assert chosen_format(choice, daemon=daemon, stream=stream) is chosen


def _loaded_events(stderr: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in stderr.splitlines()]
    return [e for e in events if e["message"] == "desired state loaded"]


def test_log_format_json_gives_json_lines_on_stderr(config: Path) -> None:
    """`--log-format json` on a command: every stderr line is a JSON object with its extras."""
    assert export(config).returncode == 0
    result = cli("--log-format", "json", "--log-level", "INFO", "check", "-c", str(config))
    assert result.returncode == 0, result.stderr
    (loaded,) = _loaded_events(result.stderr)
    assert loaded["level"] == "info" and loaded["logger"] == "fdi_drift.service"
    assert loaded["resources"] == 2 and loaded["revision"]


def test_auto_on_a_pipe_gives_json(config: Path) -> None:
    """With no --log-format and stderr piped (not a terminal), the lines are JSON."""
    assert export(config).returncode == 0
    result = cli("--log-level", "INFO", "check", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert len(_loaded_events(result.stderr)) == 1


def test_auto_on_a_terminal_gives_text(config: Path) -> None:
    """With stderr on a terminal, a command's logs are plain lines with key=value extras."""
    assert export(config).returncode == 0
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [*CLI, "--log-level", "INFO", "check", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    try:
        output = _read_until_closed(controller)
        assert process.wait(timeout=DEADLINE) == 0
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    (line,) = [line for line in output.splitlines() if "desired state loaded" in line]
    assert not line.startswith("{")
    assert " INFO " in line and "fdi_drift.service: desired state loaded" in line
    assert "resources=2" in line


def _read_until_closed(fd: int) -> str:
    """Everything written to a pseudo-terminal until its last writer closes it."""
    chunks: list[bytes] = []
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # Linux: EIO once the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    else:
        pytest.fail("the terminal was not closed in time")
    return b"".join(chunks).decode(errors="replace")


def test_the_daemon_logs_named_jobs_as_json(config: Path, tmp_path: Path) -> None:
    """`run` logs JSON; the scheduler's jobs have readable names, uvicorn no colour codes."""
    assert export(config).returncode == 0
    port = config.read_text().rsplit(":", 1)[1].strip()
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*CLI, "--log-level", "INFO", "run", "-c", str(config)],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            url = f"http://127.0.0.1:{port}/readyz"
            wait_for("readiness", lambda: httpx.get(url).status_code == 200)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=DEADLINE) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log_path.read_text()
    events = [json.loads(line) for line in text.splitlines()]
    added = sorted(e["message"] for e in events if e["message"].startswith("Added job"))
    assert added == [
        'Added job "check cycle" to job store "default"',
        'Added job "desired-state reload" to job store "default"',
    ]
    assert any(e["logger"].startswith("uvicorn") for e in events)
    assert "_guarded" not in text and "color_message" not in text and "\x1b" not in text
