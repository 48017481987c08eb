"""Where requests get their credentials: the configured source, built once, for every client.

The configuration names one way to authenticate (one of the `*Auth` values below, which the
configuration parser builds); `Credentials` turns it into what each API client signs or sends
with, describes it for people (never a secret), and closes what it opened (the IAM login client).

Credentials that are not there at all (a variable not set, a file that does not exist) are a
ConfigError when the source is built, naming what to set: a daemon without credentials would
only turn every resource `unknown`. Files are read again when they change, so a rotated Secret
needs no restart; a file that becomes unreadable later fails the requests that need it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fdi_drift.cloud.auth import FileToken, StaticToken, TokenAuth, TokenSource
from fdi_drift.cloud.client import ClientPolicy
from fdi_drift.cloud.iam import IamPasswordToken
from fdi_drift.cloud.signing import (
    AkSkAuth,
    FileKeys,
    KeyPair,
    KeySource,
    RefusedKeys,
    StaticKeys,
)
from fdi_drift.errors import AuthError, ConfigError

DEFAULT_TOKEN_ENV = "FDI_DRIFT_TOKEN"  # noqa: S105 - a variable name
# The official SDKs' own variables, so an environment set up for them works unchanged.
SDK_AK_ENV, SDK_SK_ENV = "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"


@dataclass(frozen=True, slots=True)
class TokenFileAuth:
    """An IAM token in a file (a mounted Kubernetes Secret), re-read when it changes."""

    path: Path

    def describe(self) -> str:
        return f"token file {self.path}"


@dataclass(frozen=True, slots=True)
class TokenEnvAuth:
    """An IAM token in an environment variable; `value` is None when the variable is unset."""

    variable: str
    value: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"token from environment variable {self.variable}"


@dataclass(frozen=True, slots=True)
class IamPasswordAuth:
    """IAM password login scoped to a project; the password is read from a file at each login."""

    domain: str
    user: str
    password_file: Path
    project_id: str

    def describe(self) -> str:
        return f"IAM password login for {self.domain}/{self.user}"


@dataclass(frozen=True, slots=True)
class AkSkFileAuth:
    """An access key pair in two files (a mounted Secret), re-read when they change."""

    ak_file: Path
    sk_file: Path

    def describe(self) -> str:
        return f"AK/SK from files {self.ak_file} and {self.sk_file}"


@dataclass(frozen=True, slots=True)
class AkSkEnvAuth:
    """An access key pair in environment variables; values are None when unset."""

    ak_variable: str
    sk_variable: str
    ak: str | None = field(default=None, repr=False)
    sk: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"AK/SK from environment variables {self.ak_variable} and {self.sk_variable}"


AuthConfig = TokenFileAuth | TokenEnvAuth | IamPasswordAuth | AkSkFileAuth | AkSkEnvAuth


class Credentials:
    """The configured credential source: an auth for each client, a description, a close."""

    def __init__(
        self,
        config: AuthConfig,
        *,
        iam_url: str,
        policy: ClientPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._keys: KeySource | None = None
        self._refused = RefusedKeys()  # one memory of refused keys for all the clients
        self._token: TokenSource | None = None
        if isinstance(config, AkSkFileAuth | AkSkEnvAuth):
            self._keys = _key_source(config)
        else:
            self._token = _token_source(config, iam_url, policy, transport)

    def auth(self) -> httpx.Auth:
        """A fresh request auth (one per client; they share the source and its cache)."""
        if self._keys is not None:
            return AkSkAuth(self._keys, clock=self._clock, refused=self._refused)
        assert self._token is not None
        return TokenAuth(self._token)

    def describe(self) -> str:
        """What the credentials are, for people (a file, a variable, an account; no secret)."""
        source = self._keys if self._keys is not None else self._token
        assert source is not None
        return source.describe()

    async def aclose(self) -> None:
        """Close the IAM login client, if there is one."""
        if isinstance(self._token, IamPasswordToken):
            await self._token.aclose()


_HOW_TO_AUTHENTICATE = (
    "set it, or configure auth: with token_file, iam_password or aksk "
    "(the variables HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK are used when both are set)"
)


def _require_file(path: Path, setting: str) -> None:
    """ConfigError unless `path` is a readable regular file."""
    if not path.is_file():
        raise ConfigError(f"{setting}: {path} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{setting}: {path} is not readable")


def _token_source(
    config: TokenFileAuth | TokenEnvAuth | IamPasswordAuth,
    iam_url: str,
    policy: ClientPolicy,
    transport: httpx.AsyncBaseTransport | None,
) -> TokenSource:
    if isinstance(config, TokenFileAuth):
        _require_file(config.path, "auth.token_file")
        return FileToken(config.path)
    if isinstance(config, TokenEnvAuth):
        if not config.value:
            raise ConfigError(
                f"no credentials: environment variable {config.variable} is not set; "
                + _HOW_TO_AUTHENTICATE
            )
        return StaticToken(config.value, config.describe())
    password_file = config.password_file
    _require_file(password_file, "auth.iam_password.password_file")

    def password() -> str:
        try:
            return password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise AuthError(
                f"cannot read password file {password_file}: {error.strerror}"
            ) from None

    return IamPasswordToken(
        iam_url=iam_url,
        domain=config.domain,
        user=config.user,
        password=password,
        project_id=config.project_id,
        transport=transport,
        timeout=policy.timeout,
        verify=policy.verify,
    )


def _key_source(config: AkSkFileAuth | AkSkEnvAuth) -> KeySource:
    if isinstance(config, AkSkFileAuth):
        _require_file(config.ak_file, "auth.aksk.ak_file")
        _require_file(config.sk_file, "auth.aksk.sk_file")
        return FileKeys(config.ak_file, config.sk_file)
    missing = [
        v
        for v, value in ((config.ak_variable, config.ak), (config.sk_variable, config.sk))
        if not value
    ]
    if missing:
        verb = " is" if len(missing) == 1 else " are"
        raise ConfigError(
            f"no credentials: environment variable {' and '.join(missing)}{verb} not set "
            "(auth.aksk); set them, or configure auth: with ak_file and sk_file"
        )
    assert config.ak is not None and config.sk is not None
    return StaticKeys(KeyPair(config.ak, config.sk), config.describe())
