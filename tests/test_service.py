"""Tests for the composition root's own logic: reconcile windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fdi_drift.credentials import key_source
from fdi_drift.errors import AuthError, ConfigError
from fdi_drift.service import reconcile_windows
from fdi_drift.settings import AkSkEnvAuth

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


async def test_unset_aksk_variables_fail_each_request_by_name() -> None:
    """AK/SK variables that are not set make every signing fail, naming the variables."""
    source = key_source(AkSkEnvAuth("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "AK", None))
    with pytest.raises(AuthError, match="HUAWEICLOUD_SDK_SK is not set"):
        await source.get()
    assert "AK/SK from environment variables" in source.describe()
