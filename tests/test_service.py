"""Tests for the composition root's own logic: reconcile windows, credentials at start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fdi_drift.errors import ConfigError
from fdi_drift.service import Runtime, reconcile_windows
from tests.conftest import settings_for

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SUNDAY_3AM = datetime(2026, 11, 22, 3, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "moment", "inside"),
    [
        ("* 12 * * 1", MONDAY_NOON, True),  # cron counts weekdays from Sunday = 0
        ("* 12 * * 2", MONDAY_NOON, False),
        ("* 12 * * 1-5", MONDAY_NOON, True),
        ("* * * * 0", SUNDAY_3AM, True),
        ("* * * * 7", SUNDAY_3AM, True),
        ("* * * * 1-5", SUNDAY_3AM, False),
        ("* 2-4 * * sun", SUNDAY_3AM, True),
        ("0 12 23 11 *", MONDAY_NOON, True),
        ("1 12 23 11 *", MONDAY_NOON, False),
        ("*/15 * * * *", SUNDAY_3AM, True),
    ],
)
def test_windows_follow_cron_in_utc(expression: str, moment: datetime, inside: bool) -> None:
    """A moment is inside when its minute matches the expression, weekdays as cron counts them."""
    assert reconcile_windows((expression,))(moment) is inside


def test_no_windows_means_always_and_any_match_is_enough() -> None:
    """An empty list allows every minute; with several, one matching is enough."""
    assert reconcile_windows(())(MONDAY_NOON)
    assert reconcile_windows(("* 1 * * *", "* 12 * * *"))(MONDAY_NOON)


@pytest.mark.parametrize("expression", ["* * *", "61 * * * *", "* * * * 9"])
def test_bad_windows_name_the_setting(expression: str) -> None:
    """An invalid expression is a configuration error naming the window."""
    with pytest.raises(ConfigError, match=r"reconcile.windows\[0\]"):
        reconcile_windows((expression,))


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
