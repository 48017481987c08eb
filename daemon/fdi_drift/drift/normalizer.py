"""Normalization before comparing: ignore rules, secret references, projection onto desired.

Removing a list item would shift every later item and pair it with the wrong desired item, so
wherever these functions drop a list item they leave None in its place instead; dict keys are
deleted. Results share unchanged subtrees with their input: treat both as read-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from fdi_drift.drift.document import is_masked
from fdi_drift.drift.model import JSONValue, Path
from fdi_drift.errors import DocumentError

_OPENERS = ("{", "[")
_SPECIAL_CHARS = frozenset("*{[")  # first characters of strings that may be masked or JSON
_ANY_ONE = "*"
_ANY_DEPTH = "**"
_DEAD = -1  # the automaton state below which nothing can match any more


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """JSON pointer patterns naming paths to leave out of comparisons.

    A `*` segment matches exactly one segment, a `**` segment any number (zero included), so
    "/a/**" matches "/a" itself. List indexes match as decimal strings. A pattern names exactly
    the paths it matches; pruning a path removes everything under it too.
    """

    patterns: tuple[str, ...]
    _automaton: _Automaton = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        segments = tuple(_parse_pattern(p, "ignore") for p in self.patterns)
        object.__setattr__(self, "_automaton", _Automaton(segments))

    def matches(self, path: Path) -> bool:
        """Whether `path` is exactly one of the paths the patterns name."""
        return self._automaton.accepts(self._automaton.run(path))


class _Automaton:
    """All patterns as one deterministic automaton over path segments, built up front.

    A state stands for the (pattern, position) pairs still alive. A segment either equals one
    of the literal segments alive in a state or it does not, so each state needs one edge per
    such literal plus one for everything else: the table is small and never changes, which
    makes it safe to share between threads and costs one dict lookup per key walked.
    """

    __slots__ = ("accepting", "literal", "other")

    def __init__(self, patterns: tuple[tuple[str, ...], ...]) -> None:
        self.literal: list[dict[str, int]] = []
        self.other: list[int] = []
        self.accepting: list[bool] = []
        ids: dict[frozenset[tuple[int, int]], int] = {}
        states: list[frozenset[tuple[int, int]]] = []

        def intern(alive: set[tuple[int, int]]) -> int:
            pending = list(alive)
            while pending:  # a `**` may also match nothing: add the positions after it
                index, position = pending.pop()
                pattern = patterns[index]
                if position < len(pattern) and pattern[position] == _ANY_DEPTH:
                    skipped = (index, position + 1)
                    if skipped not in alive:
                        alive.add(skipped)
                        pending.append(skipped)
            if not alive:
                return _DEAD
            key = frozenset(alive)
            if key not in ids:
                ids[key] = len(states)
                states.append(key)
            return ids[key]

        def move(state: frozenset[tuple[int, int]], segment: str | None) -> set[tuple[int, int]]:
            alive: set[tuple[int, int]] = set()
            for index, position in state:
                pattern = patterns[index]
                if position < len(pattern):
                    token = pattern[position]
                    if token == _ANY_DEPTH:
                        alive.add((index, position))
                    elif token in (_ANY_ONE, segment):
                        alive.add((index, position + 1))
            return alive

        intern({(i, 0) for i in range(len(patterns))})
        done = 0
        while done < len(states):  # states grows while it is walked
            state = states[done]
            literals = {
                patterns[i][pos]
                for i, pos in state
                if pos < len(patterns[i]) and patterns[i][pos] not in (_ANY_ONE, _ANY_DEPTH)
            }
            self.literal.append({lit: intern(move(state, lit)) for lit in literals})
            self.other.append(intern(move(state, None)))
            self.accepting.append(any(pos == len(patterns[i]) for i, pos in state))
            done += 1
        if not states:  # no patterns at all: the start state is already dead
            self.literal.append({})
            self.other.append(_DEAD)
            self.accepting.append(False)

    def run(self, path: Path) -> int:
        """The state after walking `path` from the root."""
        state = 0
        for part in path:
            segment = str(part)
            state = self.literal[state].get(segment, self.other[state])
            if state == _DEAD:
                break
        return state

    def accepts(self, state: int) -> bool:
        return state != _DEAD and self.accepting[state]


def compile_ignore(patterns: Iterable[str], *, where: str = "ignore") -> IgnoreRules:
    """Validate and compile ignore patterns; errors name `where` and the pattern."""
    checked = tuple(patterns)
    for pattern in checked:
        _parse_pattern(pattern, where)
    return IgnoreRules(checked)


def _parse_pattern(pattern: object, where: str) -> tuple[str, ...]:
    def bad(reason: str) -> DocumentError:
        return DocumentError(f"{where}: ignore pattern {pattern!r}: {reason}")

    if not isinstance(pattern, str):
        raise bad("not a string")
    if not pattern.startswith("/"):
        raise bad("must start with '/'")
    segments = pattern[1:].split("/")
    for segment in segments:
        if "**" in segment and segment != _ANY_DEPTH:
            raise bad("'**' must be a whole segment")
        tilde = segment.find("~")
        while tilde != -1:
            if segment[tilde + 1 : tilde + 2] not in ("0", "1"):
                raise bad("'~' must be followed by '0' or '1'")
            tilde = segment.find("~", tilde + 2)
    return tuple(s.replace("~1", "/").replace("~0", "~") for s in segments)


def prune(value: JSONValue, rules: IgnoreRules) -> JSONValue:
    """`value` without the paths `rules` match (never the root itself)."""
    if not rules.patterns:
        return value
    return _prune(value, rules._automaton, 0)


def _prune(node: JSONValue, automaton: _Automaton, state: int) -> JSONValue:
    edges, other, accepting = automaton.literal[state], automaton.other[state], automaton.accepting
    if type(node) is dict:
        out: dict[str, JSONValue] | None = None
        for key, item in node.items():
            following = edges.get(key, other)
            if following == _DEAD:
                continue
            if accepting[following]:
                if out is None:
                    out = dict(node)
                del out[key]
                continue
            if type(item) is dict or type(item) is list:
                new = _prune(item, automaton, following)
                if new is not item:
                    if out is None:
                        out = dict(node)
                    out[key] = new
        return node if out is None else out
    if type(node) is list:
        items: list[JSONValue] | None = None
        for index, item in enumerate(node):
            following = edges.get(str(index), other)
            if following == _DEAD:
                continue
            if accepting[following]:
                new = None
            elif type(item) is dict or type(item) is list:
                new = _prune(item, automaton, following)
            else:
                continue
            if new is not item:
                if items is None:
                    items = list(node)
                items[index] = new
        return node if items is None else items
    return node


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
    """A copy of `value` without its `{"secretRef": "<name>/<key>"}` dicts, and their paths.

    A secret compares as unknowable, so it leaves the comparison entirely. The copy is deep:
    nothing in it is shared with `value`. The root itself is never a secret reference.
    """
    found: list[Path] = []
    return _strip(value, (), found), tuple(found)


def _is_secret_ref(node: JSONValue) -> bool:
    return type(node) is dict and len(node) == 1 and type(node.get("secretRef")) is str


def _strip(node: JSONValue, path: Path, found: list[Path]) -> JSONValue:
    if type(node) is dict:
        out: dict[str, JSONValue] = {}
        for key, item in node.items():
            if _is_secret_ref(item):
                found.append((*path, key))
            else:
                out[key] = _strip(item, (*path, key), found)
        return out
    if type(node) is list:
        items: list[JSONValue] = []
        for index, item in enumerate(node):
            if _is_secret_ref(item):
                found.append((*path, index))
                items.append(None)
            else:
                items.append(_strip(item, (*path, index), found))
        return items
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
    automaton = rules._automaton
    if () in projection.unshaped:
        return _prune(value, automaton, 0)
    changes: list[tuple[Path, _Change]] = []
    for path in projection.unshaped:
        state = automaton.run(path)
        if state == _DEAD:
            continue
        if automaton.accepting[state]:
            changes.append((path, _REMOVE))
            continue
        node = _get(value, path)
        pruned = _prune(node, automaton, state)
        if pruned is not node:
            changes.append((path, _Change(pruned)))
    return _rebuild(value, changes) if changes else value


def _get(value: JSONValue, path: Path) -> JSONValue:
    for part in path:
        value = value[part]  # type: ignore[index]
    return value
