"""A small SDK-HMAC-SHA256 signer for the tests, written from the scheme's rules on its own.

It signs an `httpx.Request` as a client would, from the URL and body the request will send, and
shares no code with the emulator's verification.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from urllib.parse import quote, unquote

import httpx

DEFAULT_SIGNED = ("host", "x-sdk-date")


def sdk_date(epoch_seconds: float) -> str:
    """`YYYYMMDDTHHMMSSZ` in UTC."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch_seconds))


def canonical(request: httpx.Request, signed: Sequence[str]) -> str:
    """The canonical request of an httpx request, over the headers named in `signed`."""
    path = unquote(request.url.raw_path.decode("ascii").split("?")[0])
    uri = "/".join(quote(segment, safe="~") for segment in path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    pairs = []
    for item in request.url.query.decode("ascii").split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((unquote(key), unquote(value)))
    query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(pairs))
    header_lines = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed)
    body_hash = hashlib.sha256(request.content).hexdigest()
    return "\n".join(
        (request.method.upper(), uri, query, header_lines, ";".join(signed), body_hash)
    )


def sign(
    request: httpx.Request,
    access_key: str,
    secret_key: str,
    *,
    at: float,
    signed: Sequence[str] = DEFAULT_SIGNED,
) -> httpx.Request:
    """Add `X-Sdk-Date` (for `at`) and the Authorization header to `request`, and return it."""
    request.headers["X-Sdk-Date"] = sdk_date(at)
    canonical_text = canonical(request, signed)
    digest = hashlib.sha256(canonical_text.encode()).hexdigest()
    text = f"SDK-HMAC-SHA256\n{request.headers['X-Sdk-Date']}\n{digest}"
    mac = hmac.new(secret_key.encode(), text.encode(), hashlib.sha256).hexdigest()
    request.headers["Authorization"] = (
        f"SDK-HMAC-SHA256 Access={access_key}, SignedHeaders={';'.join(signed)}, Signature={mac}"
    )
    return request
