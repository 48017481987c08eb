"""What could be a secret, and hiding it: for diffs, plans, logs and the audit log."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import orjson

from fdi_drift.drift.model import JSONValue, Path

REDACTED = "<redacted>"

# Matched inside keys once "_", "-" and case are gone, so db_password and privateKey count.
_SECRET_WORDS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "privatekey",
    "accesskey",
    "apikey",  # apiKey, api_key, X-API-Key
)
# Too short to match inside other words ("task", "mask"), so only as a whole word of the key.
_SECRET_TOKENS = frozenset({"sk", "ak"})
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_BREAK = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=8192)  # documents repeat a few hundred keys thousands of times
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
    """A copy with the value at each path replaced by REDACTED; `value` is not modified.

    A path leading to a key or index that is not there hides nothing. Where a path meets
    something it cannot enter (a string, which may be JSON text carrying the secret; another
    scalar; a dict where a list index comes next, or the reverse), that whole value is hidden:
    it stands where the secret was declared and may hold it in another shape. None hides nothing.
    """
    result = value
    for path in paths:
        result = _replace(result, path)
    return result


def redact_paths_at(value: JSONValue, at: Path, paths: Iterable[Path]) -> JSONValue:
    """`value`, found at `at` in a document, hidden where any of the document's `paths` reach.

    At or below one of `paths` the whole value is REDACTED; above them, only what lies at
    their remainder inside `value` is (see `redact_paths`).
    """
    depth = len(at)
    below: list[Path] = []
    for path in paths:
        if path[:depth] == at:
            below.append(path[depth:])
        elif at[: len(path)] == path:
            return REDACTED
    return redact_paths(value, below) if below else value


def _replace(node: JSONValue, path: Path) -> JSONValue:
    if not path:
        return REDACTED
    if node is None:
        return node
    head, rest = path[0], path[1:]
    if isinstance(node, dict) and isinstance(head, str):
        return {**node, head: _replace(node[head], rest)} if head in node else node
    if isinstance(node, list) and isinstance(head, int):
        if not 0 <= head < len(node):
            return node
        copy = list(node)
        copy[head] = _replace(node[head], rest)
        return copy
    return REDACTED
