"""JSON pointers (RFC 6901): the one home of their syntax.

A pointer is "" (the root) or "/"-separated segments; in a segment "~" is written "~0" and "/"
"~1", and no other "~" may appear.
"""

from __future__ import annotations

from fdi_drift.drift.model import Path
from fdi_drift.errors import DocumentError

STRAY_TILDE = "'~' must be followed by '0' or '1'"


def escape(key: str) -> str:
    """A key as a pointer segment: "~" as "~0", then "/" as "~1"."""
    return key.replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    """The key a pointer segment names: "~1" as "/", then "~0" as "~"; a stray "~" stays."""
    return segment.replace("~1", "/").replace("~0", "~")


def has_stray_tilde(text: str) -> bool:
    """Whether a pointer or segment holds a "~" that starts neither "~0" nor "~1"."""
    tilde = text.find("~")
    while tilde != -1:
        if text[tilde + 1 : tilde + 2] not in ("0", "1"):
            return True
        tilde = text.find("~", tilde + 2)
    return False


def child_pointer(pointer: str, part: str | int) -> str:
    """The pointer of `part` (a key or a list index) below `pointer`."""
    return f"{pointer}/{escape(str(part))}"


def format_pointer(path: Path) -> str:
    """The RFC 6901 pointer of `path`: "" for the root, "~" as "~0" and "/" as "~1"."""
    return "".join("/" + escape(str(part)) for part in path)


def split_pointer(pointer: str) -> tuple[str, ...]:
    """The segments of a pointer, unescaped, never refused: for finding where a problem is.

    Problems may name a key as it was written, unescaped, so a stray "~" stays as it is and
    text before the first "/" is dropped. Use `parse_pointer` for pointers people wrote.
    """
    return tuple(unescape(segment) for segment in pointer.split("/")[1:])


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """The segments of an RFC 6901 pointer, unescaped; list indexes stay decimal strings."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise DocumentError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    if has_stray_tilde(pointer):
        raise DocumentError(f"JSON pointer {pointer!r}: {STRAY_TILDE}")
    return split_pointer(pointer)
