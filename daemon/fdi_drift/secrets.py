"""Secret references resolved for writes: `{secretRef: NAME/KEY}` from a directory or variables.

A mounted Kubernetes Secret named NAME shows up as DIR/NAME/KEY (one file per key); without a
file, the environment variable FDI_DRIFT_SECRET_<NAME>_<KEY> (upper case, every other character
as `_`) is used. Values are read when a write needs them, so a rotated secret is picked up
without a restart, and they are never logged: errors name the reference, not the value.
`resolved` does the same for the requests of a saved plan, which hold references, never values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from fdi_drift.drift.document import decode, encode
from fdi_drift.drift.model import JSONValue
from fdi_drift.drift.secret_ref import parse_reference, reference_of
from fdi_drift.errors import SecretError

SECRET_ENV_PREFIX = "FDI_DRIFT_SECRET_"  # noqa: S105 - a variable name prefix


def env_name(reference: str) -> str:
    """The environment variable that may hold a reference's value."""
    return SECRET_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", reference.upper().replace("/", "_", 1))


class SecretResolver:
    """Resolves `NAME/KEY` references; the first source that has one wins (file, then variable)."""

    def __init__(self, directory: Path | None, environ: Mapping[str, str]) -> None:
        self._directory = directory
        self._environ = environ  # the FDI_DRIFT_SECRET_* variables settings captured

    def __repr__(self) -> str:
        return f"SecretResolver(directory={self._directory!s}, variables={len(self._environ)})"

    def __call__(self, reference: str) -> str:
        name, key = parse_reference(reference)
        if self._directory is not None:
            path = self._directory / name / key
            try:
                return path.read_text(encoding="utf-8").rstrip("\n")
            except FileNotFoundError:
                pass
            except OSError as error:
                raise SecretError(
                    f"secretRef {reference}: cannot read {path}: {error.strerror}"
                ) from None
        variable = env_name(reference)
        if variable in self._environ:
            return self._environ[variable]
        where = f"{self._directory}/{reference} or " if self._directory else ""
        raise SecretError(f"secretRef {reference} is not available (looked for {where}${variable})")


def resolved(body: JSONValue, resolve: Callable[[str], str]) -> JSONValue:
    """A planned request's body with each `{secretRef: NAME/KEY}` as the secret it names.

    References inside JSON text are found too; that text is edited as a correction edits live
    (json_text.py): each reference becomes its secret's string, written in the text's own style,
    and every other literal stays as it is. `body` itself, when it holds no reference. Raises
    SecretError for a reference that cannot be resolved, DocumentError for text that cannot be
    edited.
    """
    document = decode(body, what="a planned request")
    found = False

    def swap(value: JSONValue) -> JSONValue:
        nonlocal found
        reference = reference_of(value)
        if reference is not None:
            found = True
            return resolve(reference)
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    swapped = swap(document.value)  # decode bounds the depth, so this recursion is bounded
    return encode(swapped, document.encoded) if found else body
