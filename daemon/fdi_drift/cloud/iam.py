"""IAM password login as a TokenSource: one login shared by all callers, refreshed early."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import httpx
import orjson

from fdi_drift.cloud.client import (
    describe_failure,
    error_details,
    parse_json,
    status_text,
    tls_verify,
)
from fdi_drift.cloud.endpoints import Service
from fdi_drift.errors import AuthError, CloudError, MalformedResponseError, TransportError

_log = logging.getLogger(__name__)

LOGIN_PATH = "/v3/auth/tokens"
_LABEL = f"POST {LOGIN_PATH}"
REFRESH_AT_FRACTION = 0.8
# After a failed refresh, how long to keep using the still-valid token before trying again.
REFRESH_RETRY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Issued:
    value: str = field(repr=False)
    refresh_at: float  # by the injected clock
    expires_at: float  # by the injected clock


SERVICE = Service("iam", "iam")  # the API this module talks to


class IamPasswordToken:
    """A project-scoped IAM token from a password login, cached until 80% of its life.

    Concurrent `get()` calls share one login; when a login fails, callers that were waiting
    for it get the same error instead of each trying again. If a refresh fails while the
    cached token is still valid, that token is used and the refresh retried a minute later.
    `password` is called on each login, so a mounted secret may rotate. Call `aclose()`.
    """

    def __init__(
        self,
        *,
        iam_url: str,
        domain: str,
        user: str,
        password: Callable[[], str],
        project_id: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        verify: bool | str = True,
    ) -> None:
        self._domain = domain
        self._user = user
        self._password = password
        self._project_id = project_id
        self._clock = clock
        self._lock = asyncio.Lock()
        self._current: _Issued | None = None
        self._logins = 0
        self._failure: CloudError | None = None
        self._http = httpx.AsyncClient(
            base_url=iam_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout),
            verify=tls_verify(verify),
            headers={"User-Agent": "fdi-drift", "Accept": "application/json"},
        )

    async def get(self) -> str:
        current = self._current
        if current is not None and self._clock() < current.refresh_at:
            return current.value
        logins_seen = self._logins
        async with self._lock:
            current = self._current
            if current is not None and self._clock() < current.refresh_at:
                return current.value
            if self._logins != logins_seen and self._failure is not None:
                raise self._failure
            self._failure = None
            try:
                self._current = await self._login()
                return self._current.value
            except CloudError as exc:
                self._failure = exc
                now = self._clock()
                if current is None or now >= current.expires_at:
                    raise
                _log.warning("%s: refresh failed, using the current token: %s", self, exc)
                self._current = replace(
                    current, refresh_at=min(current.expires_at, now + REFRESH_RETRY_SECONDS)
                )
                return current.value
            finally:
                self._logins += 1

    async def invalidate(self, token: str) -> None:
        if self._current is not None and self._current.value == token:
            self._current = None

    def describe(self) -> str:
        return f"IAM password login as {self._domain}/{self._user} for project {self._project_id}"

    def __repr__(self) -> str:
        return f"IamPasswordToken({self.describe()!r})"

    async def aclose(self) -> None:
        """Close the connection pool used for logins."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _login(self) -> _Issued:
        try:
            password = self._password()
        except OSError as exc:
            raise AuthError(
                f"{self.describe()}: cannot read the password ({exc.strerror})"
            ) from exc
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self._user,
                            "password": password,
                            "domain": {"name": self._domain},
                        }
                    },
                },
                "scope": {"project": {"id": self._project_id}},
            }
        }
        sent_at = self._clock()
        try:
            response = await self._http.post(
                LOGIN_PATH,
                content=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise TransportError(
                f"{self.describe()}: {describe_failure(exc)}", request=_LABEL
            ) from exc
        if not 200 <= response.status_code < 300:
            code, msg = error_details(response.content)
            if password:  # an echoed password must not travel on in our message
                msg = msg.replace(password, "******")
            text = status_text(response, code, msg)
            raise AuthError(f"{self.describe()} refused: {text}", request=_LABEL)
        token = response.headers.get("X-Subject-Token", "")
        if not token:
            raise MalformedResponseError("the answer has no X-Subject-Token header", request=_LABEL)
        return _issued(token, parse_json(response, _LABEL), sent_at)


def _issued(token: str, answer: object, sent_at: float) -> _Issued:
    """Schedule `token` by its lifetime as IAM states it, counted from when we asked.

    Measuring the lifetime with IAM's own `issued_at` keeps a skewed local clock from making
    the token look expired, or fresh for too long.
    """
    details = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(details, dict):
        raise MalformedResponseError("the answer has no `token` object", request=_LABEL)
    expires = _instant(details.get("expires_at"), "token.expires_at")
    issued_at = details.get("issued_at")
    lifetime = expires - (sent_at if issued_at is None else _instant(issued_at, "token.issued_at"))
    if lifetime <= 0:
        raise MalformedResponseError(
            "token.expires_at is not after the time it was issued", request=_LABEL
        )
    return _Issued(
        token, refresh_at=sent_at + REFRESH_AT_FRACTION * lifetime, expires_at=sent_at + lifetime
    )


def _instant(value: object, name: str) -> float:
    """Seconds since the epoch from an ISO 8601 time; one without an offset is UTC."""
    if not isinstance(value, str):
        raise MalformedResponseError(f"{name} is not a string", request=_LABEL)
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedResponseError(
            f"{name} is not an ISO 8601 time: {value[:64]!r}", request=_LABEL
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
