"""What could be a secret, and hiding it: for diffs, plans, logs and the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import orjson

from fdi_drift.drift.model import JSONValue, Path

REDACTED = "<redacted>"

# Matched inside keys once "_", "-" and case are gone, so db_password and privateKey count.
_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "privatekey", "accesskey")
# Too short to match inside other words ("task", "mask"), so only as a whole word of the key.
_SECRET_TOKENS = frozenset({"sk", "ak"})
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_BREAK = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def looks_secret(key: str) -> bool:
    """Whether a key names something that may hold a credential."""
    squashed = key.lower().replace("_", "").replace("-", "")
    if any(word in squashed for word in _SECRET_WORDS):
        return True
    words = _WORD_BREAK.split(_CAMEL_HUMP.sub("_", key).lower())
    return not _SECRET_TOKENS.isdisjoint(words)


def holds_secret(value: object) -> bool:
    """Whether a value holds a secret-looking key anywhere, JSON text included."""
    if isinstance(value, dict):
        return any(looks_secret(k) or holds_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_secret(item) for item in value)
    if isinstance(value, str) and value.startswith(("{", "[")):
        # JSON text that was not decoded (desired did not declare inside it) may carry keys.
        try:
            return holds_secret(orjson.loads(value))
        except orjson.JSONDecodeError:
            return False
    return False


def redact(value: JSONValue) -> JSONValue:
    """A copy with every value under a secret-looking key replaced by REDACTED."""
    if isinstance(value, dict):
        return {k: REDACTED if looks_secret(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def redact_paths(value: JSONValue, paths: Iterable[Path]) -> JSONValue:
    """A copy with the value at each path (where it exists) replaced by REDACTED."""
    result = value
    for path in paths:
        result = _replace(result, path)
    return result


def _replace(node: JSONValue, path: Path) -> JSONValue:
    if not path:
        return REDACTED
    head, rest = path[0], path[1:]
    if isinstance(node, dict) and isinstance(head, str) and head in node:
        return {**node, head: _replace(node[head], rest)}
    if isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node):
        copy = list(node)
        copy[head] = _replace(node[head], rest)
        return copy
    return node
