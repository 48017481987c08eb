"""Deciding drift: a cheap in-sync test for every check, field changes only for drifted ones."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

from fdi_drift.drift.document import canonical_bytes, fingerprint
from fdi_drift.drift.ignore import IgnoreRules, prune
from fdi_drift.drift.model import ChangeOp, FieldChange, JSONValue, Path
from fdi_drift.drift.normalizer import (
    project,
    project_value,
    prune_unshaped,
    remove_paths,
    strip_secret_refs,
)
from fdi_drift.drift.packed import pack, unpack
from fdi_drift.drift.pointer import format_pointer
from fdi_drift.drift.redaction import REDACTED, holds_secret, looks_secret, redact_paths_at

_CHANGE_OPS = {
    "values_changed": ChangeOp.CHANGED,
    "type_changes": ChangeOp.CHANGED,
    "dictionary_item_removed": ChangeOp.ABSENT,
    "iterable_item_removed": ChangeOp.ABSENT,
    "dictionary_item_added": ChangeOp.EXTRA,
    "iterable_item_added": ChangeOp.EXTRA,
}


@dataclass(frozen=True, slots=True)
class PreparedDesired:
    """A declared spec ready for repeated comparison, hashed once and held packed.

    `value` is for comparing only: secret references and ignored paths are gone from it (an
    ignored or secret list item is None there, holding its position). Write from the spec.
    Each read of `value` unpacks a new copy; read it once per comparison.
    """

    packed: bytes
    fingerprint: str
    ignore: IgnoreRules
    secret_paths: tuple[Path, ...]

    @property
    def value(self) -> JSONValue:
        """The value compared, unpacked."""
        return unpack(self.packed)


def prepare_desired(
    spec: JSONValue,
    ignore: IgnoreRules,
    *,
    packed_spec: bytes | None = None,
    secret_refs: bool = True,
    text: bytes | None = None,
) -> PreparedDesired:
    """Strip secret references and ignored paths from a declared spec, and hash the rest.

    What the caller knows spares work: `packed_spec`, the spec already packed, is shared when
    nothing was stripped; `secret_refs` False says the spec holds no secret reference; `text`,
    JSON holding the spec, tells whether the ignore rules can prune anything at all. Raises
    DocumentError when the spec holds something that is not JSON (a YAML date, say).
    """
    stripped, secret_paths = strip_secret_refs(spec) if secret_refs else (spec, ())
    value = prune(stripped, ignore, text=text)
    packed = packed_spec if value is spec and packed_spec is not None else pack(value)
    return PreparedDesired(packed, fingerprint(value), ignore, secret_paths)


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of comparing one live document with its desired state."""

    in_sync: bool
    desired: JSONValue  # what was compared (after masked paths removed)
    live: JSONValue  # live projected to desired's shape, ignore rules applied
    # Declared secret references: live may hold a written secret there, in clear.
    secret_paths: tuple[Path, ...] = ()


def match(desired: PreparedDesired, live: JSONValue) -> Match:
    """Whether `live` (decoded or not) holds what `desired` declares; cheap, no field diff."""
    secrets = desired.secret_paths
    declared = desired.value
    shaped = project_value(live, declared)
    if fingerprint(shaped) == desired.fingerprint:
        return Match(True, declared, shaped, secrets)
    projection = project(live, declared)
    live_value = prune_unshaped(projection, desired.ignore)
    # A secret list item is None in desired; live's item there is unknowable too.
    unknowable = [*projection.masked, *(p for p in secrets if type(p[-1]) is int)]
    if not unknowable:
        in_sync = canonical_bytes(live_value) == canonical_bytes(declared)
        return Match(in_sync, declared, live_value, secrets)
    if () in unknowable:  # the whole document is one masked value: nothing left to compare
        return Match(True, None, None, secrets)
    desired_value = remove_paths(declared, unknowable)
    live_value = remove_paths(live_value, unknowable)
    in_sync = canonical_bytes(live_value) == canonical_bytes(desired_value)
    return Match(in_sync, desired_value, live_value, secrets)


# CPython 3.11 keeps the ast module's recursion count per interpreter, not per thread: two
# threads building ASTs at once can fail with "SystemError: AST constructor recursion depth
# mismatch" (seen in CI), and DeepDiff parses path parameters with ast.literal_eval. Diffs run
# in worker threads, so they take turns; under the GIL they never ran at once anyway.
_ONE_AT_A_TIME = threading.Lock()


def diff(m: Match) -> tuple[FieldChange, ...]:
    """Field-level changes between `m.desired` and `m.live`, sorted by pointer (one at a time).

    CPU-heavy (tens of milliseconds for a large task): run it in a worker thread, and only for
    a Match that is not in sync.
    """
    with _ONE_AT_A_TIME:
        return _diff(m)


def _diff(m: Match) -> tuple[FieldChange, ...]:
    """`diff`'s work. Values that could hold a secret come back as "<redacted>":
    whole under a secret-looking key or at or below a declared secret reference; inside a
    value that contains a secret reference's place, just that place.
    """
    tree = DeepDiff(
        m.desired,
        m.live,
        view="tree",
        zip_ordered_iterables=True,  # lists pair up by position, as project() paired them
        threshold_to_diff_deeper=0,  # always report the fields, never a whole dict instead
        ignore_private_variables=False,  # else keys starting with "__" are skipped
    )
    changes: list[FieldChange] = []
    for report, levels in tree.items():
        op = _CHANGE_OPS.get(report)
        if op is None:
            continue
        for level in levels:
            path: Path = tuple(level.path(output_format="list"))
            secret_path = any(type(part) is str and looks_secret(part) for part in path)
            changes.append(
                FieldChange(
                    pointer=format_pointer(path),
                    op=op,
                    desired=_shown(level.t1, path, secret_path, m.secret_paths),
                    live=_shown(level.t2, path, secret_path, m.secret_paths),
                )
            )
    changes.sort(key=lambda change: change.pointer)
    return tuple(changes)


def _shown(
    value: object, path: Path, secret_path: bool, secret_paths: tuple[Path, ...]
) -> JSONValue:
    if isinstance(value, NotPresent):
        return None
    if secret_path or holds_secret(value):
        return REDACTED
    return redact_paths_at(value, path, secret_paths)  # type: ignore[arg-type]
