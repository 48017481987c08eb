"""JSON documents held compressed, as a large desired tree keeps them between uses.

A declared task decodes to about 200 KB of Python objects and packs to about 3 KB: JSON text,
zlib-compressed. Key order is kept (writes and shown documents follow it), so a packed document
unpacks equal to what was packed. Integers wider than 64 bits, which orjson does not write, are
packed by the standard library's encoder and read back exactly.
"""

from __future__ import annotations

import json
import zlib

import orjson

from fdi_drift.drift.model import JSONValue

_ORJSON = b"o"
_STDLIB = b"j"
_LEVEL = 1  # 3x faster than the default for 10% more bytes; unpacking costs the same


def pack(value: JSONValue) -> bytes:
    """`value` as compressed JSON text; TypeError or ValueError when it is not JSON."""
    try:
        return _ORJSON + zlib.compress(orjson.dumps(value), _LEVEL)
    except TypeError as error:
        if str(error) != "Integer exceeds 64-bit range":
            raise
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _STDLIB + zlib.compress(text.encode(), _LEVEL)


def unpack(data: bytes) -> JSONValue:
    """The value `pack` was given, a new copy each time."""
    text = zlib.decompress(memoryview(data)[1:])
    if data[:1] == _ORJSON:
        value: JSONValue = orjson.loads(text)
        return value
    if data[:1] == _STDLIB:
        return json.loads(text)  # type: ignore[no-any-return]
    raise ValueError(f"not a packed document (starts with {data[:1]!r})")
