"""The request log: what each request asked for and how it was answered, safe to print.

Headers are never recorded, so neither `X-Auth-Token` nor `Authorization` can leak. In a JSON
body, the scalar value of every key containing `password` (any case, any depth) is replaced by
`******`, and the body re-encoded; a body that is not JSON but mentions a password becomes
`<redacted>`; any other body is kept byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

MASK = "******"
REDACTED = b"<redacted>"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the emulator answered (control requests excluded)."""

    method: str
    path: str
    query: str
    body: bytes
    status: int
    request_id: str  # the answer's X-Request-Id, to match a client's log line to the request

    def as_json(self) -> dict[str, object]:
        """The entry as the control API lists it; the body as text."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body.decode("utf-8", errors="replace"),
            "status": self.status,
            "request_id": self.request_id,
        }


def safe_body(body: bytes) -> bytes:
    """The body with every password masked."""
    if b"password" not in body.lower():
        return body
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return REDACTED
    masked, changed = _mask(document)
    return orjson.dumps(masked) if changed else body


def _mask(value: object) -> tuple[object, bool]:
    if isinstance(value, dict):
        changed = False
        out: dict[str, object] = {}
        for key, item in value.items():
            if "password" in key.lower() and not isinstance(item, dict | list):
                out[key] = MASK
                changed = True
            else:
                out[key], inner = _mask(item)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        items = [_mask(item) for item in value]
        return [item for item, _ in items], any(flag for _, flag in items)
    return value, False
