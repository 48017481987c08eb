"""Desired fields laid over a live document: what a correcting write sends.

Everything the desired document does not declare keeps live's value (and key order). Dicts merge
key by key; a declared list is the list sent (its length included, as comparing enforces it),
each item merged with live's item at the same position. Ignored paths keep live's value: an
ignore rule says "not mine", so a write must not change it. A `{secretRef: NAME/KEY}` becomes the
resolved secret in the request and REDACTED in what is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fdi_drift.drift.ignore import IgnoreRules
from fdi_drift.drift.model import JSONValue, Path
from fdi_drift.drift.redaction import REDACTED
from fdi_drift.drift.secret_ref import reference_of

Resolve = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Overlay:
    """The document to send, and the same with every resolved secret shown as REDACTED."""

    sent: JSONValue
    shown: JSONValue
    secret_paths: tuple[Path, ...]


class _Absent:
    """Marks a place live does not have."""


_ABSENT = _Absent()


def overlay(live: JSONValue, declared: JSONValue, ignore: IgnoreRules, resolve: Resolve) -> Overlay:
    """Lay `declared` over `live`; `resolve` turns a secret reference into its value."""
    secrets: list[Path] = []
    sent = _merge(live, declared, (), ignore, resolve, secrets)
    shown = _merge(live, declared, (), ignore, lambda ref: REDACTED, [])
    assert not isinstance(sent, _Absent) and not isinstance(shown, _Absent)
    return Overlay(sent, shown, tuple(secrets))


def overlay_keeping_secrets(live: JSONValue, declared: JSONValue, ignore: IgnoreRules) -> JSONValue:
    """`declared` over `live`, each secret reference keeping live's (masked) value.

    For deciding what differs without resolving anything: a secret is unknowable, never drift.
    """
    merged = _merge(live, declared, (), ignore, None, [])
    assert not isinstance(merged, _Absent)
    return merged


def _merge(
    live: JSONValue | _Absent,
    declared: JSONValue,
    path: Path,
    ignore: IgnoreRules,
    resolve: Resolve | None,
    secrets: list[Path],
) -> JSONValue | _Absent:
    if path and ignore.matches(path):
        return live
    ref = reference_of(declared)
    if ref is not None:
        if resolve is None:
            return live
        secrets.append(path)
        return resolve(ref)
    if isinstance(declared, dict) and isinstance(live, dict):
        merged: dict[str, JSONValue] = dict(live)
        for key, item in declared.items():
            value = _merge(live.get(key, _ABSENT), item, (*path, key), ignore, resolve, secrets)
            if isinstance(value, _Absent):
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged
    if isinstance(declared, list):
        items: list[JSONValue] = []
        live_items = live if isinstance(live, list) else []
        for index, item in enumerate(declared):
            before = live_items[index] if index < len(live_items) else _ABSENT
            value = _merge(before, item, (*path, index), ignore, resolve, secrets)
            items.append(None if isinstance(value, _Absent) else value)
        return items
    if isinstance(declared, dict):  # live has no dict here: the declared one, secrets resolved
        return _merge({}, declared, path, ignore, resolve, secrets)
    return declared
