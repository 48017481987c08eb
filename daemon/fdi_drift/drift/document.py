"""The nested JSON codec: JSON documents that carry JSON documents encoded as strings.

FDI answers `{"task": {...}, "task_detail": "<JSON text>"}`, and inside `task_detail` some values
are JSON encoded as strings again. `decode_text` turns all of them into plain trees and remembers
each original text; `encode` turns them back: byte for byte where nothing changed, and where
something did, with every untouched value keeping its literal text (json_text.py). Pointers
(RFC 6901, pointer.py) name places in the decoded tree, including places inside decoded strings.

Limits, enforced while decoding, so that nothing later meets them as a crash: a document may nest
MAX_DEPTH levels, counting the levels inside its decoded strings; integers of any width are read
exactly (orjson reads those wider than 64 bits as floats, so such texts are read again with the
standard library).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import orjson

from fdi_drift.drift.json_text import rewrite
from fdi_drift.drift.model import JSONValue, Path
from fdi_drift.drift.pointer import format_pointer
from fdi_drift.errors import DocumentError

# Datetimes and dataclasses would otherwise serialize silently, and a document holding one
# (a YAML date, say) is not JSON; passing them through with no default makes orjson refuse them.
_CANONICAL = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)

# How deep a document may nest, counting the levels inside nested JSON strings once decoded.
# Real task documents nest about ten deep; the limit keeps every walk over a document (ours,
# orjson's encoder at 254, DeepDiff's at a few hundred) far from its recursion limit.
MAX_DEPTH = 100

_OPENER_CHARS = frozenset("{[")
# orjson reads an integer beyond 64 bits as a float; any float this large may have been one.
_WIDE = float(2**63)


def parse_json(data: bytes | str, *, what: str) -> JSONValue:
    """Parse JSON text; `what` names the document in the error."""
    try:
        value: JSONValue = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"{what}: not valid JSON: {exc}") from exc
    return value


def canonical_bytes(value: JSONValue) -> bytes:
    """Serialize with sorted keys and no whitespace; 1, 1.0 and true stay distinct."""
    try:
        return orjson.dumps(value, option=_CANONICAL)
    except TypeError as exc:
        if str(exc) != "Integer exceeds 64-bit range":
            raise DocumentError(f"not a JSON value: {exc}") from exc
    # Equal documents hold the same wide integer, so both take this path and still compare.
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise DocumentError(f"not a JSON value: {exc}") from exc


def fingerprint(value: JSONValue) -> str:
    """A short, stable hex digest of the canonical bytes: equal iff the documents are equal."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()[:32]


def is_masked(value: JSONValue) -> bool:
    """Whether `value` is a masked secret as services return it: 3+ '*' and nothing else."""
    return type(value) is str and len(value) >= 3 and not value.strip("*")


@dataclass(frozen=True, slots=True)
class DecodedDocument:
    """A document with every nested JSON string decoded, and the original text of each."""

    value: JSONValue
    encoded: Mapping[Path, str]


def decode_text(text: str, *, what: str, path: Path = ()) -> DecodedDocument:
    """Parse JSON text and decode its nested JSON strings; `path` is where the text sits.

    The places found are named by paths that start with `path` (the text's own place is not
    among them: a caller that needs it back as text adds it). Raises DocumentError naming
    `what` when the text is not JSON or nests too deep.
    """
    value = parse_json(text, what=what)
    walk = _Walk(what)
    if type(value) is dict or type(value) is list:
        value = walk.text(text, value, path, len(path) + 1)
    return DecodedDocument(value, MappingProxyType(walk.encoded))


def decode(value: JSONValue, *, what: str) -> DecodedDocument:
    """Decode every nested JSON string in an already-parsed document, recursively.

    Only strings that start with "{" or "[" and parse as a JSON object or array are decoded;
    "true", "0" or "[abc]" stay strings. `value` is not modified: containers on the way to a
    decoded string are new, subtrees without one are shared with `value`. A value of a type
    JSON does not have (a date, a tuple) raises DocumentError naming `what` and the pointer, and
    so does nesting deeper than MAX_DEPTH.
    """
    walk = _Walk(what)
    decoded = walk.node(value, (), 1)
    return DecodedDocument(decoded, MappingProxyType(walk.encoded))


def check_depth(value: JSONValue, *, what: str) -> None:
    """Raise DocumentError when `value` nests deeper than MAX_DEPTH (an iterative walk)."""
    stack: list[tuple[JSONValue, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if type(node) is dict else node if type(node) is list else ()
        for child in children:
            if type(child) is dict or type(child) is list:
                if depth + 1 > MAX_DEPTH:
                    raise DocumentError(f"{what}: nested deeper than {MAX_DEPTH} levels")
                stack.append((child, depth + 1))


class _Walk:
    """One decode: the places found so far, and whether the text being walked needs exact numbers.

    The two walks below run over every node of every document read, so the common cases (plain
    strings, scalars) are tested inline, first, without a call each.
    """

    __slots__ = ("encoded", "what", "wide")

    def __init__(self, what: str) -> None:
        self.what = what
        self.encoded: dict[Path, str] = {}
        self.wide = False

    def text(self, text: str, parsed: JSONValue, path: Path, depth: int) -> JSONValue:
        """Walk a container parsed from `text`; read the text again exactly if it needs it."""
        outer, self.wide = self.wide, False
        decoded = self.node(parsed, path, depth)
        if self.wide:
            # A number orjson could not hold exactly; orjson has vetted the text already.
            decoded = self.node(json.loads(text), path, depth)
        self.wide = outer
        return decoded

    def node(self, node: object, path: Path, depth: int) -> JSONValue:
        """`node` decoded; the very same object when nothing inside it needed decoding."""
        if type(node) is dict:
            return self.dict(node, path, depth)
        if type(node) is list:
            return self.list(node, path, depth)
        if type(node) is str:
            return self.string(node, path, depth)
        if type(node) is float:
            self.wide = self.wide or not -_WIDE < node < _WIDE
            return node
        if node is None or type(node) is bool or type(node) is int:
            return node
        kind = type(node).__name__
        raise DocumentError(f"{self.what}: value at {format_pointer(path)!r} is a {kind}, not JSON")

    def string(self, text: str, path: Path, depth: int) -> JSONValue:
        if not text or text[0] not in _OPENER_CHARS:
            return text
        try:
            inner = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        if type(inner) is not dict and type(inner) is not list:
            return text
        self.encoded[path] = text
        return self.text(text, inner, path, depth)

    def dict(self, node: dict[str, JSONValue], path: Path, depth: int) -> JSONValue:
        self.check(path, depth)
        openers = _OPENER_CHARS
        out: dict[str, JSONValue] | None = None
        for key, item in node.items():
            if type(item) is str:
                if not item or item[0] not in openers:
                    continue
                new = self.string(item, (*path, key), depth + 1)
            elif type(item) is dict:
                new = self.dict(item, (*path, key), depth + 1)
            elif type(item) is list:
                new = self.list(item, (*path, key), depth + 1)
            elif item is None or type(item) is bool or type(item) is int:
                continue
            else:
                new = self.node(item, (*path, key), depth + 1)
            if new is not item:
                if out is None:
                    out = dict(node)
                out[key] = new
        return node if out is None else out

    def list(self, node: list[JSONValue], path: Path, depth: int) -> JSONValue:
        self.check(path, depth)
        openers = _OPENER_CHARS
        out: list[JSONValue] | None = None
        for index, item in enumerate(node):
            if type(item) is str:
                if not item or item[0] not in openers:
                    continue
                new = self.string(item, (*path, index), depth + 1)
            elif type(item) is dict:
                new = self.dict(item, (*path, index), depth + 1)
            elif type(item) is list:
                new = self.list(item, (*path, index), depth + 1)
            elif item is None or type(item) is bool or type(item) is int:
                continue
            else:
                new = self.node(item, (*path, index), depth + 1)
            if new is not item:
                if out is None:
                    out = list(node)
                out[index] = new
        return node if out is None else out

    def check(self, path: Path, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise DocumentError(
                f"{self.what}: nested deeper than {MAX_DEPTH} levels at {format_pointer(path)!r}"
            )


def encode(value: JSONValue, encoded: Mapping[Path, str]) -> JSONValue:
    """Turn the decoded places named in `encoded` back into JSON text.

    Where a place still holds what its original text held, the original text comes back
    exactly; where it changed, the text is edited (json_text.rewrite): every value that did not
    change keeps its literal text, new ones follow the original's style. Places that no longer
    hold an object or array are left as they are. Subtrees off the encoded places are shared
    with `value`, not copied. Raises UnfaithfulEditError (a DocumentError) when an edit cannot
    be made faithfully, DocumentError when a new value is not JSON.
    """
    if not encoded:
        return value
    places = frozenset(encoded)
    outermost = {
        path: text
        for path, text in encoded.items()
        if not any(path[:n] in places for n in range(len(path)))
    }
    on_the_way: set[Path] = set()
    for path in outermost:
        on_the_way.update(path[:n] for n in range(len(path)))
    return _encode(value, (), outermost, places, on_the_way)


def _encode(
    node: JSONValue,
    path: Path,
    outermost: Mapping[Path, str],
    places: frozenset[Path],
    on_the_way: set[Path],
) -> JSONValue:
    original = outermost.get(path)
    if original is not None:
        if type(node) is not dict and type(node) is not list:
            return node
        return rewrite(original, node, places=places, base=path, max_depth=MAX_DEPTH)
    if path not in on_the_way:
        return node
    if type(node) is dict:
        return {k: _encode(v, (*path, k), outermost, places, on_the_way) for k, v in node.items()}
    if type(node) is list:
        return [_encode(v, (*path, i), outermost, places, on_the_way) for i, v in enumerate(node)]
    return node
