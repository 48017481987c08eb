"""Edits to YAML text that change the declared values and nothing else.

`edit_text(text, edits)` replaces or removes the values at some pointers and leaves every other
line as it was: comments, blank lines, key order, quoting, indentation, flow or block style.
ruamel.yaml's round-trip composer gives each node's exact span and style, so each edit is a
splice over its value's own characters, written in the style of what it replaces (a quoted
string stays quoted the same way, a block list stays a block list at its column). A string is
written plain only when YAML 1.1 and 1.2 readers both read it back as that string (`yes`, `0777`,
`1e3`, `12:30` and leading spaces are quoted), and multi-line strings go double-quoted, or as a
literal block where one was.

Each result is checked before it is returned: it must read (with `load_documents`, the loader's
own reader) as exactly the old document with the edits applied (types, values, key order), and
every line outside the edited values must be there unchanged and in order. Whatever cannot pass
raises YAMLEditError naming the pointer, and nothing is returned to write.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.emitter import Emitter
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fdi_drift.drift.model import JSONValue
from fdi_drift.drift.pointer import parse_pointer
from fdi_drift.errors import DocumentError
from fdi_drift.yaml_documents import UnreadableYAMLError, fast_document, load_documents


@dataclass(frozen=True, slots=True)
class Edit:
    """The value at `pointer` (RFC 6901, into the document as read) replaced, or removed."""

    pointer: str
    value: JSONValue = None
    remove: bool = False


class YAMLEditError(DocumentError):
    """An edit that cannot be made, or not without changing more than its value."""


def edit_text(text: str, edits: Sequence[Edit]) -> str:
    """`text` with each edit made and nothing else changed; YAMLEditError when impossible.

    Pointers name places in the document as `text` holds it: two edits may not overlap (one at
    or below the other), list items are removed by their index in the text, and removing every
    entry of a collection leaves it empty (`{}` or `[]`). Replacing or removing needs a value
    there; nothing is added.
    """
    if not edits:
        return text
    before = _one_document(text, "the text")
    editor = _Editor(text, before)
    after = editor.apply(edits)
    expected = _applied(before, edits)
    if not _same(_one_document(after, "the edited text"), expected):
        raise YAMLEditError(f"{_named(edits)}: the edited text does not read back as intended")
    _check_untouched(text, after, editor.touched_lines)
    return after


def _one_document(text: str, what: str) -> Any:
    try:
        documents = load_documents(text)
    except UnreadableYAMLError as error:
        where = f" (line {error.line})" if error.line else ""
        raise YAMLEditError(f"{what} cannot be read: {error.message}{where}") from None
    except RecursionError:
        raise YAMLEditError(f"{what} cannot be read: nested too deep") from None
    if len(documents) != 1:
        raise YAMLEditError(f"{what} holds {len(documents)} documents, not one")
    return documents[0]


def _named(edits: Sequence[Edit]) -> str:
    return ", ".join(edit.pointer for edit in edits)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where an edited value sits: its node, the collection holding it and its entry there."""

    pointer: str
    path: tuple[str, ...]
    node: Node
    parent: Node
    key: ScalarNode | None  # the entry's key when the parent is a mapping
    index: int  # the entry's position in its parent
    flow: bool  # inside a flow collection: only flow syntax may be written here


@dataclass(frozen=True, slots=True)
class _Splice:
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class _Layout:
    """How the text lays out block collections, for collections written anew."""

    newline: str
    mapping_indent: int  # a nested mapping's keys, right of their parent key
    sequence_offset: int  # a sequence's dashes, right of the key that holds it


class _Editor:
    """One text's nodes, its layout, and the splices that make a list of edits."""

    def __init__(self, text: str, document: Any) -> None:
        self.text = text
        self.document = document
        try:
            self.root: Node = YAML(typ="rt", pure=True).compose(text)
        except (RuamelYAMLError, RecursionError, ValueError) as error:
            reason = " ".join(str(error).split())[:200]
            raise YAMLEditError(f"ruamel.yaml cannot read the text: {reason}") from None
        self.layout = _layout_of(text, self.root)
        self._line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self.touched_lines: set[int] = set()

    def apply(self, edits: Sequence[Edit]) -> str:
        places = [self._locate(edit.pointer) for edit in edits]
        _refuse_overlaps(places)
        splices: list[_Splice] = []
        removed: dict[int, list[_Place]] = {}
        for edit, place in zip(edits, places, strict=True):
            if edit.remove:
                removed.setdefault(id(place.parent), []).append(place)
            elif not _same(_value_at(self.document, place), edit.value):
                splices.append(self._replacement(place, edit.value))
        for group in removed.values():
            parent = group[0].parent
            if len(group) == len(parent.value):  # nothing left: an empty collection
                holder = self._locate_path(group[0].path[:-1])
                splices.append(self._replacement(holder, {} if _is_mapping(parent) else []))
            else:
                splices.extend(self._removals(group))
        splices.sort(key=lambda splice: (splice.start, splice.end))
        for first, second in itertools.pairwise(splices):
            if second.start < first.end:
                raise YAMLEditError(f"{_named(edits)}: the edits touch the same text")
        out: list[str] = []
        at = 0
        for splice in splices:
            out.append(self.text[at : splice.start])
            out.append(splice.text)
            at = splice.end
            self.touched_lines.update(
                range(self._line(splice.start), self._line(max(splice.end - 1, splice.start)) + 1)
            )
        out.append(self.text[at:])
        return "".join(out)

    # Finding places.

    def _locate(self, pointer: str) -> _Place:
        try:
            path = parse_pointer(pointer)
        except DocumentError as error:
            raise YAMLEditError(str(error)) from None
        if not path:
            raise YAMLEditError("the whole document cannot be edited, only values in it")
        return self._locate_path(path)

    def _locate_path(self, path: tuple[str, ...]) -> _Place:
        """The place at `path`; the root's own (only emptied, when all its keys are removed)."""
        pointer = "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)
        node: Node = self.root
        parent: Node = node
        key: ScalarNode | None = None
        index = -1
        flow = False
        for segment in path:
            flow = flow or bool(getattr(node, "flow_style", False))
            parent = node
            if isinstance(node, MappingNode):
                keys = [k.value if isinstance(k, ScalarNode) else None for k, _ in node.value]
                if segment not in keys:
                    raise YAMLEditError(f"{pointer}: no value there")
                index = keys.index(segment)
                key, node = node.value[index]
            elif isinstance(node, SequenceNode):
                if not re.fullmatch(r"0|[1-9][0-9]*", segment) or int(segment) >= len(node.value):
                    raise YAMLEditError(f"{pointer}: no value there")
                key, index = None, int(segment)
                node = node.value[index]
            else:
                raise YAMLEditError(f"{pointer}: no value there")
        return _Place(pointer, path, node, parent, key, index, flow)

    # Replacing.

    def _replacement(self, place: _Place, value: JSONValue) -> _Splice:
        node = place.node
        end = self._content_end(node)
        container = isinstance(value, dict | list) and bool(value)
        if _is_block(node):
            if container and not place.flow:
                return self._block_replacement(place, value, end)
            written = self._inline(value, place)
            colon = self._colon(place)
            gap = "" if colon is None else self.text[colon + 1 : _start(node)]
            if colon is not None and not gap.strip() and gap.count("\n") == 1:
                return _Splice(colon + 1, end, " " + written)  # onto the key's line
            key = place.key
            start = self._line_start(_start(node))
            if key is not None and _column(node) <= _column(key) and self._starts_line(node):
                column = _column(key) + self.layout.mapping_indent  # was an indentless list
                return _Splice(start, end, " " * column + written)
            return _Splice(_start(node), end, written)
        # A flow collection that holds something stays flow; `[]` or a scalar opens a block.
        opens = isinstance(node, ScalarNode) or not node.value
        if container and opens and not place.flow and not _is_empty(node):
            opened = self._opened_block(place, value, end)
            if opened is not None:
                return opened
        written = self._inline(value, place)
        if _is_empty(node):
            indicator = self._indicator(place)
            return _Splice(indicator + 1, indicator + 1, " " + written)
        return _Splice(_start(node), end, written)

    def _opened_block(self, place: _Place, value: JSONValue, end: int) -> _Splice | None:
        """A scalar or `[]` in block context replaced by a block collection, on the lines
        below its key; None where a comment follows it on its line."""
        if self.text[end : self._line_end_of(end)].strip():
            return None
        node, key = place.node, place.key
        if key is None:  # a list item: the collection starts after its dash
            return _Splice(_start(node), end, _block(value, _column(node), self.layout))
        colon = self._colon(place)
        if colon is None or not _is_block(place.parent):
            return None
        layout = self.layout
        step = layout.mapping_indent if isinstance(value, dict) else layout.sequence_offset
        column = _column(key) + step
        written = layout.newline + " " * column + _block(value, column, layout)
        return _Splice(colon + 1, end, written)

    def _block_replacement(self, place: _Place, value: JSONValue, end: int) -> _Splice:
        """A block collection replaced by a block collection, at a column that fits."""
        node = place.node
        column = _column(node)
        key = place.key
        if key is not None and _is_mapping(node) != isinstance(value, dict):
            layout = self.layout
            step = layout.mapping_indent if isinstance(value, dict) else layout.sequence_offset
            column = _column(key) + step
        if column == _column(node):
            return _Splice(_start(node), end, _block(value, column, self.layout))
        if not self._starts_line(node):  # `: - item` after an explicit key
            return _Splice(_start(node), end, _flow(value))
        start = self._line_start(_start(node))
        return _Splice(start, end, " " * column + _block(value, column, self.layout))

    def _inline(self, value: JSONValue, place: _Place) -> str:
        """The value as one piece of text for this place: a scalar, or a flow collection."""
        if isinstance(value, dict | list):
            return _flow(value)
        node = place.node
        old = node if isinstance(node, ScalarNode) and not _is_empty(node) else None
        indent = self._block_scalar_indent(old) if old is not None else 0
        return _scalar(
            value,
            flow=place.flow,
            old_style=None if old is None else old.style,
            indent=indent,
            newline=self.layout.newline,
            pointer=place.pointer,
        )

    # Removing.

    def _removals(self, group: list[_Place]) -> list[_Splice]:
        """Splices removing some entries of one collection (not all of them)."""
        parent = group[0].parent
        gone = sorted(place.index for place in group)
        entries = [self._entry(parent, index) for index in range(len(parent.value))]
        splices: list[_Splice] = []
        runs: list[list[int]] = []
        for index in gone:
            if runs and runs[-1][-1] == index - 1:
                runs[-1].append(index)
            else:
                runs.append([index])
        flow = bool(getattr(parent, "flow_style", False))
        for run in runs:
            first, last = entries[run[0]], entries[run[-1]]
            after = run[-1] + 1
            kept_after = entries[after] if after < len(entries) else None
            if flow:
                if kept_after is not None:
                    splices.append(_Splice(first[0], kept_after[0], ""))
                else:  # the last ones: from the end of the entry before them
                    splices.append(_Splice(entries[run[0] - 1][1], last[1], ""))
            elif not self.text[self._line_start(first[0]) : first[0]].strip():
                line_end = self._line_end(last[1])
                if line_end is None:
                    raise YAMLEditError(f"{group[0].pointer}: more follows it on its line")
                splices.append(_Splice(self._line_start(first[0]), line_end, ""))
            elif kept_after is not None:  # shares its line with an indicator: `- key: value`
                splices.append(_Splice(first[0], kept_after[0], ""))
            else:
                raise YAMLEditError(f"{group[0].pointer}: cannot be removed from its line")
        return splices

    def _entry(self, parent: Node, index: int) -> tuple[int, int]:
        """Where an entry of a collection starts (its key or dash) and where its content ends."""
        if isinstance(parent, MappingNode):
            key, value = parent.value[index]
            start = self._key_start(key)
            if _is_empty(value):
                colon = self._colon_after(_end(key))
                return start, _end(key) if colon is None else colon + 1
            return start, self._content_end(value)
        item = parent.value[index]
        if getattr(parent, "flow_style", False):
            return _start(item), self._content_end(item)
        dash = self._dash_before(item)
        return dash, dash + 1 if _is_empty(item) else self._content_end(item)

    # Positions.

    def _content_end(self, node: Node) -> int:
        """Where a node's own text ends: before any blank lines, comments or the next token."""
        if isinstance(node, ScalarNode):
            if node.style in ("|", ">"):
                lines = self.text[_start(node) : _end(node)].split("\n")
                while len(lines) > 1 and not lines[-1].strip():
                    lines.pop()
                return _start(node) + len("\n".join(lines).rstrip("\r"))
            return _end(node)
        if getattr(node, "flow_style", False) or not node.value:
            return _end(node)
        if isinstance(node, MappingNode):
            key, value = node.value[-1]
            if _is_empty(value):
                colon = self._colon_after(_end(key))
                return _end(key) if colon is None else colon + 1
            return self._content_end(value)
        last = node.value[-1]
        return self._dash_before(last) + 1 if _is_empty(last) else self._content_end(last)

    def _colon(self, place: _Place) -> int | None:
        return None if place.key is None else self._colon_after(_end(place.key))

    def _colon_after(self, index: int) -> int | None:
        # On the next line after an explicit key (`? key`).
        found = re.compile(r"[ \t\r\n]*:").match(self.text, index)
        return None if found is None else found.end() - 1

    def _key_start(self, key: Node) -> int:
        """Where a mapping entry starts: its key, or the `?` of an explicit key."""
        index = _start(key)
        before = self.text[self._line_start(index) : index].rstrip(" \t")
        return self._line_start(index) + len(before) - 1 if before.endswith("?") else index

    def _indicator(self, place: _Place) -> int:
        """The `:` or `-` an empty value follows, where a new value is written."""
        if place.key is not None:
            colon = self._colon(place)
            if colon is None:
                raise YAMLEditError(f"{place.pointer}: a key without a value indicator")
            return colon
        if place.flow:
            raise YAMLEditError(f"{place.pointer}: an empty item of a flow sequence")
        return self._dash_before(place.node)

    def _dash_before(self, item: Node) -> int:
        index = _start(item)
        while index > 0 and self.text[index - 1] in " \t\r\n":
            index -= 1
        if index == 0 or self.text[index - 1] != "-":
            raise YAMLEditError("a list item whose dash cannot be found (a comment before it?)")
        return index - 1

    def _block_scalar_indent(self, node: ScalarNode) -> int:
        """The indentation of a block scalar's content (0 for any other scalar)."""
        if node.style not in ("|", ">"):
            return 0
        for line in self.text[_start(node) : _end(node)].split("\n")[1:]:
            if line.strip():
                return len(line) - len(line.lstrip(" "))
        return _column(node) + 2

    def _starts_line(self, node: Node) -> bool:
        return not self.text[self._line_start(_start(node)) : _start(node)].strip()

    def _line(self, index: int) -> int:
        return bisect_right(self._line_starts, index) - 1

    def _line_start(self, index: int) -> int:
        return self._line_starts[self._line(index)]

    def _line_end_of(self, index: int) -> int:
        """After the line break ending the line of `index`, whatever is left on it."""
        found = re.compile(r"[^\r\n]*(?:\r?\n|\Z)").match(self.text, index)
        assert found is not None  # it matches the empty string at worst
        return found.end()

    def _line_end(self, index: int) -> int | None:
        """After the line break ending the line of `index`, if only a comment is left on it."""
        found = re.compile(r"[ \t]*(?:#[^\r\n]*)?(?:\r?\n|\Z)").match(self.text, index)
        return None if found is None else found.end()


def _start(node: Node) -> int:
    """Where a node's text starts, as an index into the text."""
    start: int = node.start_mark.index
    return start


def _end(node: Node) -> int:
    """Where a node's marks say it ends (for block collections: where the next token starts)."""
    end: int = node.end_mark.index
    return end


def _column(node: Node) -> int:
    column: int = node.start_mark.column
    return column


def _is_mapping(node: Node) -> bool:
    return isinstance(node, MappingNode)


def _is_block(node: Node) -> bool:
    return isinstance(node, MappingNode | SequenceNode) and not node.flow_style and bool(node.value)


def _is_empty(node: Node) -> bool:
    """A scalar with no text at all (`key:` alone): its marks say nothing useful."""
    return isinstance(node, ScalarNode) and _start(node) == _end(node)


def _refuse_overlaps(places: list[_Place]) -> None:
    paths = sorted(place.path for place in places)
    for shorter, longer in itertools.pairwise(paths):
        if longer[: len(shorter)] == shorter:
            pointer = "".join(f"/{part}" for part in longer)
            raise YAMLEditError(f"{pointer}: two edits at or below the same value")


def _layout_of(text: str, root: Node) -> _Layout:
    """The indentation the text's own nested block collections use (else 2 and 0)."""
    mapping: Counter[int] = Counter()
    sequence: Counter[int] = Counter()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if _is_block(value) and not node.flow_style:
                    step = _column(value) - _column(key)
                    (mapping if isinstance(value, MappingNode) else sequence)[step] += 1
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    indent = next((step for step, _ in mapping.most_common() if step > 0), 2)
    offset = next((step for step, _ in sequence.most_common() if step >= 0), 0)
    return _Layout("\r\n" if "\r\n" in text else "\n", indent, offset)


# Writing values.


def _emitter() -> Emitter:
    """ruamel's emitter, for its analysis of which styles can hold a string."""
    dumper = YAML(typ="rt", pure=True)
    dumper.allow_unicode = True
    emitter: Emitter = dumper.emitter
    return emitter


_EMITTER = _emitter()
# What PyYAML's reader accepts in a stream; anything else is written as an escape.
_NOT_PRINTABLE = re.compile("[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\ufeff")
_LINE_BREAKS = re.compile("[\r\n\x85\u2028\u2029]")
# Line breaks of YAML 1.1 (NEL, U+2028, U+2029) would fold inside quotes: escaped too.
_DOUBLE_ESCAPED = re.compile('[\\\\"\n\t\r\x85\u2028\u2029]|' + _NOT_PRINTABLE.pattern)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


def _scalar(
    value: JSONValue,
    *,
    flow: bool,
    old_style: str | None = None,
    indent: int = 0,
    newline: str = "\n",
    pointer: str = "",
) -> str:
    """A scalar's text for a place in block or flow context, in the style it replaces if it can."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise YAMLEditError(f"{pointer}: {value!r} is not a JSON number")
        mantissa, exponent, power = repr(value).partition("e")
        # YAML 1.1 reads a number as a float only with a dot, and an exponent only with a sign.
        return (mantissa if "." in mantissa else f"{mantissa}.0") + exponent + power
    if not isinstance(value, str):
        raise YAMLEditError(f"{pointer}: a {type(value).__name__} is not a JSON value")
    for written in _string_forms(value, flow, old_style, indent, newline):
        if _reads_as(written, value):
            return written
    raise YAMLEditError(f"{pointer}: no YAML spelling of this string reads back as itself")


def _string_forms(
    value: str, flow: bool, old_style: str | None, indent: int, newline: str
) -> list[str]:
    """Ways to write a string, the best first: the replaced value's style, plain, quoted."""
    analysis = _EMITTER.analyze_scalar(value)
    plain = analysis.allow_flow_plain if flow else analysis.allow_block_plain
    single = _single_quotable(value, analysis)
    forms: list[str] = []
    if old_style == "'" and single:
        forms.append(_single_quoted(value))
    elif old_style == '"':
        forms.append(_double_quoted(value))
    elif old_style in ("|", ">") and not flow and "\n" in value:
        literal = _literal(value, indent, newline)
        if literal is not None:
            forms.append(literal)
    if plain and _plain_reads_alike(value):
        forms.append(value)
    if single:
        forms.append(_single_quoted(value))
    forms.append(_double_quoted(value))
    return forms


def _single_quotable(value: str, analysis: Any) -> bool:
    """Whether single quotes hold `value` on one line (breaks would fold, escapes do not exist)."""
    return bool(analysis.allow_single_quoted) and not (
        _LINE_BREAKS.search(value) or _NOT_PRINTABLE.search(value)
    )


def _plain_reads_alike(value: str) -> bool:
    """Whether YAML 1.1 and 1.2 both read `value`, written plain, as this very string."""
    snippet = f"k: {value}\n"
    read = fast_document(snippet)  # None unless both versions read the text alike
    return type(read) is dict and type(read.get("k")) is str and read["k"] == value


def _reads_as(written: str, value: str) -> bool:
    try:
        read = load_documents(f"k: {written}\n")
    except (UnreadableYAMLError, RecursionError):
        return False
    return len(read) == 1 and _same(read[0], {"k": value})


def _single_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _double_quoted(value: str) -> str:
    def escape(found: re.Match[str]) -> str:
        char = found.group()
        if char in _ESCAPES:
            return _ESCAPES[char]
        code = ord(char)
        if code <= 0xFF:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    return '"' + _DOUBLE_ESCAPED.sub(escape, value) + '"'


def _literal(value: str, indent: int, newline: str) -> str | None:
    """A literal block scalar (`|`) holding `value`, its lines at `indent`; None if it cannot."""
    if indent < 1 or value.lstrip("\n")[:1] in (" ", "\t") or value.endswith("\n\n"):
        return None
    if _NOT_PRINTABLE.search(value.replace("\n", "").replace("\t", "")):
        return None
    if "\r" in value or "\x85" in value or "\u2028" in value or "\u2029" in value:
        return None
    header, body = ("|", value[:-1]) if value.endswith("\n") else ("|-", value)
    lines = body.split("\n")
    return header + "".join(newline + (" " * indent + line if line else "") for line in lines)


def _key(key: str, *, flow: bool) -> str:
    """A mapping key's text: plain where both YAML versions read it as this string."""
    analysis = _EMITTER.analyze_scalar(key)
    plain = analysis.allow_flow_plain if flow else analysis.allow_block_plain
    if plain and key:
        read = fast_document(f"{key}: x\n")
        if type(read) is dict and list(read) == [key]:
            return key
    if _single_quotable(key, analysis):
        return _single_quoted(key)
    return _double_quoted(key)


def _flow(value: JSONValue) -> str:
    """A value as one line of flow YAML: `{a: 1, b: [x, 'y z']}`."""
    if isinstance(value, dict):
        items = (f"{_key(str(k), flow=True)}: {_flow(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return _scalar(value, flow=True)


def _block(value: JSONValue, column: int, layout: _Layout) -> str:
    """A non-empty collection in block style, its first line starting at `column` already."""
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            written = _key(str(key), flow=False)
            if isinstance(item, dict | list) and item:
                step = layout.mapping_indent if isinstance(item, dict) else layout.sequence_offset
                inner = column + step
                nested = _block(item, inner, layout)
                lines.append(f"{written}:{layout.newline}{' ' * inner}{nested}")
            else:
                lines.append(f"{written}: {_block_item(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and item:
                lines.append("- " + _block(item, column + 2, layout))
            else:
                lines.append("- " + _block_item(item))
    return (layout.newline + " " * column).join(lines)


def _block_item(value: JSONValue) -> str:
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return _scalar(value, flow=False)


# Checking.


def _value_at(document: Any, place: _Place) -> Any:
    return _walk(document, place.path)


def _applied(document: Any, edits: Sequence[Edit]) -> Any:
    """The document with the edits made: what the edited text must read as."""
    result = copy.deepcopy(document)
    removals: dict[tuple[str, ...], list[str]] = {}
    for edit in edits:
        path = parse_pointer(edit.pointer)
        if edit.remove:
            removals.setdefault(path[:-1], []).append(path[-1])
            continue
        holder = _walk(result, path[:-1])
        if isinstance(holder, list):
            holder[int(path[-1])] = copy.deepcopy(edit.value)
        else:
            holder[path[-1]] = copy.deepcopy(edit.value)
    # The deepest first: removing an item from a list above would move what is below it.
    for parent, segments in sorted(removals.items(), key=lambda item: -len(item[0])):
        holder = _walk(result, parent)
        if isinstance(holder, list):
            for index in sorted((int(s) for s in segments), reverse=True):
                del holder[index]
        else:
            for segment in segments:
                del holder[segment]
    return result


def _walk(document: Any, path: tuple[str, ...]) -> Any:
    node = document
    for segment in path:
        try:
            node = node[int(segment)] if isinstance(node, list) else node[segment]
        except (KeyError, IndexError, TypeError, ValueError):
            # ruamel found the key, the reader did not: a key it reads as a number or boolean.
            pointer = "".join(f"/{part}" for part in path)
            raise YAMLEditError(f"{pointer}: the two readers disagree about this key") from None
    return node


def _same(left: Any, right: Any) -> bool:
    """Equal as JSON values are: types (1, 1.0 and true differ), values and key order."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


def _check_untouched(before: str, after: str, touched: set[int]) -> None:
    """Every line of `before` outside `touched` is in `after`, unchanged and in order."""
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    runs: list[list[str]] = [[]]
    for number, line in enumerate(old):
        if number in touched:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(line)
    at = 0
    for run in runs:
        if not run:
            continue
        found = _find_run(new, run, at)
        if found is None:
            raise YAMLEditError("the edit would change lines outside the edited values")
        at = found + len(run)


def _find_run(lines: list[str], run: list[str], start: int) -> int | None:
    for index in range(start, len(lines) - len(run) + 1):
        if lines[index : index + len(run)] == run:
            return index
    return None
