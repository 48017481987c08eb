"""Secret references resolved for writes: `{secretRef: NAME/KEY}` from a directory or variables.

A mounted Kubernetes Secret named NAME shows up as DIR/NAME/KEY (one file per key); without a
file, the environment variable FDI_DRIFT_SECRET_<NAME>_<KEY> (upper case, every other character
as `_`) is used. Values are read when a write needs them, so a rotated secret is picked up
without a restart, and they are never logged: errors name the reference, not the value.

A saved plan's requests hold no secret value either. A secret the desired state declares is in
them as its `{secretRef}`; a value they send back as live holds it, where the plan file must not
show it (under a secret-looking key, or masked), is a `{liveRef: POINTER}`: an RFC 6901 pointer
into the live document as the kind decodes it (JSON text decoded, so a pointer may go inside
`task_detail`), which the plan is applied over only when a fresh read has the planned digest.
`with_live_references` makes those, `resolved` turns both kinds back into values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from fdi_drift.drift.document import decode, encode, is_masked
from fdi_drift.drift.model import JSONValue
from fdi_drift.drift.model import Path as JSONPath
from fdi_drift.drift.pointer import child_pointer, format_pointer, parse_pointer
from fdi_drift.drift.redaction import looks_secret
from fdi_drift.drift.secret_ref import parse_reference, reference_of
from fdi_drift.errors import DocumentError, InvalidWriteError, SecretError

SECRET_ENV_PREFIX = "FDI_DRIFT_SECRET_"  # noqa: S105 - a variable name prefix
LIVE_REF = "liveRef"
_INDEX = re.compile(r"0|[1-9][0-9]*")


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


def resolved(
    body: JSONValue, resolve: Callable[[str], str], live: JSONValue | None = None
) -> JSONValue:
    """A saved request's body with each `{secretRef}` and `{liveRef}` as the value it stands for.

    A `{secretRef: NAME/KEY}` becomes its secret's string, a `{liveRef: POINTER}` the value at
    POINTER in `live` (the decoded live document the plan is applied over). References inside
    JSON text are found too; that text is edited as a correction edits live (json_text.py): each
    reference becomes its value, written in the text's own style, and every other literal stays
    as it is. `body` itself, when it holds no reference. Raises SecretError for a secret that
    cannot be resolved, DocumentError for a live reference to nothing (see `unresolved`) or text
    that cannot be edited.
    """
    document = decode(body, what="a planned request")
    found = False

    def swap(value: JSONValue) -> JSONValue:
        nonlocal found
        reference = reference_of(value)
        if reference is not None:
            found = True
            return resolve(reference)
        pointer = _live_reference_of(value)
        if pointer is not None:
            found = True
            held = _at_pointer(live, pointer)
            if isinstance(held, _Nothing):
                raise DocumentError(f"{LIVE_REF} {pointer}: live holds nothing there")
            return held
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    swapped = swap(document.value)  # decode bounds the depth, so this recursion is bounded
    return encode(swapped, document.encoded) if found else body


def with_live_references(body: JSONValue, live: JSONValue | None) -> JSONValue:
    """`body` with each value a plan file must not show as a `{liveRef}` into `live`.

    Those are, inside JSON text too, the values below a secret-looking key (redaction.py) that
    are not `{secretRef}`s (null, "" and true or false hold no credential, and stay) and every
    masked value, as the exporter picks them. Each pointer names an equal value in `live`,
    decoded: at the body's own path when live has it there, else the place whose path ends most
    like the body's (the first of those). `body` itself when there is none. Raises
    InvalidWriteError naming the place when live holds no such value (a create, a value the
    kind made) or holds a `liveRef` key of its own, DocumentError when text cannot be edited.
    """
    document = decode(body, what="a planned request")
    places = _LivePlaces(live)
    found = False

    def hide(value: JSONValue, path: JSONPath, secret: bool) -> JSONValue:
        nonlocal found
        if reference_of(value) is not None:
            return value
        if isinstance(value, dict):
            if LIVE_REF in value:  # read back, it would be taken for one of ours
                raise InvalidWriteError(
                    f"{format_pointer(path)}: live holds a {LIVE_REF} key, which a saved plan "
                    "would take for a reference"
                )
            return {
                key: hide(item, (*path, key), secret or looks_secret(key))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [hide(item, (*path, index), secret) for index, item in enumerate(value)]
        if is_masked(value) or (
            secret and value is not None and value != "" and not isinstance(value, bool)
        ):
            found = True
            return {LIVE_REF: places.pointer(path, value)}
        return value

    hidden = hide(document.value, (), False)
    return encode(hidden, document.encoded) if found else body


def unresolved(body: JSONValue, live: JSONValue | None) -> list[str]:
    """The pointers of the `{liveRef}`s in `body` (inside JSON text too) that `live` lacks."""
    missing: list[str] = []
    stack = [decode(body, what="a planned request").value]
    while stack:
        value = stack.pop()
        pointer = _live_reference_of(value)
        if pointer is not None:
            if isinstance(_at_pointer(live, pointer), _Nothing):
                missing.append(pointer)
        elif isinstance(value, dict):
            stack.extend(reversed(value.values()))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return missing


def live_reference_problems(value: object, pointer: str) -> Iterator[tuple[str, str]]:
    """(pointer, message) for each malformed `{liveRef}` in a decoded `value`, at `pointer`."""
    if isinstance(value, dict):
        if LIVE_REF in value:
            target = value[LIVE_REF]
            if len(value) != 1:
                yield pointer, f"a {LIVE_REF} mapping holds nothing else"
            elif not isinstance(target, str) or not _is_pointer(target):
                yield child_pointer(pointer, LIVE_REF), "must be a JSON pointer"
            return
        for key, item in value.items():
            yield from live_reference_problems(item, child_pointer(pointer, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from live_reference_problems(item, child_pointer(pointer, index))


def _live_reference_of(value: object) -> str | None:
    if type(value) is dict and len(value) == 1:
        pointer = value.get(LIVE_REF)
        if type(pointer) is str:
            return pointer
    return None


def _is_pointer(text: str) -> bool:
    try:
        parse_pointer(text)
    except DocumentError:
        return False
    return True


class _Nothing:
    """What a pointer names where a document has nothing."""


_NOTHING = _Nothing()


def _at_pointer(document: JSONValue | None, pointer: str) -> JSONValue | _Nothing:
    """The value at an RFC 6901 pointer; a list index is written in decimal, no leading zero."""
    if document is None:
        return _NOTHING
    try:
        segments = parse_pointer(pointer)
    except DocumentError:
        return _NOTHING
    node: JSONValue = document
    for segment in segments:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and _INDEX.fullmatch(segment) and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return _NOTHING
    return node


class _LivePlaces:
    """Where in a live document a value of a body is: for the pointer of a `{liveRef}`."""

    def __init__(self, live: JSONValue | None) -> None:
        self._live = live
        self._leaves: list[tuple[JSONPath, JSONValue]] | None = None  # listed when first needed

    def pointer(self, path: JSONPath, value: JSONValue) -> str:
        """The pointer of `value` in live, preferring `path` itself, then a path ending like it."""
        if self._live is None:
            raise InvalidWriteError(
                f"{format_pointer(path)}: there is no live document to refer to for this value "
                "(under a secret-looking key, or masked), and a plan file must not hold it"
            )
        here = _at_pointer(self._live, format_pointer(path))
        if _same(here, value):
            return format_pointer(path)
        if self._leaves is None:
            self._leaves = list(_leaves(self._live, ()))
        best: JSONPath | None = None
        longest = -1
        for place, held in self._leaves:
            if _same(held, value):
                shared = _shared_ending(place, path)
                if shared > longest:
                    best, longest = place, shared
        if best is None:
            raise InvalidWriteError(
                f"{format_pointer(path)}: live does not hold this value (under a secret-looking "
                "key, or masked), so a plan file could neither refer to it nor hold it"
            )
        return format_pointer(best)


def _same(held: JSONValue | _Nothing, value: JSONValue) -> bool:
    # 1, 1.0 and true are equal to Python, not in a request.
    return type(held) is type(value) and held == value


def _leaves(node: JSONValue, path: JSONPath) -> Iterator[tuple[JSONPath, JSONValue]]:
    """Every scalar of a decoded document with its path, in document order."""
    if isinstance(node, dict):
        for key, item in node.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _leaves(item, (*path, index))
    else:
        yield path, node


def _shared_ending(left: JSONPath, right: JSONPath) -> int:
    """How many trailing parts two paths have in common."""
    count = 0
    for a, b in zip(reversed(left), reversed(right), strict=False):
        if a != b:
            break
        count += 1
    return count
