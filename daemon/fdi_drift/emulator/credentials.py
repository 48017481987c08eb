"""AK/SK key pairs, the check of a signed request against them, and the lockout of failing keys.

A request whose Authorization header names `SDK-HMAC-SHA256` is checked here (an `X-Auth-Token`
beside it is ignored). Every refusal is the gateway's: 401 `APIG.0301` with an `error_msg` of
"Incorrect IAM authentication information: " and the reason, so that a person can tell the
reasons apart although a program sees one code. Reasons, checked in this order (where the
gateway's own wording is known, the message starts with it):

| reason | `error_msg` after the prefix | counted |
| --- | --- | --- |
| Authorization header malformed (parts missing, repeated, ...) | `the Authorization ...` | no |
| access key unknown | `Get secretKey failed,ak:AK,err:ak not exist` | no (not tracked) |
| access key locked | `AK access failed to reach the limit,forbidden: ...` | no (not extended) |
| `host` or `x-sdk-date` not among SignedHeaders | `SignedHeaders must include ...` | yes |
| a header in SignedHeaders missing from the request | `signed header ... not found ...` | yes |
| `X-Sdk-Date` not `YYYYMMDDTHHMMSSZ` | `X-Sdk-Date must be of the form ...` | yes |
| request time more than 15 minutes off, either way | `the request time is too far ...` | yes |
| signature mismatch (shows the emulator's canonical request) | `verify aksk signature fail` | yes |

The query is percent-decoded only (signing.py): a raw `+` is a plus sign, not a space, so a
client that sends a space as `+` (httpx's `params=` does) must sign it as `%2B`, or better
send `%20`; a mismatch on such a query says so.

A request that passes acts as the key pair's owner (what CTS records as the trace's user):
the owner given with the pair, or by default a user named after the access key in domain
`emulator`.

Lockout, as the gateway does it: the 6th consecutive counted failure of one access key (more
than 5) is answered with its own reason and locks the key for 5 minutes of the emulator's
clock; until then even a correctly signed request is refused as locked. A successful check,
and the end of a lock, reset the count. Replacing the key pairs keeps the count and lock of every
access key that stays, and forgets the others.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from fdi_drift.emulator.iam import Caller
from fdi_drift.emulator.replies import ErrorCode, Reply, service_error
from fdi_drift.emulator.signing import (
    Authorization,
    MalformedAuthorization,
    canonical_request,
    format_sdk_date,
    parse_authorization,
    parse_sdk_date,
    signature,
    string_to_sign,
)

MAX_FAILURES = 5
LOCK_SECONDS = 300.0
MAX_SKEW_SECONDS = 900.0
REQUIRED_SIGNED_HEADERS = ("host", "x-sdk-date")
_PREFIX = "Incorrect IAM authentication information: "
_FORBIDDEN_IN_ACCESS_KEY = frozenset(" \t,;:=")
KEY_OWNER_DOMAIN = "emulator"  # the domain of a key pair's default owner


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An access key and its secret key; the secret never shows in `repr`.

    Raises ValueError for an empty secret, or an access key that is empty, not printable
    ASCII or holds a space, `,`, `;`, `:` or `=` (it could not be sent or given on the
    command line).
    """

    access_key: str
    secret_key: str = field(repr=False)
    owner: Caller | None = None  # who its requests act as; see `caller`

    @property
    def caller(self) -> Caller:
        """The owner, or a user named after the access key in domain `emulator`."""
        return self.owner or Caller(KEY_OWNER_DOMAIN, self.access_key)

    def __post_init__(self) -> None:
        if not self.access_key or not self.access_key.isprintable():
            raise ValueError("an access key must be non-empty printable text")
        if not self.access_key.isascii() or _FORBIDDEN_IN_ACCESS_KEY & set(self.access_key):
            raise ValueError("an access key must be ASCII without spaces, ',', ';', ':' or '='")
        if not self.secret_key:
            raise ValueError(f"the secret key of {self.access_key} is empty")


def check_distinct(key_pairs: Iterable[KeyPair]) -> tuple[KeyPair, ...]:
    """The key pairs as a tuple; ValueError when an access key is listed twice."""
    pairs = tuple(key_pairs)
    seen: set[str] = set()
    for pair in pairs:
        if pair.access_key in seen:
            raise ValueError(f"access key {pair.access_key} is listed twice")
        seen.add(pair.access_key)
    return pairs


class KeyPairAuthority:
    """Holds the key pairs, checks signed requests with them, and locks keys that keep failing.

    Tests reach it as `Emulator.credentials`: `set_key_pairs` rotates the keys at run time,
    `failures` and `locked_until` show the lockout state.
    """

    def __init__(self, key_pairs: Iterable[KeyPair], clock: Callable[[], float]) -> None:
        self._clock = clock
        self._secrets: dict[str, str] = {}
        self._owners: dict[str, Caller] = {}
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self.set_key_pairs(key_pairs)

    @property
    def access_keys(self) -> tuple[str, ...]:
        """The access keys currently accepted, in the order they were given."""
        return tuple(self._secrets)

    def set_key_pairs(self, key_pairs: Iterable[KeyPair]) -> None:
        """Replace every key pair; ValueError (and nothing changed) if an access key repeats."""
        pairs = check_distinct(key_pairs)
        self._secrets = {pair.access_key: pair.secret_key for pair in pairs}
        self._owners = {pair.access_key: pair.caller for pair in pairs}
        self._failures = {k: v for k, v in self._failures.items() if k in self._secrets}
        self._locked_until = {k: v for k, v in self._locked_until.items() if k in self._secrets}

    def failures(self, access_key: str) -> int:
        """Consecutive counted failures of `access_key` (0 for an unknown key or after a lock)."""
        self._expire(access_key)
        return self._failures.get(access_key, 0)

    def locked_until(self, access_key: str) -> float | None:
        """When the lock of `access_key` ends (epoch seconds), or None when it is not locked."""
        self._expire(access_key)
        return self._locked_until.get(access_key)

    def check(
        self,
        *,
        method: str,
        path: str,
        query_string: bytes,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Caller | Reply:
        """The key pair's owner when the signed request is genuine, else the 401 to answer.

        `path` is the decoded request path; `headers` looks names up in lower case.
        """
        try:
            authorization = parse_authorization(headers.get("authorization", ""))
        except MalformedAuthorization as exc:
            return _refuse(f"the Authorization header is malformed: {exc}")
        access_key = authorization.access_key
        secret_key = self._secrets.get(access_key)
        if secret_key is None:
            return _refuse(f"Get secretKey failed,ak:{access_key},err:ak not exist")
        now = self._clock()
        locked_until = self.locked_until(access_key)
        if locked_until is not None:
            return _refuse(
                f"AK access failed to reach the limit,forbidden: ak {access_key} is locked after "
                f"more than {MAX_FAILURES} consecutive failed signature checks, until "
                f"{format_sdk_date(locked_until)} (server time {format_sdk_date(now)})"
            )
        message = _problem(
            authorization, secret_key, now, method, path, query_string, headers, body
        )
        if message is None:
            self._failures.pop(access_key, None)
            return self._owners[access_key]
        count = self._failures.get(access_key, 0) + 1
        self._failures[access_key] = count
        if count > MAX_FAILURES:
            self._locked_until[access_key] = now + LOCK_SECONDS
            message += f"; ak {access_key} is now locked for {LOCK_SECONDS / 60:.0f} minutes"
        return _refuse(message)

    def _expire(self, access_key: str) -> None:
        until = self._locked_until.get(access_key)
        if until is not None and self._clock() >= until:
            del self._locked_until[access_key]
            self._failures.pop(access_key, None)


def _problem(
    authorization: Authorization,
    secret_key: str,
    now: float,
    method: str,
    path: str,
    query_string: bytes,
    headers: Mapping[str, str],
    body: bytes,
) -> str | None:
    """Why the signed request is refused (the message after the prefix), or None."""
    signed = authorization.signed_headers
    unsigned = [name for name in REQUIRED_SIGNED_HEADERS if name not in signed]
    if unsigned:
        return f"SignedHeaders must include {', '.join(unsigned)}"
    absent = [name for name in signed if headers.get(name) is None]
    if absent:
        return f"signed header {', '.join(absent)} not found in the request"
    sdk_date = headers["x-sdk-date"].strip()
    try:
        signed_at = parse_sdk_date(sdk_date)
    except ValueError as exc:
        return f"{exc}, not {sdk_date!r}"
    if abs(signed_at - now) > MAX_SKEW_SECONDS:
        return (
            "the request time is too far from the server time (more than 15 minutes): "
            f"request time {sdk_date}, server time {format_sdk_date(now)}"
        )
    canonical = canonical_request(
        method=method,
        path=path,
        query_string=query_string,
        headers=headers,
        signed_headers=signed,
        body=body,
    )
    expected = signature(secret_key, string_to_sign(sdk_date, canonical))
    if hmac.compare_digest(expected, authorization.signature):
        return None
    message = "verify aksk signature fail, canonicalRequest:" + canonical.replace("\n", "|")
    if b"+" in query_string:
        # httpx and HTML forms send a space as `+`; the scheme reads it as a plus sign.
        message += " (the query holds a raw '+', read as a plus sign: send a space as %20)"
    return message


def _refuse(message: str) -> Reply:
    return service_error(401, ErrorCode.INCORRECT_IAM_AUTHENTICATION, _PREFIX + message)
