"""AK/SK request signing (SDK-HMAC-SHA256), as the official SDKs sign, as an httpx.Auth.

Signed headers: `content-type` (when there is a body), `host`, `x-project-id` (taken from the
path: `/v2/{project_id}/...`, `/v5/{project_id}/...`) and `x-sdk-date`. A 401 is never retried
with the same keys (the gateway locks a key after a few consecutive failures); the key files
are read again and the request is signed anew only when the keys on disk changed. A key pair
the gateway refused is not sent again, by any request of the clients sharing its
`RefusedKeys`, for `hold_seconds` (a minute) or until the keys change: a cycle with many lists
costs one 401, not one per list, so the key is not locked before a rotation can fix it. When a
401 comes with a server Date more than 15 minutes from this machine's clock, the error says the
clock is off.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from fdi_drift.cloud.client import request_id
from fdi_drift.errors import AuthError

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An access key and its secret; the secret never shows in a repr."""

    access_key: str
    secret_key: str = field(repr=False)


class KeySource(Protocol):
    """Where the key pair comes from: read when signing, again after a 401."""

    async def get(self) -> KeyPair: ...

    async def invalidate(self, keys: KeyPair) -> None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StaticKeys:
    """A key pair fixed at start (from environment variables)."""

    keys: KeyPair
    description: str

    async def get(self) -> KeyPair:
        return self.keys

    async def invalidate(self, keys: KeyPair) -> None:
        return None

    def describe(self) -> str:
        return self.description


class FileKeys:
    """A key pair in two files (a mounted Kubernetes Secret), re-read whenever either changes."""

    def __init__(self, ak_file: Path, sk_file: Path) -> None:
        self._files = (ak_file, sk_file)
        self._stamp: tuple[tuple[int, int, int], ...] | None = None
        self._keys: KeyPair | None = None

    async def get(self) -> KeyPair:
        try:
            stamp = tuple(_stamp(path) for path in self._files)
            if self._keys is None or stamp != self._stamp:
                ak, sk = (path.read_text(encoding="utf-8").strip() for path in self._files)
                if not ak or not sk:
                    raise AuthError(f"{self.describe()}: a key file is empty")
                self._keys, self._stamp = KeyPair(ak, sk), stamp
        except OSError as error:
            raise AuthError(
                f"{self.describe()}: cannot read {error.filename}: {error.strerror}"
            ) from None
        return self._keys

    async def invalidate(self, keys: KeyPair) -> None:
        self._stamp = None  # read the files again, even if their stamps look the same

    def describe(self) -> str:
        return f"AK/SK from files {self._files[0]} and {self._files[1]}"


def _stamp(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def canonical_query(query: Iterable[tuple[str, str]]) -> str:
    """Decoded query pairs sorted and percent-encoded: signed, and sent exactly so."""
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(query))


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> tuple[str, str]:
    """(the canonical request, the signed-headers list) for already-decoded path and query."""
    segments = [quote(segment, safe="~") for segment in path.split("/")]
    uri = "/".join(segments)
    if not uri.endswith("/"):
        uri += "/"
    signed = sorted((name.lower(), value.strip()) for name, value in headers if "_" not in name)
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in signed)
    signed_names = ";".join(name for name, _ in signed)
    payload = hashlib.sha256(body).hexdigest()
    request = "\n".join(
        (method.upper(), uri, canonical_query(query), canonical_headers, signed_names, payload)
    )
    return request, signed_names


def authorization(
    keys: KeyPair,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
    sdk_date: str,
) -> str:
    """The Authorization header value for a request whose signed headers are `headers`."""
    request, signed_names = canonical_request(method, path, query, headers, body)
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(request.encode()).hexdigest()}"
    signature = hmac.new(keys.secret_key.encode(), string_to_sign.encode(), hashlib.sha256)
    return (
        f"{ALGORITHM} Access={keys.access_key}, SignedHeaders={signed_names}, "
        f"Signature={signature.hexdigest()}"
    )


class RefusedKeys:
    """Key pairs the gateway refused, and when: shared by every client of one key source."""

    def __init__(self, hold_seconds: float = 60.0) -> None:
        self.hold_seconds = hold_seconds
        self._refused: dict[KeyPair, tuple[float, str]] = {}

    def check(self, keys: KeyPair, now: float, description: str) -> None:
        """Raise AuthError, sending nothing, while `keys` are held after a refusal."""
        held = self._refused.get(keys)
        if held is None:
            return
        refused_at, answer = held
        if now - refused_at >= self.hold_seconds:
            del self._refused[keys]  # time for one more try
            return
        raise AuthError(
            f"{description}: the gateway refused this key pair {now - refused_at:.0f}s ago "
            f"({answer}); not sent again for {self.hold_seconds:g}s or until the keys change "
            "(a key that keeps failing is locked)"
        )

    def refused(
        self, keys: KeyPair, now: float, response: httpx.Response, reason: str = ""
    ) -> None:
        """Hold `keys` after the refusal `response`, which `reason` explains if it can.

        Only the latest keys matter: an older pair is forgotten.
        """
        answered = request_id(response)
        said = reason or f"HTTP {response.status_code}"
        if answered:
            said += f", request id {answered}"
        self._refused = {keys: (now, said)}


class AkSkAuth(httpx.Auth):
    """Signs every request with the key pair its source holds now."""

    requires_request_body = True

    def __init__(
        self,
        keys: KeySource,
        *,
        clock: Callable[[], float] = time.time,
        refused: RefusedKeys | None = None,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._refused = refused or RefusedKeys()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("AkSkAuth works with httpx.AsyncClient only (key sources are async)")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        keys = await self._keys.get()
        self._refused.check(keys, self._clock(), self._keys.describe())
        self._sign(request, keys)
        response = yield request
        if response.status_code != 401:
            return
        skewed = self._skew(response)
        self._refused.refused(keys, self._clock(), response, skewed)
        if skewed:
            label = f"{request.method} {request.url.path}"
            raise AuthError(f"request signing rejected: {skewed}", request=label)
        await self._keys.invalidate(keys)
        rotated = await self._keys.get()
        if rotated != keys:  # new keys on disk: one more try, never the same keys twice
            self._sign(request, rotated)
            response = yield request
            if response.status_code == 401:
                self._refused.refused(rotated, self._clock(), response)

    def _sign(self, request: httpx.Request, keys: KeyPair) -> None:
        sdk_date = datetime.fromtimestamp(self._clock(), UTC).strftime(DATE_FORMAT)
        request.headers["X-Sdk-Date"] = sdk_date
        project = _project_of(request.url.path)
        if project:
            request.headers["X-Project-Id"] = project
        signed = [(name, request.headers[name]) for name in ("Host", "X-Sdk-Date", "X-Project-Id")]
        if request.content and "Content-Type" in request.headers:
            signed.append(("Content-Type", request.headers["Content-Type"]))
        signed = [(name, value) for name, value in signed if value]
        # Send the query exactly as signed (a space as %20, not httpx's +), as the SDKs do.
        query = request.url.params.multi_items()
        request.url = request.url.copy_with(query=canonical_query(query).encode() or None)
        request.headers["Authorization"] = authorization(
            keys,
            request.method,
            request.url.path,
            query,
            signed,
            request.content,
            sdk_date,
        )

    def _skew(self, response: httpx.Response) -> str:
        """What is wrong with this machine's clock, by the answer's Date; "" if nothing."""
        served = response.headers.get("Date")
        if not served:
            return ""
        try:
            server_time = parsedate_to_datetime(served).timestamp()
        except (TypeError, ValueError):
            return ""
        skew = self._clock() - server_time
        if abs(skew) <= MAX_SKEW_SECONDS:
            return ""
        direction = "ahead of" if skew > 0 else "behind"
        return (
            f"this machine's clock is {abs(skew) / 60:.0f} minutes {direction} the server's "
            "(more than 15 allowed); fix the clock (NTP)"
        )


def _project_of(path: str) -> str:
    parts = path.split("/")
    if len(parts) > 2 and parts[1] in ("v2", "v5"):
        return parts[2]
    return ""
