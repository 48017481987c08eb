"""Token authentication: where a token comes from, and the httpx flow that sends it.

A token never appears in a message, a log line or a repr; sources describe themselves by
where the token lives ("token file /run/secrets/token"), never by what it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from fdi_drift.errors import AuthError

TOKEN_HEADER = "X-Auth-Token"  # noqa: S105 (a header name)

# Printable ASCII without spaces: anything else would be refused by the HTTP layer, whose
# error text quotes the header value.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


class TokenSource(Protocol):
    """Where a request's token comes from."""

    async def get(self) -> str:
        """The token to send now; raises AuthError if there is none."""
        ...

    async def invalidate(self, token: str) -> None:
        """`token` was answered 401: do not hand it out again unless it is all there is."""
        ...

    def describe(self) -> str:
        """Where the token comes from, for messages; never the token."""
        ...


@dataclass(frozen=True, slots=True)
class StaticToken:
    """A fixed token (from an environment variable, say) that cannot be refreshed."""

    value: str = field(repr=False)
    description: str

    async def get(self) -> str:
        if not self.value.strip():
            raise AuthError(f"{self.description}: the token is empty")
        return self.value.strip()

    async def invalidate(self, token: str) -> None:
        """Nothing to do: there is no other token to fall back to."""

    def describe(self) -> str:
        return self.description


@dataclass(frozen=True, slots=True)
class _FileState:
    key: tuple[int, int, int, int]  # device, inode, size, mtime: any change means re-read
    token: str


class FileToken:
    """A token kept in a file (a mounted Kubernetes secret), re-read when the file changes.

    The file is checked with one `stat` per `get`; it is re-read when its device, inode, size
    or mtime changed (a rotated secret swaps the symlink target) and after `invalidate`.
    Surrounding whitespace, such as the trailing newline secrets often carry, is dropped.
    """

    __slots__ = ("_path", "_state")

    def __init__(self, path: Path) -> None:
        self._path = path
        self._state: _FileState | None = None

    async def get(self) -> str:
        # Small local file reads; not worth a thread hop per request.
        try:
            st = self._path.stat()
        except OSError as exc:
            raise AuthError(f"{self.describe()}: cannot read it ({exc.strerror})") from exc
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if self._state is None or self._state.key != key:
            self._state = self._read()
        return self._state.token

    async def invalidate(self, token: str) -> None:
        if self._state is not None and self._state.token == token:
            self._state = None

    def describe(self) -> str:
        return f"token file {self._path}"

    def __repr__(self) -> str:
        return f"FileToken({str(self._path)!r})"

    def _read(self) -> _FileState:
        try:
            with self._path.open("rb") as handle:
                st = os.fstat(handle.fileno())
                raw = handle.read()
        except OSError as exc:
            raise AuthError(f"{self.describe()}: cannot read it ({exc.strerror})") from exc
        try:
            token = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            # The decode error quotes a byte of the file.
            raise AuthError(f"{self.describe()}: not UTF-8 text") from None
        if not token:
            raise AuthError(f"{self.describe()}: the file is empty")
        return _FileState((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), token)


class TokenAuth(httpx.Auth):
    """Sends the source's token as X-Auth-Token; after a 401 retries once with a new token.

    The retry happens only if the source hands out a different token after `invalidate`;
    a second 401 is returned to the caller. Works with httpx.AsyncClient only.
    """

    def __init__(self, source: TokenSource) -> None:
        self._source = source

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._token()
        request.headers[TOKEN_HEADER] = token
        response = yield request
        if response.status_code != 401:
            return
        await self._source.invalidate(token)
        fresh = await self._token()
        if fresh == token:
            return
        request.headers[TOKEN_HEADER] = fresh
        yield request

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("TokenAuth works with httpx.AsyncClient only (token sources are async)")

    def __repr__(self) -> str:
        return f"TokenAuth({self._source.describe()})"

    async def _token(self) -> str:
        token = await self._source.get()
        if _TOKEN_CHARS.fullmatch(token) is None:
            raise AuthError(
                f"{self._source.describe()}: the token holds characters a header cannot carry"
            )
        return token
