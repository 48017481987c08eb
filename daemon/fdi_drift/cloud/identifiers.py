"""What a resource id may be: the allowlist every id passes before it may enter a URL path."""

from __future__ import annotations

import re

from fdi_drift.errors import InvalidIdentifierError

# Ids are documented as 1-64 chars; real ones are hex, UUIDs or names with `_`/`-`. Anything
# else (`/`, `..`, `%`, `?`, whitespace) could change which resource a path names.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHOWN_CHARS = 80

ID_RULE = "1-64 letters, digits, '_' or '-'"


def is_id(value: object) -> bool:
    """Whether `value` is a string that may be used as an id."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_id(field: str, value: str) -> str:
    """Return `value` if it is a safe id, else raise InvalidIdentifierError naming `field`."""
    if is_id(value):
        return value
    shown = repr(value)
    if len(shown) > _SHOWN_CHARS:
        shown = f"{shown[:_SHOWN_CHARS]}... ({len(shown)} chars)"
    raise InvalidIdentifierError(f"{field} must be {ID_RULE}, got {shown}")
