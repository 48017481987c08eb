"""Where requests get their credentials: the configured token or key-pair source, built once.

Credentials that are not there at all (a variable not set, a file that does not exist) are a
ConfigError when the source is built, naming what to set: a daemon without credentials would
only turn every resource `unknown`. Files are read again when they change, so a rotated Secret
needs no restart; a file that becomes unreadable later fails the requests that need it.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from fdi_drift.cloud.auth import FileToken, StaticToken, TokenSource
from fdi_drift.cloud.iam import IamPasswordToken
from fdi_drift.cloud.signing import FileKeys, KeyPair, KeySource, StaticKeys
from fdi_drift.errors import AuthError, ConfigError
from fdi_drift.settings import (
    AkSkEnvAuth,
    AkSkFileAuth,
    AuthSettings,
    IamPasswordAuth,
    TokenEnvAuth,
    TokenFileAuth,
)

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
        _require_file(auth.path, "auth.token_file")
        return FileToken(auth.path)
    if isinstance(auth, TokenEnvAuth):
        if not auth.value:
            raise ConfigError(
                f"no credentials: environment variable {auth.variable} is not set; "
                + _HOW_TO_AUTHENTICATE
            )
        return StaticToken(auth.value, auth.describe())
    assert isinstance(auth, IamPasswordAuth)
    password_file = auth.password_file
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
        domain=auth.domain,
        user=auth.user,
        password=password,
        project_id=auth.project_id,
        transport=transport,
        timeout=timeout,
        verify=verify,
    )


def key_source(auth: AkSkFileAuth | AkSkEnvAuth) -> KeySource:
    """The key-pair source an AK/SK configuration names."""
    if isinstance(auth, AkSkFileAuth):
        _require_file(auth.ak_file, "auth.aksk.ak_file")
        _require_file(auth.sk_file, "auth.aksk.sk_file")
        return FileKeys(auth.ak_file, auth.sk_file)
    missing = [
        v for v, value in ((auth.ak_variable, auth.ak), (auth.sk_variable, auth.sk)) if not value
    ]
    if missing:
        verb = " is" if len(missing) == 1 else " are"
        raise ConfigError(
            f"no credentials: environment variable {' and '.join(missing)}{verb} not set "
            "(auth.aksk); set them, or configure auth: with ak_file and sk_file"
        )
    assert auth.ak is not None and auth.sk is not None
    return StaticKeys(KeyPair(auth.ak, auth.sk), auth.describe())
