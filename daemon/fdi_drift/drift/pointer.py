"""JSON pointers (RFC 6901): the one home of their syntax."""

from __future__ import annotations

from fdi_drift.drift.model import Path
from fdi_drift.errors import DocumentError


def format_pointer(path: Path) -> str:
    """The RFC 6901 pointer of `path`: "" for the root, "~" as "~0" and "/" as "~1"."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """The segments of an RFC 6901 pointer, unescaped; list indexes stay decimal strings."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise DocumentError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    segments = pointer[1:].split("/")
    for segment in segments:
        tilde = segment.find("~")
        while tilde != -1:
            if segment[tilde + 1 : tilde + 2] not in ("0", "1"):
                raise DocumentError(f"JSON pointer {pointer!r}: '~' must be followed by '0' or '1'")
            tilde = segment.find("~", tilde + 2)
    return tuple(s.replace("~1", "/").replace("~0", "~") for s in segments)
