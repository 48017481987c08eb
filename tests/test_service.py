"""Tests for the composition root's own logic: credentials at start."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fdi_drift.errors import ConfigError
from fdi_drift.service import Runtime
from tests.conftest import settings_for


def test_unset_aksk_variables_are_a_configuration_error_naming_them(tmp_path: Path) -> None:
    """AK/SK variables that are not set stop the start, naming the missing variable."""
    settings = settings_for(
        tmp_path, auth={"aksk": {"ak_env": "AK", "sk_env": "SK"}}, environ={"AK": "a"}
    )
    with pytest.raises(ConfigError, match="SK is not set"):
        Runtime(settings)


def test_no_credentials_at_all_is_a_configuration_error_before_any_request(
    tmp_path: Path,
) -> None:
    """Without a token or keys, building the runtime fails naming what to set; nothing is sent."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    settings = settings_for(tmp_path, environ={})
    with pytest.raises(ConfigError, match="environment variable FDI_DRIFT_TOKEN is not set"):
        Runtime(settings, transport=httpx.MockTransport(record))
    assert sent == []


@pytest.mark.parametrize(
    ("auth", "setting"),
    [
        ({"token_file": "missing-token"}, "auth.token_file"),
        ({"aksk": {"ak_file": "missing-ak", "sk_file": "missing-sk"}}, "auth.aksk.ak_file"),
        (
            {
                "iam_password": {
                    "domain": "domain",
                    "user": "user",
                    "password_file": "missing-password",
                    "project_id": "project",
                }
            },
            "auth.iam_password.password_file",
        ),
    ],
)
def test_a_credential_file_that_is_not_there_is_a_configuration_error(
    tmp_path: Path, auth: dict[str, object], setting: str
) -> None:
    """A credential file that does not exist is named, with its setting, at start."""
    with pytest.raises(ConfigError, match=f"{setting}: .*does not exist"):
        Runtime(settings_for(tmp_path, auth=auth))
