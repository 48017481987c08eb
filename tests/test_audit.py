"""Tests for the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fdi_drift.audit import AuditLog
from fdi_drift.errors import AuditError


def test_intent_then_outcome_lines(tmp_path: Path) -> None:
    """Each record is one JSON line with time, event and the id tying the pair together."""
    log = AuditLog(tmp_path / "a" / "audit.jsonl", clock=lambda: 0.0)
    record = log.intent(
        resource={"name": "t"}, revision="r", live_before={"x": 1}, requests=[{"request": "PUT /p"}]
    )
    log.outcome(record, result="applied", verification={"in_sync": True})
    intent, outcome = (json.loads(line) for line in log.path.read_text().splitlines())
    assert intent["event"] == "intent" and outcome["event"] == "outcome"
    assert intent["id"] == outcome["id"] == record
    assert intent["time"] == "1970-01-01T00:00:00+00:00"
    assert intent["requests"] == [{"request": "PUT /p"}] and intent["live_before"] == {"x": 1}
    assert log.unfinished() == []


def test_damaged_log_is_an_error_but_a_torn_tail_is_not(tmp_path: Path) -> None:
    """A bad line in the middle means damage; a torn last line is what a crash leaves."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    first = log.intent(resource={}, revision="r", live_before=None, requests=[])
    path.write_text(path.read_text() + '{"event": "outc')
    assert [r["id"] for r in log.unfinished()] == [first]
    path.write_text("not json\n" + path.read_text())
    with pytest.raises(AuditError, match=r"audit.jsonl:1"):
        log.unfinished()


def test_unwritable_log_refuses(tmp_path: Path) -> None:
    """When the log cannot be written the intent fails, so no write can follow it."""
    (tmp_path / "dir").mkdir()
    with pytest.raises(AuditError, match="cannot write audit log"):
        AuditLog(tmp_path / "dir").intent(resource={}, revision="r", live_before=None, requests=[])
