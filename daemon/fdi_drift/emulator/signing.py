"""The SDK-HMAC-SHA256 request signature: parsing the Authorization header, and recomputing it.

Written from the scheme's rules (API_NOTES.md, "Authentication"), independently of the daemon's
signer and of the official SDK, so a mistake in one cannot hide in the other. Choices the
emulator makes where the rules are silent:

- the scheme name is matched without regard to case; the three parameters `Access`,
  `SignedHeaders` and `Signature` must each appear once, in any order, and nothing else;
- SignedHeaders names must be lower case and distinct, and a signature is 64 hex digits;
- a query string is percent-decoded only: a `+` stays a plus sign, it is not a space;
- a header sent more than once is signed with its first value.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_SDK_DATE = re.compile(r"\d{8}T\d{6}Z")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
_PARAMETERS = ("Access", "SignedHeaders", "Signature")


class MalformedAuthorization(ValueError):
    """The Authorization header names the scheme but is not of its documented shape."""


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parts of an `SDK-HMAC-SHA256` Authorization header."""

    access_key: str
    signed_headers: tuple[str, ...]
    signature: str  # lower-case hex


def is_signed(authorization: str | None) -> bool:
    """Whether an Authorization header value claims the SDK-HMAC-SHA256 scheme."""
    # A near miss ("SDK-HMAC-SHA256,Access=...") counts, so it is answered as malformed rather
    # than as a request without a token.
    return authorization is not None and authorization.strip().upper().startswith(ALGORITHM)


def parse_authorization(value: str) -> Authorization:
    """Split `SDK-HMAC-SHA256 Access=.., SignedHeaders=a;b, Signature=..` into its parts.

    Raises MalformedAuthorization saying what is wrong; the message never quotes the signature.
    """
    words = value.split(maxsplit=1)
    if not words or words[0].upper() != ALGORITHM:
        raise MalformedAuthorization(f"the scheme must be {ALGORITHM}, then a space")
    rest = words[1] if len(words) > 1 else ""
    found: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, text = part.strip().partition("=")
        if not equals or name not in _PARAMETERS:
            raise MalformedAuthorization(
                "expected Access=<AK>, SignedHeaders=<h1;h2;...>, Signature=<hex>"
            )
        if name in found:
            raise MalformedAuthorization(f"{name} is given twice")
        found[name] = text.strip()
    missing = [name for name in _PARAMETERS if not found.get(name)]
    if missing:
        raise MalformedAuthorization(f"{', '.join(missing)} missing or empty")
    names = tuple(found["SignedHeaders"].split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in names):
        raise MalformedAuthorization("SignedHeaders must be lower-case header names joined by ;")
    if len(set(names)) != len(names):
        raise MalformedAuthorization("SignedHeaders names a header twice")
    if not _SIGNATURE.fullmatch(found["Signature"]):
        raise MalformedAuthorization("Signature must be 64 hexadecimal digits")
    return Authorization(found["Access"], names, found["Signature"].lower())


def parse_sdk_date(value: str) -> float:
    """The epoch seconds of an `X-Sdk-Date` value (`YYYYMMDDTHHMMSSZ`, UTC); ValueError if bad."""
    if not _SDK_DATE.fullmatch(value):
        raise ValueError("X-Sdk-Date must be of the form YYYYMMDDTHHMMSSZ")
    return float(calendar.timegm(time.strptime(value, SDK_DATE_FORMAT)))


def format_sdk_date(epoch_seconds: float) -> str:
    """An epoch time as `X-Sdk-Date` writes it."""
    return time.strftime(SDK_DATE_FORMAT, time.gmtime(epoch_seconds))


def canonical_uri(path: str) -> str:
    """The URI line: each segment of the decoded path encoded again, ending with `/`."""
    encoded = "/".join(_encode(segment) for segment in path.split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(query_string: bytes) -> str:
    """The QUERY line: decoded pairs sorted by key then value, encoded again, joined by `&`."""
    pairs: list[tuple[str, str]] = []
    for item in query_string.split(b"&"):
        if not item:
            continue
        key, _, value = item.partition(b"=")
        pairs.append((_decode(key), _decode(value)))
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(pairs))


def canonical_request(
    *,
    method: str,
    path: str,
    query_string: bytes,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """The canonical request; `headers` must map lower-case names and hold every signed one."""
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query(query_string),
            lines,
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        )
    )


def string_to_sign(sdk_date: str, canonical: str) -> str:
    """The three lines the signature is computed over."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, text: str) -> str:
    """hex(HMAC-SHA256(secret key, text))."""
    return hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def _decode(text: bytes) -> str:
    return unquote_to_bytes(text).decode("utf-8", errors="replace")


def _encode(text: str) -> str:
    return quote(text, safe="~")
