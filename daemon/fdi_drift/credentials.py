"""Where requests get their credentials: the configured token or key-pair source, built once.

A variable that is not set does not stop the daemon: every request then fails with an AuthError
that names it, so `check` and the resources' `unknown` reasons say what is missing.
"""

from __future__ import annotations

import httpx

from fdi_drift.cloud.auth import FileToken, StaticToken, TokenSource
from fdi_drift.cloud.iam import IamPasswordToken
from fdi_drift.cloud.signing import FileKeys, KeyPair, KeySource, StaticKeys
from fdi_drift.errors import AuthError
from fdi_drift.settings import (
    AkSkEnvAuth,
    AkSkFileAuth,
    AuthSettings,
    IamPasswordAuth,
    TokenEnvAuth,
    TokenFileAuth,
)


class _UnsetEnvToken:
    """Stands in for a token variable that is not set, so every request says so."""

    def __init__(self, variable: str) -> None:
        self._variable = variable

    async def get(self) -> str:
        raise AuthError(f"environment variable {self._variable} is not set")

    async def invalidate(self, token: str) -> None:
        return None

    def describe(self) -> str:
        return f"token from environment variable {self._variable}"


def token_source(
    auth: AuthSettings,
    *,
    iam_url: str,
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
    verify: bool | str,
) -> TokenSource:
    """The credential source the configuration names."""
    if isinstance(auth, TokenFileAuth):
        return FileToken(auth.path)
    if isinstance(auth, TokenEnvAuth):
        if auth.value is None:
            return _UnsetEnvToken(auth.variable)
        return StaticToken(auth.value, auth.describe())
    assert isinstance(auth, IamPasswordAuth)
    password_file = auth.password_file

    def password() -> str:
        try:
            return password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise AuthError(
                f"cannot read password file {password_file}: {error.strerror}"
            ) from None

    return IamPasswordToken(
        iam_url=iam_url,
        domain=auth.domain,
        user=auth.user,
        password=password,
        project_id=auth.project_id,
        transport=transport,
        timeout=timeout,
        verify=verify,
    )


class _UnsetEnvKeys:
    """Stands in for AK/SK variables that are not set, so every request says so."""

    def __init__(self, description: str, missing: str) -> None:
        self._description = description
        self._missing = missing

    async def get(self) -> KeyPair:
        raise AuthError(f"{self._description}: {self._missing} not set")

    async def invalidate(self, keys: KeyPair) -> None:
        return None

    def describe(self) -> str:
        return self._description


def key_source(auth: AkSkFileAuth | AkSkEnvAuth) -> KeySource:
    """The key-pair source an AK/SK configuration names."""
    if isinstance(auth, AkSkFileAuth):
        return FileKeys(auth.ak_file, auth.sk_file)
    missing = [
        v for v, value in ((auth.ak_variable, auth.ak), (auth.sk_variable, auth.sk)) if not value
    ]
    if missing:
        return _UnsetEnvKeys(
            auth.describe(), " and ".join(missing) + (" is" if len(missing) == 1 else " are")
        )
    assert auth.ak is not None and auth.sk is not None
    return StaticKeys(KeyPair(auth.ak, auth.sk), auth.describe())
