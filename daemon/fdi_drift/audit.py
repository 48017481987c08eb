"""The audit log: one JSON line per intent before a write, one per outcome after it.

Append-only, flushed and fsynced line by line, so a crash between a request and its outcome
leaves an intent without an outcome, which `unfinished()` finds on the next start. Records carry
what a person needs to see and undo a write: the resource, the desired revision, the live
document before (exactly as read, minus anything secret-looking) and every request sent (its
body with resolved secrets shown as "<redacted>").

    {"event": "intent", "id": ..., "time": ..., "resource": {...}, "revision": ...,
     "live_before": {...}, "requests": [{"request": "PUT /v2/...", "body": {...}}, ...]}
    {"event": "outcome", "id": ..., "time": ..., "result": "applied", "detail": ...,
     "verification": {"in_sync": true}}
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fdi_drift.errors import AuditError


class AuditLog:
    """Appends intent and outcome records to a JSON-lines file."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()

    def intent(
        self,
        *,
        resource: Mapping[str, Any],
        revision: str,
        live_before: Any,
        requests: list[dict[str, Any]],
    ) -> str:
        """Record what is about to be sent; returns the id its outcome must carry."""
        record_id = uuid.uuid4().hex
        self._append(
            {
                "event": "intent",
                "id": record_id,
                "resource": dict(resource),
                "revision": revision,
                "live_before": live_before,
                "requests": requests,
            }
        )
        return record_id

    def outcome(
        self,
        record_id: str,
        *,
        result: str,
        detail: str = "",
        verification: Any = None,
        created: str = "",
    ) -> None:
        """Complete an intent; `created` is the id of a resource the writes created."""
        record: dict[str, Any] = {
            "event": "outcome",
            "id": record_id,
            "result": result,
            "detail": detail,
            "verification": verification,
        }
        if created:
            record["created"] = created
        self._append(record)

    def unfinished(self) -> list[dict[str, Any]]:
        """Intents that have no outcome: writes whose result nobody recorded."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise AuditError(f"cannot read audit log {self.path}: {error.strerror}") from None
        open_intents: dict[str, dict[str, Any]] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # A torn last line is what a crash mid-append leaves; anything else is damage.
                if number == len(lines):
                    continue
                raise AuditError(f"{self.path}:{number}: not a JSON record") from None
            if record.get("event") == "intent":
                open_intents[record["id"]] = record
            elif record.get("event") == "outcome":
                open_intents.pop(record.get("id"), None)
        return list(open_intents.values())

    def _append(self, record: dict[str, Any]) -> None:
        stamped = {"time": datetime.fromtimestamp(self._clock(), UTC).isoformat(), **record}
        line = json.dumps(stamped, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(line)
                    file.flush()
                    os.fsync(file.fileno())
            except OSError as error:
                raise AuditError(f"cannot write audit log {self.path}: {error.strerror}") from None
