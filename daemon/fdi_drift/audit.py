"""The audit log: one JSON line per intent before a write, one per outcome after it.

Records carry what a person needs to see and undo a write: the resource, the desired revision,
the live document before (exactly as read, minus anything secret-looking) and every request sent
(its body with resolved secrets shown as "<redacted>"). The log holds only what callers pass.

    {"event": "intent", "id": ..., "time": ..., "resource": {...}, "revision": ...,
     "live_before": {...}, "requests": [{"request": "PUT /v2/...", "body": {...}}, ...]}
    {"event": "outcome", "id": ..., "time": ..., "result": "applied", "detail": ...,
     "verification": {"in_sync": true}, "created": ...}

Guarantees, for every process that appends through this class (the daemon and `fdi-drift
reconcile` may share one file):

- An append is one `write` of whole lines under an exclusive `flock`, then `fsync`. If it fails
  (full disk, file size limit, I/O error, short write) the file is cut back to its size before,
  and AuditError is raised: a failed append leaves the file as it was.
- A line torn by a crash is never glued to the next record: that record starts a new line.
- An outcome that cannot be appended is kept in memory (`pending`) and written, in order, ahead of
  the next record that can be; its caller still gets AuditError. A failed intent is not kept.
- Only a regular file is used; a device, FIFO, directory or socket is refused, never blocked on.

A crash between a request and its outcome leaves an intent without an outcome, which `scan()`
finds on the next start. Reading skips and counts damaged lines (not UTF-8, not JSON, not an
object with a string "event" and "id", longer than `MAX_LINE`) and logs their line numbers:
damage loses those records, never the daemon's ability to start.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import stat
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from fdi_drift.drift.model import ResourceKey
from fdi_drift.errors import AuditError
from fdi_drift.file_kind import kind_of

log = logging.getLogger(__name__)

# Longer lines are damage; bounding them keeps a corrupt file from filling memory.
MAX_LINE = 16 * 1024 * 1024
# How many damaged line numbers a warning names; the count covers the rest.
_NAMED_DAMAGE = 20
_SKIP_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AuditScan:
    """What reading the log found: intents without an outcome, good records, damaged lines."""

    unfinished: tuple[dict[str, Any], ...]
    records: int
    damaged: tuple[int, ...]


class AuditLog:
    """Appends intent and outcome records to a JSON-lines file and reads them back."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[bytes] = []

    @property
    def pending(self) -> int:
        """Outcomes that could not be appended yet; the next successful append writes them."""
        return len(self._pending)

    def check(self) -> None:
        """Fail with AuditError unless the log is a readable regular file or does not exist."""
        try:
            descriptor = self._open(os.O_RDONLY, "read")
        except FileNotFoundError:
            return  # the first append creates it
        os.close(descriptor)

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
        record = {
            "event": "intent",
            "id": record_id,
            "resource": dict(resource),
            "revision": revision,
            "live_before": live_before,
            "requests": requests,
        }
        self._append(record, keep=False)
        return record_id

    def outcome(
        self,
        record_id: str,
        *,
        result: str,
        detail: str = "",
        verification: Any = None,
        created: str = "",
        answers: list[dict[str, Any]] | None = None,
    ) -> None:
        """Complete an intent; `created` is the id of a resource the writes created.

        `answers` are the requests made for it ({request, status, request_id}), so that a
        support ticket can name the service's own request ids. On AuditError the record is
        kept and written ahead of the next append that succeeds.
        """
        record: dict[str, Any] = {
            "event": "outcome",
            "id": record_id,
            "result": result,
            "detail": detail,
            "verification": verification,
        }
        if created:
            record["created"] = created
        if answers is not None:
            record["answers"] = answers
        self._append(record, keep=True)

    def scan(self) -> AuditScan:
        """Read the whole log: intents without an outcome, in file order, and the damage seen."""
        open_intents: dict[str, dict[str, Any]] = {}
        records = 0
        damaged: list[int] = []
        for number, record in self._read():
            if record is None:
                damaged.append(number)
                continue
            records += 1
            if record["event"] == "intent":
                open_intents[record["id"]] = record
            elif record["event"] == "outcome":
                open_intents.pop(record["id"], None)
        if damaged:
            log.warning(
                "audit log has damaged lines; they were skipped",
                extra={
                    "audit_log": str(self.path),
                    "damaged_lines": damaged[:_NAMED_DAMAGE],
                    "damaged_count": len(damaged),
                },
            )
        return AuditScan(tuple(open_intents.values()), records, tuple(damaged))

    def records_for(self, key: ResourceKey, limit: int = 50) -> list[dict[str, Any]]:
        """The newest intent and outcome records of one resource, newest first.

        An outcome names only its intent's id, so it is found through that intent. Records come
        without `live_before` and request bodies (request lines stay): they are a record's bulk,
        and at most the last `limit` writes are held while the file is read. Damaged lines are
        skipped, as by scan().
        """
        identity = (str(key.kind), key.project_id, key.instance_id, key.name)
        writes: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        for _, record in self._read():
            if record is None:
                continue
            if record["event"] == "intent" and _names(record, identity):
                writes[record["id"]] = [_without_bodies(record)]
                writes.move_to_end(record["id"])
                if len(writes) > limit:
                    writes.popitem(last=False)
            elif record["event"] == "outcome" and record["id"] in writes:
                writes[record["id"]].append(record)
        newest = [record for pair in reversed(writes.values()) for record in reversed(pair)]
        return newest[:limit]

    def _read(self) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """Each record with its line number, in file order; None for a damaged line."""
        try:
            descriptor = self._open(os.O_RDONLY, "read")
        except FileNotFoundError:
            return
        with os.fdopen(descriptor, "rb") as file:
            try:
                # Shared, so an append cut back after a failure is never read half-written.
                fcntl.flock(file.fileno(), fcntl.LOCK_SH)
                for number, line in enumerate(_lines(file), 1):
                    if line is not None and not line.strip():
                        continue  # not a record, and nothing was lost
                    yield number, _parse(line)
            except OSError as error:
                raise AuditError(f"cannot read audit log {self.path}: {_reason(error)}") from None

    def _append(self, record: dict[str, Any], *, keep: bool) -> None:
        line = self._encode(record)
        with self._lock:
            try:
                self._write(b"".join([*self._pending, line]))
            except AuditError:
                if keep:
                    self._pending.append(line)
                raise
            self._pending.clear()

    def _encode(self, record: dict[str, Any]) -> bytes:
        """The record as one UTF-8 line, or AuditError if it is not JSON or too long to read."""
        stamped = {"time": datetime.fromtimestamp(self._clock(), UTC).isoformat(), **record}
        try:
            try:
                text = json.dumps(
                    stamped, ensure_ascii=False, allow_nan=False, separators=(",", ":")
                )
                line = (text + "\n").encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate cannot be UTF-8; as an escape it survives and reads back.
                text = json.dumps(
                    stamped, ensure_ascii=True, allow_nan=False, separators=(",", ":")
                )
                line = (text + "\n").encode("ascii")
        except (TypeError, ValueError, RecursionError) as error:
            # The messages name types and JSON rules, never the values themselves.
            raise AuditError(f"cannot write audit log {self.path}: not JSON: {error}") from None
        if len(line) > MAX_LINE:
            raise AuditError(
                f"cannot write audit log {self.path}: a {len(line)}-byte record is over the "
                f"{MAX_LINE} bytes a reader accepts"
            )
        return line

    def _write(self, data: bytes) -> None:
        """Append `data` with one write under an exclusive lock; on failure, cut it back off."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Read and write: the last byte tells whether a crash left a torn line.
            descriptor = self._open(os.O_RDWR | os.O_APPEND | os.O_CREAT, "write")
        except OSError as error:
            raise AuditError(f"cannot write audit log {self.path}: {_reason(error)}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                data = b"\n" + data
        except OSError as error:
            os.close(descriptor)
            raise AuditError(f"cannot write audit log {self.path}: {_reason(error)}") from None
        try:
            try:
                written = os.write(descriptor, data)
                reason = "" if written == len(data) else f"wrote {written} of {len(data)} bytes"
                if not reason:
                    os.fsync(descriptor)
            except OSError as error:
                reason = _reason(error)
            if reason:
                self._cut_back(descriptor, size)
                raise AuditError(f"cannot write audit log {self.path}: {reason}")
        finally:
            os.close(descriptor)

    def _cut_back(self, descriptor: int, size: int) -> None:
        """Remove what a failed append left; if that fails too, the next one starts a new line."""
        try:
            os.ftruncate(descriptor, size)
        except OSError as error:
            log.warning(
                "a failed audit append left a partial line",
                extra={"audit_log": str(self.path), "error": _reason(error)},
            )

    def _open(self, flags: int, verb: str) -> int:
        """A descriptor on the log, refused unless it is a regular file; never blocks.

        FileNotFoundError passes through; every other failure is AuditError.
        """
        try:
            descriptor = os.open(self.path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            raise
        except OSError as error:
            raise self._refusal(error, verb) from None
        try:
            # The descriptor, not the name: what was opened is what gets checked.
            mode = os.fstat(descriptor).st_mode
        except OSError as error:
            os.close(descriptor)
            raise AuditError(f"cannot {verb} audit log {self.path}: {_reason(error)}") from None
        if not stat.S_ISREG(mode):
            os.close(descriptor)
            raise AuditError(_not_regular(self.path, mode))
        return descriptor

    def _refusal(self, error: OSError, verb: str) -> AuditError:
        """The error for a failed open: what the path is if that is why (a socket, a FIFO)."""
        try:
            mode = self.path.stat().st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            return AuditError(_not_regular(self.path, mode))
        return AuditError(f"cannot {verb} audit log {self.path}: {_reason(error)}")


def _lines(file: IO[bytes]) -> Iterator[bytes | None]:
    """Each line of `file`; None for one longer than MAX_LINE, whose rest is skipped unread."""
    while line := file.readline(MAX_LINE + 1):
        if len(line) <= MAX_LINE or line.endswith(b"\n"):
            yield line
            continue
        while (rest := file.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
            pass
        yield None


def _parse(line: bytes | None) -> dict[str, Any] | None:
    """The record on one line, or None if the line is damaged."""
    if line is None:
        return None
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("event"), str)
        or not isinstance(record.get("id"), str)
    ):
        return None
    return record


def _names(record: dict[str, Any], identity: tuple[str, str, str, str]) -> bool:
    """Whether an intent's resource is the one `identity` (kind, project, instance, name) names."""
    resource = record.get("resource")
    if not isinstance(resource, dict):
        return False
    fields = ("kind", "project_id", "instance_id", "name")
    return tuple(resource.get(field, "") for field in fields) == identity


def _without_bodies(intent: dict[str, Any]) -> dict[str, Any]:
    """An intent without `live_before` and with only the line of each request."""
    shown = {name: value for name, value in intent.items() if name != "live_before"}
    requests = intent.get("requests")
    if isinstance(requests, list):
        shown["requests"] = [
            {"request": request.get("request")} if isinstance(request, dict) else None
            for request in requests
        ]
    return shown


def _not_regular(path: Path, mode: int) -> str:
    """Why a path that is not a regular file cannot be the audit log."""
    return f"audit log {path} is {kind_of(mode)}, not a regular file"


def _reason(error: OSError) -> str:
    """The OS's words for a failure ("No space left on device"), never a path or a value."""
    return error.strerror or type(error).__name__
