"""Block YAML written from JSON documents, in forms that every reader reads alike by design.

`block_text` writes a document only with scalars of a few forms, each of which PyYAML (YAML 1.1)
and yaml-rs (YAML 1.2) read as exactly the value written:

- a string as a plain scalar only when it starts with a letter, a digit, `_`, `/` or a non-ASCII
  character, holds nothing but those, `.`, `-`, `(`, `)`, `,` and inner spaces, is no YAML
  boolean or null word in either version (`yes`, `off`, `Null`...), and, when it starts with a
  digit or `_`, is nothing either version could read as a number;
- any other string double-quoted as JSON writes it: JSON's escapes are YAML's;
- an integer within 64 bits, and a float only as a plain decimal fraction (`2.5`), as is;
- `true`, `false`, `~` (null), `{}` and `[]`.

No string holding a line break is written: one reads better as a literal block, which yaml-rs
writes and a read-back verifies. Such a document, a key longer than a simple key may be, or
any value of another kind makes `block_text` answer None, and the caller writes the text by a
way it verifies. So does text with a character that is not printable, which the readers may
treat differently. `tests/test_yaml_block.py` checks the forms against both readers.

It is the export's writer: 0.5 ms for an exported 30 KB task, where yaml-rs writing it and
reading it back took 2.1 ms.
"""

from __future__ import annotations

import re
from typing import Any, cast

import orjson

# What may make up a plain scalar, first and then after it; and never a trailing space.
_PLAIN = re.compile(
    r"[A-Za-z0-9_/\u0080-\U0010ffff](?:[A-Za-z0-9_./(), \u0080-\U0010ffff-]*"
    r"[A-Za-z0-9_./(),\u0080-\U0010ffff-])?"
).fullmatch
# Of the plain scalars that start with a digit or `_`, whatever either version may read as a
# number: decimals with underscores (yaml-rs drops them anywhere) and exponents, and radix
# prefixes. Wider than either reading; sexagesimals need a `:`, which no plain scalar holds.
_NUMBER_LIKE = re.compile(
    r"[-_.0-9]*(?:[eE][-_.0-9]*)?|[-_]*0[-_]*[xXoObB][-_.0-9a-fA-F]*"
).fullmatch
# Booleans and nulls of either version, lower-cased: none is longer than five letters.
_WORDS = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n"})
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,99})\.[0-9]{1,100}").fullmatch
_LONGEST_KEY = 1000  # a simple key may span 1,024 characters, quotes included
_INT_BOUND = 2**63

# Short strings' texts by string, shared by every call: documents repeat their keys and many
# values. Bounded in entries and in length, so it holds a few megabytes at most.
_CACHE_LIMIT = 100_000
_CACHED_LENGTH = 64  # quoted, at most 386 characters: a remembered key is never too long
_texts: dict[str, str] = {}


class _Unwritable(Exception):
    """A value `block_text` does not write."""


def block_text(document: dict[str, Any]) -> str | None:
    """`document` as block YAML, keys in order; None when it holds a value not written here."""
    lines: list[str] = []
    try:
        _mapping(document, "", "", lines)
    except (_Unwritable, RecursionError):
        return None
    text = "".join(lines)
    return text if printable(text) else None


def _string(value: str) -> str:
    """The text of a string: plain when it reads the same in both versions, else quoted."""
    first = value[:1]
    if (
        _PLAIN(value) is not None
        and (len(value) > 5 or value.lower() not in _WORDS)
        and not (("0" <= first <= "9" or first == "_") and _NUMBER_LIKE(value))
    ):
        text = value
    elif "\n" in value or "\r" in value:
        raise _Unwritable
    else:
        try:
            text = orjson.dumps(value).decode()
        except orjson.JSONEncodeError:  # a lone surrogate
            raise _Unwritable from None
    if len(value) <= _CACHED_LENGTH:
        if len(_texts) >= _CACHE_LIMIT:
            _texts.clear()
        _texts[value] = text
    return text


def _key(key: object) -> str:
    """The text of a key not remembered: a remembered one is short enough to be a simple key."""
    if type(key) is not str:
        raise _Unwritable
    text = _string(key)
    if len(text) > _LONGEST_KEY:
        raise _Unwritable
    return text


def _scalar(value: object) -> str:
    """The text of a value that is no string, mapping or list."""
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int and -_INT_BOUND <= cast(int, value) < _INT_BOUND:
        return str(value)
    if value is None:
        return "~"
    if kind is float:
        text = repr(value)
        if _FLOAT(text):
            return text
    raise _Unwritable


def _mapping(mapping: dict[str, Any], indent: str, lead: str, lines: list[str]) -> None:
    """Write `mapping`'s entries at `indent`, the first after `lead` instead."""
    texts = _texts
    add = lines.append
    inner = indent + "  "
    for key, value in mapping.items():
        name = texts.get(key) or _key(key)
        kind = type(value)
        if kind is str:
            add(f"{lead}{name}: {texts.get(value) or _string(value)}\n")
        elif kind is dict or kind is list:
            if value:
                add(f"{lead}{name}:\n")
                (_mapping if kind is dict else _sequence)(value, inner, inner, lines)
            else:
                add(f"{lead}{name}: {'{}' if kind is dict else '[]'}\n")
        else:
            add(f"{lead}{name}: {_scalar(value)}\n")
        lead = indent


def _sequence(items: list[Any], indent: str, lead: str, lines: list[str]) -> None:
    """Write `items` at `indent`, the first after `lead` instead."""
    texts = _texts
    add = lines.append
    inner = indent + "  "
    for item in items:
        kind = type(item)
        if kind is str:
            add(f"{lead}- {texts.get(item) or _string(item)}\n")
        elif kind is dict and item:
            _mapping(item, inner, f"{lead}- ", lines)
        elif kind is list and item:
            _sequence(item, inner, f"{lead}- ", lines)
        elif kind is dict:
            add(f"{lead}- {{}}\n")
        elif kind is list:
            add(f"{lead}- []\n")
        else:
            add(f"{lead}- {_scalar(item)}\n")
        lead = indent


# Printable ASCII and the newline: ASCII text of nothing else is printable but for its newlines.
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\n"


def printable(text: str) -> bool:
    """Whether every character but the newlines is printable (str.isprintable).

    ASCII text, nearly every file, is checked by one bytes.translate: a quarter of the cost of
    copying the text without its newlines to ask str.isprintable.
    """
    if text.isascii():
        return not text.encode().translate(None, _PRINTABLE_ASCII)
    return text.replace("\n", "").isprintable()
