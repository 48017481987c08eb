"""Which keys name something that may hold a credential."""

from __future__ import annotations

import pytest

from fdi_drift.drift.redaction import looks_secret


@pytest.mark.parametrize(
    "key",
    [
        "password", "db_password", "PASSWORD", "passwd", "pwd", "secret", "clientSecret",
        "token", "accessToken", "refresh_token", "privateKey", "private-key", "accessKey",
        "access_key_id", "apiKey", "api_key", "X-API-Key", "ak", "sk", "source_sk",
    ],
)  # fmt: skip
def test_secret_looking_keys(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize(
    "key",
    ["task", "mask", "description", "pageSize", "keyword", "ask", "disk", "skip", "apiVersion"],
)
def test_keys_that_are_not(key: str) -> None:
    assert not looks_secret(key)
