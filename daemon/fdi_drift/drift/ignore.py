"""Ignore rules: JSON pointer patterns with `*` and `**`, compiled once, matched per key.

A removed list item would shift every later item onto the wrong desired item, so pruning a
list item leaves None in its place; dict keys are deleted. Results share unchanged subtrees with
their input: treat both as read-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import orjson

from fdi_drift.drift.model import JSONValue, Path
from fdi_drift.drift.pointer import STRAY_TILDE, has_stray_tilde, split_pointer
from fdi_drift.errors import DocumentError

_ANY_ONE = "*"
_ANY_DEPTH = "**"
_DEAD = -1  # the automaton state below which nothing can match any more


class _Removed:
    """The marker `IgnoreRules.prune_at` answers when the whole node is ignored."""


REMOVED: Final = _Removed()


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """JSON pointer patterns naming paths to leave out of comparisons.

    A `*` segment matches exactly one segment, a `**` segment any number (zero included), so
    "/a/**" matches "/a" itself. List indexes match as decimal strings. A pattern names exactly
    the paths it matches; pruning a path removes everything under it too.
    """

    patterns: tuple[str, ...]
    _automaton: _Automaton = field(init=False, repr=False, compare=False)
    # The JSON text of each pattern's last key; None when one ends in a wildcard or an index.
    _last_keys: tuple[bytes, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        segments = tuple(_parse_pattern(p, "ignore") for p in self.patterns)
        object.__setattr__(self, "_automaton", _Automaton(segments))
        ends = [pattern[-1] if pattern else "" for pattern in segments]
        literal = all(end and "*" not in end and not end.isdigit() for end in ends)
        keys = tuple(orjson.dumps(end) for end in ends) if literal else None
        object.__setattr__(self, "_last_keys", keys)

    def may_prune(self, text: bytes) -> bool:
        """Whether pruning a document whose JSON text is `text` can remove anything at all.

        False when every pattern ends in a key the text never holds: a cheap test that spares
        a walk of the whole document.
        """
        keys = self._last_keys
        return keys is None or any(key in text for key in keys)

    def matches(self, path: Path) -> bool:
        """Whether `path` is exactly one of the paths the patterns name."""
        return self._automaton.accepts(self._automaton.run(path))

    def prune_at(self, node: JSONValue, path: Path) -> JSONValue | _Removed:
        """`node`, found at `path`, without what the rules match below it; REMOVED if all is."""
        state = self._automaton.run(path)
        if state == _DEAD:
            return node
        if path and self._automaton.accepting[state]:
            return REMOVED
        return _prune(node, self._automaton, state)


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
    if has_stray_tilde(pattern):
        raise bad(STRAY_TILDE)
    segments = split_pointer(pattern)
    # Escapes never make or split a run of '*', so this holds for the segments as written too.
    if any("**" in segment and segment != _ANY_DEPTH for segment in segments):
        raise bad("'**' must be a whole segment")
    return segments


def prune(value: JSONValue, rules: IgnoreRules, *, text: bytes | None = None) -> JSONValue:
    """`value` without the paths `rules` match (never the root itself).

    `text`, JSON holding `value` when the caller has it, spares writing it here: the text
    tells whether the rules can prune anything at all, for a tenth of a walk's cost.
    """
    if not rules.patterns:
        return value
    if rules._last_keys is not None:
        try:
            if not rules.may_prune(orjson.dumps(value) if text is None else text):
                return value
        except TypeError:  # an integer wider than 64 bits: walk
            pass
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
