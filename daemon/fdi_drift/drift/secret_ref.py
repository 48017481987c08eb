"""Secret references: what `{secretRef: NAME/KEY}` looks like, checked, parsed and built.

A value is a reference when it is a mapping of `secretRef` alone to a string. NAME and KEY each
start with a letter or digit and go on with letters, digits, '.', '_' or '-', so a reference
names a file inside the secrets directory and never leaves it. Desired files are validated
with the same syntax the resolver reads (a reference the resolver would refuse used to pass
validation and fail only when a write needed it; it is now a problem of its file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fdi_drift.drift.model import JSONObject
from fdi_drift.drift.pointer import child_pointer
from fdi_drift.errors import SecretError

_KEY = "secretRef"
_PART = "[A-Za-z0-9][A-Za-z0-9._-]*"
_REFERENCE = re.compile(f"({_PART})/({_PART})")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def reference_of(value: object) -> str | None:
    """The reference `value` holds when it is `{secretRef: "..."}`, else None."""
    if type(value) is dict and len(value) == 1:
        reference = value.get(_KEY)
        if type(reference) is str:
            return reference
    return None


def parse_reference(reference: str) -> tuple[str, str]:
    """NAME and KEY of a reference; SecretError naming it when it is not NAME/KEY."""
    matched = _REFERENCE.fullmatch(reference)
    if matched is None:
        raise SecretError(f"secretRef {reference!r} is not NAME/KEY")
    return matched.group(1), matched.group(2)


def reference_problems(value: object, pointer: str) -> Iterator[tuple[str, str]]:
    """(pointer, message) for each malformed reference in `value`, found at `pointer`."""
    if isinstance(value, dict):
        if _KEY in value:
            reference = value[_KEY]
            if len(value) != 1:
                yield pointer, "a secretRef mapping holds nothing else"
            elif not isinstance(reference, str) or _REFERENCE.fullmatch(reference) is None:
                yield child_pointer(pointer, _KEY), "must be NAME/KEY"
            return
        for key, item in value.items():
            yield from reference_problems(item, child_pointer(pointer, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from reference_problems(item, child_pointer(pointer, index))


def make_reference(name: str, key: str) -> str:
    """A reference NAME/KEY made from any two strings, always one the resolver accepts."""
    return f"{_safe_part(name)}/{_safe_part(key)}"


def _safe_part(text: str) -> str:
    part = _UNSAFE.sub("_", text)
    # A part must start with a letter or digit (no ".." or hidden file); a DRS job may not.
    return part if part[:1].isalnum() else f"x{part}"


def placeholder(reference: str) -> JSONObject:
    """The value `{secretRef: reference}` that stands for a secret in a desired file."""
    return {_KEY: reference}
