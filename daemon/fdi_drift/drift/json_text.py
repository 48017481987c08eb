"""JSON text as written: where each value sits, and edits that leave everything else as it was.

A correcting write may change the declared values and nothing else. `rewrite(text, value, ...)`
returns text that reads as `value`, in which every value that did not change keeps its literal
text: number spelling (`1.50`, `1E3`, integers wider than 64 bits), string escapes, key order,
duplicate keys, whitespace. A changed value is written in the text's own style (ensure_ascii,
separators, indentation); members added to an object or array follow their siblings' layout.

Strings that hold JSON text (the `places` a decode found) are rewritten the same way, inside,
and the string literal is then changed only over the characters that changed: every untouched
character keeps its escape as written (`\\/`, `\\u00e9` or `é`).

When a faithful edit is impossible (a changed value under a key the text holds twice: readers
take the last, but which one does the author mean?) `UnfaithfulEditError` says where, and the
caller writes nothing.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from json import decoder

from fdi_drift.drift.model import JSONValue, Path
from fdi_drift.drift.pointer import format_pointer
from fdi_drift.errors import DocumentError

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
# One escape sequence inside a string literal; a surrogate pair counts as one character.
_ESCAPE = re.compile(
    r"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)"
)
_LITERALS: tuple[tuple[str, JSONValue], ...] = (("true", True), ("false", False), ("null", None))
_STRING_OR_SEPARATOR = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|([,:])( ?)', re.DOTALL)
_UNICODE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u([0-9a-fA-F]{4})")

_OBJECT, _ARRAY, _STRING, _SCALAR = range(4)
# The standard library's string scanner (in C): the literal's value and where it ends.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = decoder.scanstring  # type: ignore[attr-defined]


class UnfaithfulEditError(DocumentError):
    """The edit cannot be made without changing something nobody declared."""


class _Node:
    """One value of the text: its kind, its span, its value; members or items for containers."""

    __slots__ = ("end", "items", "kind", "members", "start", "value")

    def __init__(self, kind: int, start: int, end: int, value: JSONValue) -> None:
        self.kind = kind
        self.start = start
        self.end = end
        self.value = value
        self.members: list[_Member] = []
        self.items: list[_Node] = []


@dataclass(frozen=True, slots=True)
class _Member:
    key: str
    key_start: int
    key_end: int
    node: _Node


@dataclass(frozen=True, slots=True)
class _Splice:
    start: int
    end: int
    text: str


def parse(text: str, *, max_depth: int, what: str = "JSON text") -> _Node:
    """The syntax tree of `text`, which must be one JSON value and nothing else."""
    parser = _Parser(text, max_depth, what)
    node = parser.value(0, 1)
    end = _WHITESPACE.match(text, node.end).end()  # type: ignore[union-attr]
    if end != len(text):
        raise parser.error(end, "unexpected text after the value")
    return node


def loads(text: str, *, max_depth: int, what: str = "JSON text") -> JSONValue:
    """The value of `text`, integers exact whatever their width (slow: for writes only)."""
    return parse(text, max_depth=max_depth, what=what).value


class _Parser:
    def __init__(self, text: str, max_depth: int, what: str) -> None:
        self.text = text
        self.max_depth = max_depth
        self.what = what

    def error(self, at: int, message: str) -> DocumentError:
        return DocumentError(f"{self.what}: not JSON at character {at}: {message}")

    def skip(self, at: int) -> int:
        return _WHITESPACE.match(self.text, at).end()  # type: ignore[union-attr]

    def value(self, at: int, depth: int) -> _Node:
        text = self.text
        at = self.skip(at)
        first = text[at : at + 1]
        if first == "{" or first == "[":
            if depth > self.max_depth:
                raise DocumentError(
                    f"{self.what}: nested deeper than {self.max_depth} levels at character {at}"
                )
            return self.object(at, depth) if first == "{" else self.array(at, depth)
        if first == '"':
            value, end = self.string(at)
            return _Node(_STRING, at, end, value)
        number = _NUMBER.match(text, at)
        if number is not None:
            return _Node(_SCALAR, at, number.end(), self.number(number.group(), at))
        for literal, meaning in _LITERALS:
            if text.startswith(literal, at):
                return _Node(_SCALAR, at, at + len(literal), meaning)
        raise self.error(at, "expected a value")

    def string(self, at: int) -> tuple[str, int]:
        try:
            value, end = _scanstring(self.text, at + 1, True)
        except ValueError as exc:
            raise self.error(at, str(exc)) from None
        return value, end

    def number(self, literal: str, at: int) -> int | float:
        if "." not in literal and "e" not in literal and "E" not in literal:
            return int(literal)
        value = float(literal)
        if not math.isfinite(value):
            raise self.error(at, f"number {literal[:40]} is out of range")
        return value

    def object(self, at: int, depth: int) -> _Node:
        text = self.text
        node = _Node(_OBJECT, at, at, None)
        at = self.skip(at + 1)
        if text[at : at + 1] == "}":
            node.end, node.value = at + 1, {}
            return node
        while True:
            if text[at : at + 1] != '"':
                raise self.error(at, "expected a key")
            key, key_end = self.string(at)
            colon = self.skip(key_end)
            if text[colon : colon + 1] != ":":
                raise self.error(colon, "expected ':'")
            child = self.value(colon + 1, depth + 1)
            node.members.append(_Member(key, at, key_end, child))
            at = self.skip(child.end)
            following = text[at : at + 1]
            if following == "}":
                break
            if following != ",":
                raise self.error(at, "expected ',' or '}'")
            at = self.skip(at + 1)
        node.end = at + 1
        node.value = {member.key: member.node.value for member in node.members}
        return node

    def array(self, at: int, depth: int) -> _Node:
        text = self.text
        node = _Node(_ARRAY, at, at, None)
        at = self.skip(at + 1)
        if text[at : at + 1] == "]":
            node.end, node.value = at + 1, []
            return node
        while True:
            child = self.value(at, depth + 1)
            node.items.append(child)
            at = self.skip(child.end)
            following = text[at : at + 1]
            if following == "]":
                break
            if following != ",":
                raise self.error(at, "expected ',' or ']'")
            at = at + 1
        node.end = at + 1
        node.value = [item.value for item in node.items]
        return node


def same(left: JSONValue, right: JSONValue) -> bool:
    """Equal as JSON values, with 1, 1.0 and true kept apart (Python's == confuses them)."""
    if type(left) is not type(right):
        return False
    if type(left) is dict:
        assert isinstance(right, dict)
        return len(left) == len(right) and all(
            key in right and same(item, right[key]) for key, item in left.items()
        )
    if type(left) is list:
        assert isinstance(right, list)
        return len(left) == len(right) and all(map(same, left, right))
    return left == right


@dataclass(frozen=True, slots=True)
class _Style:
    """How a text is written: separators, indentation unit, whether non-ASCII is escaped."""

    item_separator: str
    key_separator: str
    indent: str | None
    ensure_ascii: bool

    def dump(self, value: JSONValue, line_indent: str) -> str:
        try:
            text = json.dumps(
                value,
                separators=(self.item_separator, self.key_separator),
                indent=self.indent,
                ensure_ascii=self.ensure_ascii,
                allow_nan=False,
            )
        except (TypeError, ValueError) as exc:
            raise DocumentError(f"cannot write {type(value).__name__} as JSON: {exc}") from exc
        # json.dumps indents from column 0; a nested value continues at its line's indentation.
        return text.replace("\n", "\n" + line_indent) if self.indent and line_indent else text


def style_of(text: str) -> _Style:
    """The separators, indentation and ASCII escaping `text` was written with."""
    indent: str | None = None
    stripped = text.lstrip()
    if stripped[1:2] == "\n":
        # Indented writers break the line right after the opening bracket of a non-empty root.
        second_line = stripped[2:]
        indent = second_line[: len(second_line) - len(second_line.lstrip(" \t"))] or None
    item_sep: str | None = None
    key_sep: str | None = None
    for token in _STRING_OR_SEPARATOR.finditer(text):
        separator = token.group(1)
        if separator == "," and item_sep is None:
            item_sep = "," + token.group(2)
        elif separator == ":" and key_sep is None:
            key_sep = ":" + token.group(2)
        if item_sep is not None and key_sep is not None:
            break
    ensure_ascii = text.isascii() and any(
        int(m.group(1), 16) >= 0x80 for m in _UNICODE_ESCAPE.finditer(text)
    )
    if indent is not None:
        # An indented text ends its lines with ",", so a space after it is not a separator.
        return _Style(",", key_sep or ": ", indent, ensure_ascii)
    return _Style(item_sep or ",", key_sep or ":", None, ensure_ascii)


def rewrite(
    text: str, value: JSONValue, *, places: Collection[Path], base: Path, max_depth: int
) -> str:
    """`text` changed to read as `value`, every unchanged value keeping its literal text.

    `places` are the paths (absolute, like `base`, the path `text` itself sits at) of strings
    inside that hold JSON text: `value` holds them decoded. Raises UnfaithfulEditError when
    the edit is impossible without touching something undeclared, DocumentError when `text`
    is not JSON or a new value cannot be written as JSON.
    """
    return _apply(text, _Editor(text, places, max_depth).edit_text(base, value))


class _Editor:
    """Collects the splices that turn one text into another, recursing into nested texts."""

    def __init__(self, text: str, places: Collection[Path], max_depth: int) -> None:
        self.text = text
        self.places = places
        self.max_depth = max_depth
        self.style = style_of(text)
        self.splices: list[_Splice] = []

    def edit_text(self, base: Path, value: JSONValue) -> list[_Splice]:
        root = parse(self.text, max_depth=self.max_depth, what=format_pointer(base) or "text")
        self.edit(root, value, base)
        return self.splices

    def edit(self, node: _Node, new: JSONValue, path: Path) -> None:
        if node.kind == _STRING and path in self.places and type(new) in (dict, list):
            self.edit_nested(node, new, path)
        elif same(node.value, new):
            return
        elif node.kind == _OBJECT and type(new) is dict and node.members:
            self.edit_object(node, new, path)
        elif node.kind == _ARRAY and type(new) is list and node.items:
            self.edit_array(node, new, path)
        else:
            self.replace(node, new)

    def replace(self, node: _Node, new: JSONValue) -> None:
        self.splices.append(
            _Splice(node.start, node.end, self.style.dump(new, self.indent_at(node.start)))
        )

    def edit_nested(self, node: _Node, new: JSONValue, path: Path) -> None:
        inner = _Editor(str(node.value), self.places, self.max_depth)
        changes = inner.edit_text(path, new)
        if not changes:
            return
        # Map the inner text's splices onto the string literal, escaping only what is new.
        literal = self.text[node.start + 1 : node.end - 1]
        decoded_at, raw_at = _escape_map(literal)
        for change in changes:
            start = node.start + 1 + _raw_offset(change.start, decoded_at, raw_at)
            end = node.start + 1 + _raw_offset(change.end, decoded_at, raw_at)
            escaped = json.dumps(change.text, ensure_ascii=self.style.ensure_ascii)[1:-1]
            self.splices.append(_Splice(start, end, escaped))

    def edit_object(self, node: _Node, new: dict[str, JSONValue], path: Path) -> None:
        counts = Counter(member.key for member in node.members)
        last = {member.key: index for index, member in enumerate(node.members)}
        kept: list[_Member] = []
        removed: list[int] = []
        for index, member in enumerate(node.members):
            key = member.key
            if key not in new:
                removed.append(index)
                continue
            kept.append(member)
            if counts[key] == 1:
                self.edit(member.node, new[key], (*path, key))
            elif index == last[key] and not self.unchanged(member.node, new[key], (*path, key)):
                raise UnfaithfulEditError(
                    f"{format_pointer((*path, key))}: the key appears {counts[key]} times in the "
                    "text, so which one to change is ambiguous; nothing was written"
                )
        if not kept:
            self.replace(node, new)
            return
        self.remove(node, [(m.key_start, m.node.end) for m in node.members], removed)
        added = [key for key in new if key not in counts]
        if added:
            pieces = [
                self.separator_for(node, [(m.key_start, m.node.end) for m in node.members])
                + json.dumps(key, ensure_ascii=self.style.ensure_ascii)
                + self.key_separator_of(node.members[-1])
                + self.style.dump(new[key], self.indent_at(node.members[-1].key_start))
                for key in added
            ]
            end = node.members[-1].node.end
            self.splices.append(_Splice(end, end, "".join(pieces)))

    def edit_array(self, node: _Node, new: list[JSONValue], path: Path) -> None:
        items = node.items
        for index, (item, wanted) in enumerate(zip(items, new, strict=False)):
            self.edit(item, wanted, (*path, index))
        if len(new) < len(items):
            if not new:
                self.replace(node, new)
                return
            spans = [(item.start, item.end) for item in items]
            self.remove(node, spans, list(range(len(new), len(items))))
        elif len(new) > len(items):
            separator = self.separator_for(node, [(item.start, item.end) for item in items])
            line_indent = self.indent_at(items[-1].start)
            text = "".join(separator + self.style.dump(v, line_indent) for v in new[len(items) :])
            self.splices.append(_Splice(items[-1].end, items[-1].end, text))

    def unchanged(self, node: _Node, new: JSONValue, path: Path) -> bool:
        """Whether editing `node` to `new` would change nothing (nested texts decoded too)."""
        probe = _Editor(self.text, self.places, self.max_depth)
        probe.edit(node, new, path)
        return not probe.splices

    def remove(self, node: _Node, spans: list[tuple[int, int]], removed: list[int]) -> None:
        """Cut the removed entries with one separator each; at least one entry stays."""
        kept = [i for i in range(len(spans)) if i not in set(removed)]
        for index in removed:
            later = [k for k in kept if k > index]
            if later:  # from this entry to the start of the next kept one
                following = min(
                    k for k in range(index + 1, len(spans)) if k in kept or k in removed
                )
                self.splices.append(_Splice(spans[index][0], spans[following][0], ""))
            else:  # the tail: from the end of the entry before it
                self.splices.append(_Splice(spans[index - 1][1], spans[index][1], ""))

    def separator_for(self, node: _Node, spans: list[tuple[int, int]]) -> str:
        """What goes between the last entry and a new one: the separator siblings use."""
        if len(spans) >= 2:
            return self.text[spans[-2][1] : spans[-1][0]]
        gap = self.text[node.start + 1 : spans[0][0]]
        return "," + gap if gap else self.style.item_separator

    def key_separator_of(self, member: _Member) -> str:
        return self.text[member.key_end : member.node.start]

    def indent_at(self, at: int) -> str:
        """The whitespace that starts the line `at` is on."""
        line_start = self.text.rfind("\n", 0, at) + 1
        line = self.text[line_start:at]
        return line[: len(line) - len(line.lstrip(" \t"))]


def _escape_map(literal: str) -> tuple[list[int], list[int]]:
    """Breakpoints between a string literal's decoded offsets and its raw offsets."""
    decoded_at = [0]
    raw_at = [0]
    decoded = 0
    previous = 0
    for escape in _ESCAPE.finditer(literal):
        decoded += escape.start() - previous
        decoded_at.append(decoded)
        raw_at.append(escape.start())
        decoded += 1
        previous = escape.end()
        decoded_at.append(decoded)
        raw_at.append(previous)
    return decoded_at, raw_at


def _raw_offset(offset: int, decoded_at: list[int], raw_at: list[int]) -> int:
    index = bisect_right(decoded_at, offset) - 1
    return raw_at[index] + (offset - decoded_at[index])


def _apply(text: str, splices: list[_Splice]) -> str:
    if not splices:
        return text
    pieces: list[str] = []
    at = 0
    for splice in sorted(splices, key=lambda s: (s.start, s.end)):
        if splice.start < at:
            raise UnfaithfulEditError("overlapping edits; nothing was written")
        pieces.append(text[at : splice.start])
        pieces.append(splice.text)
        at = splice.end
    pieces.append(text[at:])
    return "".join(pieces)
