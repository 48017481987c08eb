"""Normalization before comparing: secret references, removals, projection onto desired.

Removing a list item would shift every later item and pair it with the wrong desired item, so
wherever these functions drop a list item they leave None in its place instead; dict keys are
deleted. Results share unchanged subtrees with their input: treat both as read-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import orjson

from fdi_drift.drift.document import is_masked
from fdi_drift.drift.ignore import REMOVED, IgnoreRules, prune
from fdi_drift.drift.model import JSONValue, Path
from fdi_drift.drift.secret_ref import reference_of
from fdi_drift.errors import DocumentError

_OPENERS = ("{", "[")
_SPECIAL_CHARS = frozenset("*{[")  # first characters of strings that may be masked or JSON


def remove_paths(value: JSONValue, paths: Iterable[Path]) -> JSONValue:
    """`value` without the given paths; a removed list item leaves None in its place.

    Paths that do not exist in `value` are skipped; the root cannot be removed.
    """
    changes: list[tuple[Path, _Change]] = []
    for path in paths:
        if not path:
            raise DocumentError("cannot remove the root of a document")
        changes.append((path, _REMOVE))
    return _rebuild(value, changes)


@dataclass(frozen=True, slots=True)
class _Change:
    """What goes at one path when rebuilding: `value`, or nothing when `remove`."""

    value: JSONValue = None
    remove: bool = False


_REMOVE = _Change(remove=True)
_Trie = dict[str | int, "_Trie | _Change"]


def _rebuild(value: JSONValue, changes: list[tuple[Path, _Change]]) -> JSONValue:
    """`value` with the changes applied, copying only the containers on the way to them."""
    trie: _Trie = {}
    for path, change in changes:
        level = trie
        for part in path[:-1]:
            below = level.setdefault(part, {})
            if isinstance(below, _Change):
                break  # an ancestor is already replaced or removed
            level = below
        else:
            level[path[-1]] = change
    return _apply(value, trie)


def _apply(node: JSONValue, trie: _Trie) -> JSONValue:
    if type(node) is dict:
        out = dict(node)
        for key, below in trie.items():
            if type(key) is not str or key not in out:
                continue
            if not isinstance(below, _Change):
                out[key] = _apply(out[key], below)
            elif below.remove:
                del out[key]
            else:
                out[key] = below.value
        return out
    if type(node) is list:
        items = list(node)
        for index, below in trie.items():
            if type(index) is not int or not 0 <= index < len(items):
                continue
            if not isinstance(below, _Change):
                items[index] = _apply(items[index], below)
            else:
                items[index] = None if below.remove else below.value
        return items
    return node


def strip_secret_refs(value: JSONValue) -> tuple[JSONValue, tuple[Path, ...]]:
    """`value` without its `{"secretRef": "<name>/<key>"}` dicts, and their paths.

    A secret compares as unknowable, so it leaves the comparison entirely. Copy on write: only
    the containers on the way to a reference are new, the rest is shared with `value` (and
    without any reference, `value` itself comes back). The root is never a secret reference.
    """
    found: list[Path] = []
    return _strip(value, (), found), tuple(found)


def _strip(node: JSONValue, path: Path, found: list[Path]) -> JSONValue:
    if type(node) is dict:
        out: dict[str, JSONValue] | None = None
        for key, item in node.items():
            if reference_of(item) is not None:
                found.append((*path, key))
                if out is None:
                    out = dict(node)
                del out[key]
            elif type(item) is dict or type(item) is list:
                new = _strip(item, (*path, key), found)
                if new is not item:
                    if out is None:
                        out = dict(node)
                    out[key] = new
        return node if out is None else out
    if type(node) is list:
        items: list[JSONValue] | None = None
        for index, item in enumerate(node):
            if reference_of(item) is not None:
                found.append((*path, index))
                new = None
            elif type(item) is dict or type(item) is list:
                new = _strip(item, (*path, index), found)
            else:
                continue
            if new is not item:
                if items is None:
                    items = list(node)
                items[index] = new
        return node if items is None else items
    return node


@dataclass(frozen=True, slots=True)
class Projection:
    """Live reduced to the shape desired declares.

    `masked` holds the paths where live holds a masked secret and desired declares something.
    The mask stays in `value` there, so list positions hold and projecting again gives the same
    result; drop these paths from both sides before comparing (`remove_paths`). `unshaped`
    holds the paths where live was kept whole although desired declares something else there
    (another type, None, or no item at all): only below them can ignore rules still match.
    """

    value: JSONValue
    masked: tuple[Path, ...]
    unshaped: tuple[Path, ...] = ()


def project(live: JSONValue, desired: JSONValue) -> Projection:
    """Reduce `live` to the keys and list positions `desired` declares.

    Dicts keep only the keys desired has (a key live lacks stays absent); list items pair up by
    position, surplus live items stay whole, missing ones stay absent. Where desired holds a
    dict or list and live a string holding JSON, that string is decoded and projected too.
    """
    masked: list[Path] = []
    unshaped: list[Path] = []
    value = _project(live, desired, (), masked, unshaped)
    return Projection(value, tuple(masked), tuple(unshaped))


# The hot path of every check. One walk, `type() is` tests, scalars handled in the loops rather
# than by a call each, and nothing copied that is not kept.


def _project(
    have: JSONValue, want: JSONValue, path: Path, masked: list[Path], unshaped: list[Path]
) -> JSONValue:
    if type(have) is dict:
        if type(want) is dict:
            return _project_dict(have, want, path, masked, unshaped)
        unshaped.append(path)
    elif type(have) is list:
        if type(want) is list:
            return _project_list(have, want, path, masked, unshaped)
        unshaped.append(path)
    elif type(have) is str:
        return _project_string(have, want, path, masked, unshaped)
    return have


def _project_string(
    have: str, want: JSONValue, path: Path, masked: list[Path], unshaped: list[Path]
) -> JSONValue:
    if not have:
        return have
    if have[0] == "*":
        if is_masked(have):
            masked.append(path)
    elif (type(want) is dict or type(want) is list) and have.startswith(_OPENERS):
        try:
            decoded = orjson.loads(have)
        except orjson.JSONDecodeError:
            return have
        if type(decoded) is dict or type(decoded) is list:
            return _project(decoded, want, path, masked, unshaped)
    return have


def _project_dict(
    have: dict[str, JSONValue],
    want: dict[str, JSONValue],
    path: Path,
    masked: list[Path],
    unshaped: list[Path],
) -> JSONValue:
    out: dict[str, JSONValue] = {}
    for key, wanted in want.items():
        try:
            item = have[key]
        except KeyError:
            continue
        if type(item) is str:
            out[key] = (
                _project_string(item, wanted, (*path, key), masked, unshaped)
                if item and item[0] in _SPECIAL_CHARS
                else item
            )
        elif type(item) is dict or type(item) is list:
            out[key] = _project(item, wanted, (*path, key), masked, unshaped)
        else:
            out[key] = item
    return out


def _project_list(
    have: list[JSONValue],
    want: list[JSONValue],
    path: Path,
    masked: list[Path],
    unshaped: list[Path],
) -> JSONValue:
    declared = len(want)
    out: list[JSONValue] = []
    for index, item in enumerate(have):
        if index == declared:
            # Surplus items: nothing in desired shapes them.
            unshaped.extend((*path, i) for i in range(index, len(have)))
            out.extend(have[index:])
            break
        wanted = want[index]
        if wanted is None and item is not None:
            # None holds the place of an ignored or secret item: live's item stays whole.
            unshaped.append((*path, index))
            out.append(item)
        elif type(item) is str:
            out.append(
                _project_string(item, wanted, (*path, index), masked, unshaped)
                if item and item[0] in _SPECIAL_CHARS
                else item
            )
        elif type(item) is dict or type(item) is list:
            out.append(_project(item, wanted, (*path, index), masked, unshaped))
        else:
            out.append(item)
    return out


def project_value(live: JSONValue, desired: JSONValue) -> JSONValue:
    """`project(live, desired).value` without looking for masks or unshaped places.

    Good only for asking "does live hold exactly what desired declares?": when the answer is
    yes, nothing was masked or unshaped, so `project` would have found the same. When it is no,
    ask `project` for the details. Subtrees equal to desired's are returned as they are, not
    copied, so the cost is mostly that of `==` in C.
    """
    if type(desired) is dict:
        if type(live) is dict:
            # == may still confuse 1, 1.0 and true; the caller's canonical hash does not.
            if live == desired:
                return live
            out: dict[str, JSONValue] = {}
            for key, wanted in desired.items():
                if key in live:
                    if type(wanted) is dict or type(wanted) is list:
                        out[key] = project_value(live[key], wanted)
                    else:
                        out[key] = live[key]
            return out
    elif type(desired) is list:
        if type(live) is list:
            if live == desired:
                return live
            declared = len(desired)
            items: list[JSONValue] = []
            for index, item in enumerate(live):
                if index == declared:
                    items.extend(live[index:])
                    break
                wanted = desired[index]
                if type(wanted) is dict or type(wanted) is list:
                    items.append(project_value(item, wanted))
                else:
                    items.append(item)
            return items
    else:
        return live
    if type(live) is str and live.startswith(_OPENERS):
        try:
            decoded = orjson.loads(live)
        except orjson.JSONDecodeError:
            return live
        if type(decoded) is dict or type(decoded) is list:
            return project_value(decoded, desired)
    return live


def prune_unshaped(projection: Projection, rules: IgnoreRules) -> JSONValue:
    """`prune(projection.value, rules)` for a projection onto a document pruned by `rules`.

    Everywhere live took desired's shape, its paths are desired's, which `rules` did not
    match; so only the unshaped places need looking at, and the rest is not walked at all.
    """
    value = projection.value
    if not rules.patterns or not projection.unshaped:
        return value
    if () in projection.unshaped:
        return prune(value, rules)
    changes: list[tuple[Path, _Change]] = []
    for path in projection.unshaped:
        node = _get(value, path)
        pruned = rules.prune_at(node, path)
        if pruned is REMOVED:
            changes.append((path, _REMOVE))
        elif pruned is not node:
            changes.append((path, _Change(cast(JSONValue, pruned))))
    return _rebuild(value, changes) if changes else value


def _get(value: JSONValue, path: Path) -> JSONValue:
    for part in path:
        value = value[part]  # type: ignore[index]
    return value
