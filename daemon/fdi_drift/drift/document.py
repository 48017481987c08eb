"""The nested JSON codec: JSON documents that carry JSON documents encoded as strings.

FDI answers `{"task": {...}, "task_detail": "<JSON text>"}`, and inside `task_detail` some values
are JSON encoded as strings again. `decode` turns all of them into plain trees and remembers each
original text; `encode` turns them back, byte for byte where nothing changed. Pointers (RFC 6901)
name places in the decoded tree, including places inside decoded strings.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import orjson

from fdi_drift.drift.model import JSONValue, Path
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

# Strings are skipped whole, so only separators outside them are seen.
_STRING_OR_SEPARATOR = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|([,:])( ?)', re.DOTALL)

# A \uXXXX escape that is not itself escaped (an even run of backslashes before it).
_UNICODE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u([0-9a-fA-F]{4})")


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
        raise DocumentError(f"not a JSON value: {exc}") from exc


def fingerprint(value: JSONValue) -> str:
    """A short, stable hex digest of the canonical bytes: equal iff the documents are equal."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()[:32]


def format_pointer(path: Path) -> str:
    """The RFC 6901 pointer of `path`: "" for the root, "~" as "~0" and "/" as "~1"."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """The segments of an RFC 6901 pointer, unescaped; list indexes stay decimal strings."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise DocumentError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    segments = pointer[1:].split("/")
    for segment in segments:
        tilde = segment.find("~")
        while tilde != -1:
            if segment[tilde + 1 : tilde + 2] not in ("0", "1"):
                raise DocumentError(f"JSON pointer {pointer!r}: '~' must be followed by '0' or '1'")
            tilde = segment.find("~", tilde + 2)
    return tuple(s.replace("~1", "/").replace("~0", "~") for s in segments)


def is_masked(value: JSONValue) -> bool:
    """Whether `value` is a masked secret as services return it: 3+ '*' and nothing else."""
    return type(value) is str and len(value) >= 3 and not value.strip("*")


@dataclass(frozen=True, slots=True)
class DecodedDocument:
    """A document with every nested JSON string decoded, and the original text of each."""

    value: JSONValue
    encoded: Mapping[Path, str]


def decode(value: JSONValue, *, what: str) -> DecodedDocument:
    """Decode every nested JSON string in an already-parsed document, recursively.

    Only strings that start with "{" or "[" and parse as a JSON object or array are decoded;
    "true", "0" or "[abc]" stay strings. `value` is not modified: containers on the way to a
    decoded string are new, subtrees without one are shared with `value`. A value of a type
    JSON does not have (a date, a tuple) raises DocumentError naming `what` and the pointer.
    """
    encoded: dict[Path, str] = {}
    decoded = _decode(value, (), encoded, what)
    return DecodedDocument(decoded, MappingProxyType(encoded))


def decode_text(text: str | bytes, *, what: str) -> DecodedDocument:
    """Parse JSON text, then decode its nested JSON strings."""
    value = parse_json(text, what=what)
    if not _may_hold_json_strings(text):
        return DecodedDocument(value, MappingProxyType({}))
    return decode(value, what=what)


def _may_hold_json_strings(text: str | bytes) -> bool:
    """False when no string in the JSON `text` can start with "{" or "[" (cheap, in C)."""
    if isinstance(text, str):
        return '"{' in text or '"[' in text or '"\\u' in text
    return b'"{' in text or b'"[' in text or b'"\\u' in text


def _decode(node: object, path: Path, encoded: dict[Path, str], what: str) -> JSONValue:
    """`node` decoded; the very same object when nothing inside it needed decoding."""
    if type(node) is dict:
        return _decode_dict(node, path, encoded, what)
    if type(node) is list:
        return _decode_list(node, path, encoded, what)
    if type(node) is str:
        return _decode_string(node, path, encoded, what)
    if node is None or type(node) is bool or type(node) is int or type(node) is float:
        return node
    kind = type(node).__name__
    raise DocumentError(f"{what}: value at {format_pointer(path)!r} is a {kind}, not JSON")


def _decode_string(text: str, path: Path, encoded: dict[Path, str], what: str) -> JSONValue:
    if not text or text[0] not in _OPENER_CHARS:
        return text
    try:
        inner = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    if type(inner) is not dict and type(inner) is not list:
        return text
    encoded[path] = text
    if not _may_hold_json_strings(text):
        return inner
    return _decode(inner, path, encoded, what)


# The two walks below run over every node of every document read, so the common cases (plain
# strings, scalars) are tested inline, first, without a call each.


def _decode_dict(
    node: dict[str, JSONValue], path: Path, encoded: dict[Path, str], what: str
) -> JSONValue:
    openers = _OPENER_CHARS
    out: dict[str, JSONValue] | None = None
    for key, item in node.items():
        if type(item) is str:
            if not item or item[0] not in openers:
                continue
            new = _decode_string(item, (*path, key), encoded, what)
        elif type(item) is dict:
            new = _decode_dict(item, (*path, key), encoded, what)
        elif type(item) is list:
            new = _decode_list(item, (*path, key), encoded, what)
        elif item is None or type(item) is bool or type(item) is int or type(item) is float:
            continue
        else:
            new = _decode(item, (*path, key), encoded, what)
        if new is not item:
            if out is None:
                out = dict(node)
            out[key] = new
    return node if out is None else out


def _decode_list(
    node: list[JSONValue], path: Path, encoded: dict[Path, str], what: str
) -> JSONValue:
    openers = _OPENER_CHARS
    out: list[JSONValue] | None = None
    for index, item in enumerate(node):
        if type(item) is str:
            if not item or item[0] not in openers:
                continue
            new = _decode_string(item, (*path, index), encoded, what)
        elif type(item) is dict:
            new = _decode_dict(item, (*path, index), encoded, what)
        elif type(item) is list:
            new = _decode_list(item, (*path, index), encoded, what)
        elif item is None or type(item) is bool or type(item) is int or type(item) is float:
            continue
        else:
            new = _decode(item, (*path, index), encoded, what)
        if new is not item:
            if out is None:
                out = list(node)
            out[index] = new
    return node if out is None else out


def encode(value: JSONValue, encoded: Mapping[Path, str]) -> JSONValue:
    """Turn the decoded places named in `encoded` back into JSON strings, deepest first.

    Where a place still decodes to what its original text held (compared by canonical bytes, so
    1, 1.0 and true differ) the original text comes back exactly. Otherwise the new text copies
    the original's separators, indentation and ensure_ascii, and the key order of `value`.
    Places that no longer hold an object or array are left as they are. Subtrees off the
    encoded places are shared with `value`, not copied.
    """
    if not encoded:
        return value
    on_the_way: set[Path] = set()
    for path in encoded:
        on_the_way.update(path[:n] for n in range(len(path) + 1))
    return _encode(value, (), encoded, on_the_way)


def _encode(
    node: JSONValue, path: Path, encoded: Mapping[Path, str], on_the_way: set[Path]
) -> JSONValue:
    if path not in on_the_way:
        return node
    out: JSONValue
    if type(node) is dict:
        out = {k: _encode(v, (*path, k), encoded, on_the_way) for k, v in node.items()}
    elif type(node) is list:
        out = [_encode(v, (*path, i), encoded, on_the_way) for i, v in enumerate(node)]
    else:
        return node
    original = encoded.get(path)
    if original is None:
        return out
    # Deeper places are already strings again, so the raw parse of the original compares like
    # for like: an unchanged deeper place came back as exactly its original text.
    try:
        unchanged = canonical_bytes(out) == canonical_bytes(orjson.loads(original))
    except orjson.JSONDecodeError:
        unchanged = False
    if unchanged:
        return original
    return _serialize_like(out, original, path)


def _serialize_like(value: JSONValue, original: str, path: Path) -> str:
    item_sep, key_sep, indent = _separators(original)
    ensure_ascii = _ensure_ascii(original)
    trailing = original[len(original.rstrip()) :]
    try:
        text = json.dumps(
            value,
            separators=(item_sep, key_sep),
            indent=indent,
            ensure_ascii=ensure_ascii,
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        raise DocumentError(f"cannot encode {format_pointer(path)!r}: {exc}") from exc
    return text + trailing


def _separators(text: str) -> tuple[str, str, str | None]:
    """The item separator, key separator and indentation `text` was written with."""
    indent: str | None = None
    if text[1:2] == "\n":
        # Indented writers break the line right after the opening bracket of a non-empty root.
        second_line = text[2:]
        indent = second_line[: len(second_line) - len(second_line.lstrip(" \t"))]
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
    if indent is not None:
        # An indented text ends its lines with ",", so a space after it is not a separator.
        return ",", key_sep or ": ", indent
    return item_sep or ",", key_sep or ":", None


def _ensure_ascii(text: str) -> bool:
    """Whether `text` was written with non-ASCII characters escaped as \\uXXXX."""
    if not text.isascii():
        return False
    return any(int(m.group(1), 16) >= 0x80 for m in _UNICODE_ESCAPE.finditer(text))
