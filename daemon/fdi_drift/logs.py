"""Logging on stderr, configured once by the entry point: JSON lines or one plain line a record.

Every module logs through `logging.getLogger(__name__)`, with its details in `extra`; this
module decides only how a record is written. JSON is for machines (the daemon's collector, a
pipe), text for a person at a terminal. python-json-logger does the JSON on stdlib logging,
and both formats take the same fields from a record by its rules.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS, merge_record_extra
from pythonjsonlogger.json import JsonFormatter

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class LogFormat(StrEnum):
    """How records are written: AUTO picks JSON or text by who reads them."""

    AUTO = "auto"
    TEXT = "text"
    JSON = "json"


# Record attributes that are not `extra` fields. `taskName` is on records from Python 3.12.
# uvicorn repeats its message, with ANSI colour codes, as `color_message`: not ours to publish.
_NOT_EXTRA = frozenset(RESERVED_ATTRS) | {"taskName", "color_message"}


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _error(record: logging.LogRecord) -> str | None:
    """An exception as "Type: message": a traceback would spread one record over many lines."""
    if not record.exc_info or record.exc_info[0] is None:
        return None
    return f"{record.exc_info[0].__name__}: {record.exc_info[1]}"


class JsonLinesFormatter(JsonFormatter):
    """One JSON object a record: time, level, logger, message, every `extra` field, and an
    exception as "error": "Type: message", never its traceback."""

    def __init__(self) -> None:
        super().__init__(reserved_attrs=sorted(_NOT_EXTRA), json_ensure_ascii=False)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = _time(record)
        log_data["level"] = record.levelname.lower()
        log_data["logger"] = record.name
        log_data["message"] = record.message
        # The library adds tracebacks here; the exception goes in as "error" instead.
        message_dict.pop("exc_info", None)
        message_dict.pop("stack_info", None)
        super().add_fields(log_data, record, message_dict)
        error = _error(record)
        if error is not None:
            log_data["error"] = error


class TextLineFormatter(logging.Formatter):
    """One plain line a record: time, level, logger, message, then `extra` fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        fields = merge_record_extra(record, {}, reserved=_NOT_EXTRA)
        error = _error(record)
        if error is not None:
            fields["error"] = error
        message = record.getMessage().replace("\r", "\\r").replace("\n", "\\n")
        line = f"{_time(record)} {record.levelname:<7} {record.name}: {message}"
        return line + "".join(f" {key}={_text_value(value)}" for key, value in fields.items())


def _text_value(value: object) -> str:
    """A bare word as it is; anything with spaces, quotes or structure as compact JSON."""
    if (
        isinstance(value, str)
        and value
        and value.isprintable()
        and not any(c in value for c in ' "=')
    ):
        return value
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def chosen_format(log_format: LogFormat, *, daemon: bool, stream: TextIO) -> LogFormat:
    """JSON or text: AUTO is JSON for the daemon and wherever `stream` is not a terminal."""
    if log_format is not LogFormat.AUTO:
        return log_format
    return LogFormat.TEXT if not daemon and stream.isatty() else LogFormat.JSON


def configure(
    level: str = "INFO",
    log_format: LogFormat = LogFormat.AUTO,
    *,
    daemon: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Send every record at `level` and above to `stream` (default stderr), as `log_format`."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if chosen_format(log_format, daemon=daemon, stream=stream) is LogFormat.TEXT:
        handler.setFormatter(TextLineFormatter())
    else:
        handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Their per-request lines would repeat what our own metrics and events say.
    for noisy in ("httpx", "httpcore", "uvicorn.access", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
