"""Tests for the audit log."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fdi_drift.audit import MAX_LINE, AuditLog
from fdi_drift.drift.model import Kind, ResourceKey
from fdi_drift.errors import AuditError

# Long enough for a slow machine, short enough that a hang fails instead of stalling CI.
DEADLINE = 60.0


def _intent(log: AuditLog, **resource: Any) -> str:
    return log.intent(resource=resource, revision="r", live_before=None, requests=[])


def _records(path: Path) -> list[dict[str, Any]]:
    """Every line of the file as JSON; fails the test on a line that is not."""
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1]]


def _run(code: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter, killed at the deadline so a hang fails the test."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=True,
    )


@pytest.fixture
def broken_disk(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make os.write fail ("enospc"), write half its bytes ("short"), or work again ("ok")."""
    real_write = os.write

    def enospc(descriptor: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def short(descriptor: int, data: bytes) -> int:
        return real_write(descriptor, bytes(data)[: len(data) // 2])

    def set_mode(mode: str) -> None:
        if mode == "ok":
            monkeypatch.setattr(os, "write", real_write)
        else:
            monkeypatch.setattr(os, "write", {"enospc": enospc, "short": short}[mode])

    return set_mode


def test_intent_then_outcome_lines(tmp_path: Path) -> None:
    """Each record is one JSON line with time, event and the id tying the pair together."""
    log = AuditLog(tmp_path / "a" / "audit.jsonl", clock=lambda: 0.0)
    record = log.intent(
        resource={"name": "t"}, revision="r", live_before={"x": 1}, requests=[{"request": "PUT /p"}]
    )
    log.outcome(record, result="applied", verification={"in_sync": True})
    intent, outcome = _records(log.path)
    assert intent["event"] == "intent" and outcome["event"] == "outcome"
    assert intent["id"] == outcome["id"] == record
    assert intent["time"] == "1970-01-01T00:00:00+00:00"
    assert intent["requests"] == [{"request": "PUT /p"}] and intent["live_before"] == {"x": 1}
    assert log.scan().unfinished == () and log.scan().records == 2
    assert log.path.stat().st_mode & 0o777 == 0o600


def test_full_disk_leaves_only_whole_lines(tmp_path: Path) -> None:
    """Under a real file size limit the failing append is cut back, and the log reads clean."""
    path = tmp_path / "audit.jsonl"
    child = _run(
        """
        import json, resource, signal, sys
        from pathlib import Path
        from fdi_drift.audit import AuditLog
        from fdi_drift.errors import AuditError

        path = Path(sys.argv[1])
        log = AuditLog(path, clock=lambda: 0.0)  # a fixed clock: every record the same size
        ids = [log.intent(resource={"pad": "x" * 300}, revision="r", live_before=None, requests=[])]
        size = path.stat().st_size
        # Three and a half records: the fourth append is cut short by the kernel.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size * 7 // 2, resource.RLIM_INFINITY))
        try:
            while True:
                ids.append(
                    log.intent(resource={"pad": "x" * 300}, revision="r", live_before=None,
                               requests=[])
                )
        except AuditError as error:
            print(json.dumps({"ids": ids, "error": str(error)}))
        """,
        str(path),
    )
    result = json.loads(child.stdout)
    assert len(result["ids"]) == 3 and str(path) in result["error"]
    assert path.read_bytes().endswith(b"\n")
    assert [r["id"] for r in _records(path)] == result["ids"]

    log = AuditLog(path)
    after = _intent(log, pad="y")
    assert [r["id"] for r in _records(path)] == [*result["ids"], after]
    scan = log.scan()
    assert [r["id"] for r in scan.unfinished] == [*result["ids"], after]
    assert scan.records == 4 and scan.damaged == ()


@pytest.mark.parametrize("failure", ["enospc", "short"])
def test_failed_append_leaves_the_file_unchanged(
    tmp_path: Path, broken_disk: Callable[[str], None], failure: str
) -> None:
    """A write that fails or falls short is cut back off, raises, and keeps no intent."""
    log = AuditLog(tmp_path / "audit.jsonl")
    first = _intent(log, name="before")
    before = log.path.read_bytes()
    broken_disk(failure)
    with pytest.raises(AuditError, match=r"cannot write audit log .*audit\.jsonl"):
        _intent(log, name="lost")
    broken_disk("ok")
    assert log.path.read_bytes() == before
    assert log.pending == 0
    assert [r["id"] for r in log.scan().unfinished] == [first]


def test_partial_line_that_cannot_be_cut_back_is_not_glued_to_the_next(
    tmp_path: Path, broken_disk: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If truncating fails too, the half line stays, and the next record starts a new line."""
    log = AuditLog(tmp_path / "audit.jsonl")
    first = _intent(log)

    def no_truncate(descriptor: int, length: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    broken_disk("short")
    monkeypatch.setattr(os, "ftruncate", no_truncate)
    with pytest.raises(AuditError, match="wrote"):
        _intent(log)
    monkeypatch.undo()
    second = _intent(log)
    scan = log.scan()
    assert [r["id"] for r in scan.unfinished] == [first, second]
    assert scan.damaged == (2,)


def test_torn_last_line_is_skipped_and_the_next_record_starts_a_new_line(tmp_path: Path) -> None:
    """A crash's half record stays one damaged line; records before and after it read fine."""
    log = AuditLog(tmp_path / "audit.jsonl")
    first = _intent(log)
    with log.path.open("ab") as file:
        file.write(b'{"event":"outcome","id":"' + first.encode() + b'","res')
    second = _intent(log)
    lines = log.path.read_bytes().split(b"\n")
    assert lines[1].startswith(b'{"event":"outcome"') and json.loads(lines[2])["id"] == second
    scan = log.scan()
    assert [r["id"] for r in scan.unfinished] == [first, second]
    assert scan.records == 2 and scan.damaged == (2,)


def test_garbage_lines_are_skipped_counted_and_logged_by_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Junk, non-objects and id-less records are damage with line numbers, never an error."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    finished = _intent(log)
    with path.open("ab") as file:
        file.write(b"\xff\xfe\x00 binary junk token=hunter2\n")  # 2: not UTF-8
        file.write(b"[1, 2]\n")  # 3: JSON, not an object
        file.write(b'{"event": "intent"}\n')  # 4: no id
        file.write(b'{"event": "intent", "id": 7}\n')  # 5: id not a string
        file.write(b"\n")  # 6: blank, not damage
        file.write(b"[" * 100_000 + b"\n")  # 7: nested past the parser's depth
        file.write(b"x" * (MAX_LINE + 10) + b"\n")  # 8: over the line bound
    log.outcome(finished, result="applied")
    still_open = _intent(log)
    with path.open("ab") as file:
        file.writelines(b"junk %d\n" % n for n in range(25))  # 11-35
    caplog.set_level(logging.WARNING, logger="fdi_drift.audit")

    scan = log.scan()

    damaged = (2, 3, 4, 5, 7, 8, *range(11, 36))
    assert [r["id"] for r in scan.unfinished] == [still_open]
    assert scan.records == 3 and scan.damaged == damaged
    (warning,) = caplog.records
    assert warning.__dict__["audit_log"] == str(path)
    assert warning.__dict__["damaged_lines"] == list(damaged[:20])
    assert warning.__dict__["damaged_count"] == len(damaged)
    assert "hunter2" not in json.dumps(warning.__dict__, default=str)


def test_check_accepts_a_missing_or_regular_file(tmp_path: Path) -> None:
    """A log that does not exist yet is fine, and check() does not create it."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.check()
    assert not log.path.exists()
    _intent(log)
    log.check()


_SPECIAL_CHILD = """
    import json, resource, sys
    from pathlib import Path
    from fdi_drift.audit import AuditLog
    from fdi_drift.errors import AuditError

    # A regression that reads /dev/zero to the end fails here instead of eating the machine.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    log = AuditLog(Path(sys.argv[1]))
    outcomes = {}
    for name, call in (
        ("check", log.check),
        ("scan", log.scan),
        ("intent", lambda: log.intent(resource={}, revision="r", live_before=None, requests=[])),
    ):
        try:
            call()
        except AuditError as error:
            outcomes[name] = str(error)
        else:
            outcomes[name] = "no error"
    print(json.dumps(outcomes))
"""


@pytest.mark.parametrize(
    ("special", "kind"),
    [
        ("/dev/full", "a character device"),
        ("/dev/zero", "a character device"),
        ("/dev/null", "a character device"),
        ("fifo", "a FIFO"),
        ("socket", "a socket"),
        ("directory", "a directory"),
    ],
)
def test_anything_but_a_regular_file_is_refused_without_blocking(
    tmp_path: Path, special: str, kind: str
) -> None:
    """Devices, FIFOs, sockets and directories are refused by name, and nothing waits on them."""
    path = Path(special) if special.startswith("/dev/") else tmp_path / special
    listener = socket.socket(socket.AF_UNIX)
    with listener:
        if special == "fifo":
            os.mkfifo(path)
        elif special == "socket":
            listener.bind(str(path))
        elif special == "directory":
            path.mkdir()
        outcomes = json.loads(_run(_SPECIAL_CHILD, str(path)).stdout)
    assert outcomes == dict.fromkeys(
        ("check", "scan", "intent"), f"audit log {path} is {kind}, not a regular file"
    )


_APPENDER_CHILD = """
    import json, sys
    from pathlib import Path
    from fdi_drift.audit import AuditLog

    log = AuditLog(Path(sys.argv[1]))
    print("ready", flush=True)
    sys.stdin.readline()  # both start appending only once both are ready
    ids = [
        log.intent(resource={"writer": sys.argv[2], "n": n, "pad": "x" * 5000}, revision="r",
                   live_before=None, requests=[])
        for n in range(300)
    ]
    print(json.dumps(ids), flush=True)
"""


def test_two_processes_appending_at_once_write_whole_lines(tmp_path: Path) -> None:
    """Two writers sharing one file leave 600 whole lines holding all 600 ids."""
    path = tmp_path / "audit.jsonl"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_APPENDER_CHILD), str(path), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        ids = [json.loads(writer.communicate(timeout=DEADLINE)[0]) for writer in writers]
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    assert [writer.returncode for writer in writers] == [0, 0]
    records = _records(path)
    assert sorted(r["id"] for r in records) == sorted(ids[0] + ids[1])
    assert len(records) == 600
    assert AuditLog(path).scan().damaged == ()


def test_outcome_that_cannot_be_written_is_kept_and_written_first_later(
    tmp_path: Path, broken_disk: Callable[[str], None]
) -> None:
    """A failed outcome is kept, still raises, and lands before the next record that can."""
    log = AuditLog(tmp_path / "audit.jsonl")
    first = _intent(log)
    before = log.path.read_bytes()
    broken_disk("enospc")
    with pytest.raises(AuditError, match="No space left on device"):
        log.outcome(first, result="applied")
    assert log.pending == 1
    with pytest.raises(AuditError):
        _intent(log)  # an intent that fails is not kept: its write will not be sent
    assert log.pending == 1 and log.path.read_bytes() == before
    broken_disk("ok")

    second = _intent(log)

    assert log.pending == 0
    assert [(r["event"], r["id"]) for r in _records(log.path)] == [
        ("intent", first),
        ("outcome", first),
        ("intent", second),
    ]
    assert [r["id"] for r in log.scan().unfinished] == [second]


def test_lone_surrogates_are_escaped_and_non_json_values_refused(tmp_path: Path) -> None:
    """A lone surrogate is written escaped and reads back; a value JSON cannot hold is refused."""
    log = AuditLog(tmp_path / "audit.jsonl")
    record = _intent(log, name="bad \ud800 name", other="ünïcode")
    log.path.read_bytes().decode("utf-8")
    (intent,) = log.scan().unfinished
    assert intent["id"] == record and intent["resource"]["name"] == "bad \ud800 name"
    before = log.path.read_bytes()
    for value in (object(), b"bytes", float("nan")):
        with pytest.raises(AuditError, match="not JSON"):
            log.intent(resource={}, revision="r", live_before=value, requests=[])
    assert log.path.read_bytes() == before


def _write(log: AuditLog, key: ResourceKey, result: str | None = "applied") -> str:
    """One write of `key` as the reconciler records it: an intent, then (unless None) an outcome."""
    record = log.intent(
        resource={**key.fields(), "live_id": "L1", "source": "a.yaml"},
        revision="r",
        live_before={"task": {"description": "before"}},
        requests=[{"request": "PUT /v2/p/tasks/L1", "body": {"token": "<redacted>"}}],
    )
    if result is not None:
        log.outcome(record, result=result, verification={"in_sync": True})
    return record


ORDERS = ResourceKey(Kind("FdiTask"), "p1", "i1", "orders")


def test_records_for_returns_one_resources_writes_newest_first_without_bodies(
    tmp_path: Path,
) -> None:
    """Outcomes are found through their intent's id; other resources and bodies are left out."""
    log = AuditLog(tmp_path / "audit.jsonl")
    first = _write(log, ORDERS)
    _write(log, ResourceKey(Kind("FdiTask"), "p1", "i1", "other"))
    _write(log, ResourceKey(Kind("FdiTask"), "p1", "i2", "orders"))  # same name, other scope
    _write(log, ResourceKey(Kind("DrsJob"), "p1", "i1", "orders"))  # same name, other kind
    second = _write(log, ORDERS, result=None)  # unfinished

    records = log.records_for(ORDERS)

    assert [(r["event"], r["id"]) for r in records] == [
        ("intent", second),
        ("outcome", first),
        ("intent", first),
    ]
    assert records[0]["requests"] == [{"request": "PUT /v2/p/tasks/L1"}]
    assert "live_before" not in records[0] and "before" not in json.dumps(records)
    assert records[1]["result"] == "applied" and records[2]["revision"] == "r"


def test_records_for_holds_only_the_newest_writes(tmp_path: Path) -> None:
    """With a limit, older writes are dropped, and an outcome of a dropped intent is not kept."""
    log = AuditLog(tmp_path / "audit.jsonl")
    ids = [_write(log, ORDERS, result=None) for _ in range(3)]
    for record in ids:
        log.outcome(record, result="failed")

    records = log.records_for(ORDERS, limit=2)

    assert [(r["event"], r["id"]) for r in records] == [
        ("outcome", ids[2]),
        ("intent", ids[2]),
    ]
    assert [r["id"] for r in log.records_for(ORDERS, limit=3)] == [ids[2], ids[2], ids[1]]


def test_records_for_skips_damaged_lines_and_reads_a_missing_log_as_empty(tmp_path: Path) -> None:
    """Torn and junk lines, and intents whose resource is not an object, never stop the read."""
    log = AuditLog(tmp_path / "audit.jsonl")
    assert log.records_for(ORDERS) == []
    first = _write(log, ORDERS, result=None)
    with log.path.open("ab") as file:
        file.write(b"\xff junk\n")
        file.write(b'{"event": "intent", "id": "x", "resource": "orders"}\n')
        file.write(b'{"event":"outcome","id":"' + first.encode() + b'","res')  # torn
    second = _write(log, ORDERS)

    records = log.records_for(ORDERS)

    assert [(r["event"], r["id"]) for r in records] == [
        ("outcome", second),
        ("intent", second),
        ("intent", first),
    ]
