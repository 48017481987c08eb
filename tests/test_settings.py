"""Tests for the daemon configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from fdi_drift.credentials import (
    AkSkEnvAuth,
    AkSkFileAuth,
    IamPasswordAuth,
    TokenEnvAuth,
    TokenFileAuth,
)
from fdi_drift.drift.model import ReconcileMode
from fdi_drift.errors import ConfigError
from fdi_drift.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_empty_file_gives_every_default(tmp_path: Path) -> None:
    """An empty configuration is valid and every key takes its documented default."""
    settings = load_settings(write(tmp_path, ""), environ={})
    assert settings.desired_state == tmp_path / "desired_state"
    assert settings.targets[0].endpoints["fdi"] == "https://roma.cn-north-4.myhuaweicloud.com"
    assert settings.targets[0].endpoints["iam"] == "https://iam.cn-north-4.myhuaweicloud.com"
    assert settings.schedule.interval_seconds == 60
    assert settings.rails.mode is ReconcileMode.OBSERVE
    assert settings.rails.max_writes_per_cycle == 5
    assert (settings.listen.host, settings.listen.port) == ("0.0.0.0", 9108)  # noqa: S104
    assert settings.targets[0].auth == TokenEnvAuth("FDI_DRIFT_TOKEN", None)


def test_region_changes_default_endpoints_and_overrides_win(tmp_path: Path) -> None:
    """Endpoints follow the region unless overridden one by one."""
    settings = load_settings(
        write(tmp_path, "region: ap-southeast-1\nendpoints: {fdi: 'http://127.0.0.1:9/'}\n"),
        environ={},
    )
    assert settings.targets[0].endpoints["fdi"] == "http://127.0.0.1:9"
    assert settings.targets[0].endpoints["drs"] == "https://drs.ap-southeast-1.myhuaweicloud.com"


def test_environment_references_expand(tmp_path: Path) -> None:
    """${NAME} and ${NAME:-default} expand from the environment given."""
    text = "desired_state: ${ROOT}/desired\nlisten: ${LISTEN:-127.0.0.1:9999}\n"
    settings = load_settings(write(tmp_path, text), environ={"ROOT": "/srv"})
    assert settings.desired_state == Path("/srv/desired")
    assert (settings.listen.host, settings.listen.port) == ("127.0.0.1", 9999)


def test_unset_variable_names_the_key(tmp_path: Path) -> None:
    """An unset variable without a default is an error naming file, line, key and variable."""
    path = write(tmp_path, "endpoints:\n  fdi: ${FDI_URL}\n")
    with pytest.raises(
        ConfigError, match=r"config.yaml:2: endpoints.fdi: environment variable FDI_URL"
    ):
        load_settings(path, environ={})


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    """A misspelt key is an error, not a silent default."""
    with pytest.raises(ConfigError, match=r"config.yaml:2: interval_secnds: unknown key"):
        load_settings(write(tmp_path, "concurrency: 4\ninterval_secnds: 5\n"), environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("concurrency: 0\n", "concurrency: must be at least 1"),
        ("interval_seconds: soon\n", "interval_seconds: must be a number"),
        ("reconcile: {mode: sometimes}\n", "reconcile.mode: must be observe, dry-run or auto"),
        ("listen: nowhere\n", "listen: must be HOST:PORT"),
        ("auth: {token_file: a, token_env: B}\n", "auth: must hold exactly one"),
        ("auth: {iam_password: {domain: d, user: u}}\n", "auth.iam_password.password_file"),
        ("endpoints: {fdi: ftp://x}\n", "endpoints.fdi: must be an http"),
        ("- a list\n", "the top level must be a mapping"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    """Each invalid value is reported with the key it belongs to."""
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), environ={})


def test_auth_modes(tmp_path: Path) -> None:
    """Each auth mode resolves paths relative to the file and reads variables once."""
    token_file = load_settings(write(tmp_path, "auth: {token_file: secrets/token}\n"), environ={})
    assert token_file.targets[0].auth == TokenFileAuth(tmp_path / "secrets/token")
    env = load_settings(
        write(tmp_path, "auth: {token_env: MY_TOKEN}\n"), environ={"MY_TOKEN": "t0k"}
    )
    assert env.targets[0].auth == TokenEnvAuth("MY_TOKEN", "t0k")
    assert "t0k" not in repr(env)
    iam = load_settings(
        write(
            tmp_path,
            "auth:\n  iam_password: {domain: d, user: u, password_file: /p, project_id: p1}\n",
        ),
        environ={},
    )
    assert iam.targets[0].auth == IamPasswordAuth("d", "u", Path("/p"), "p1")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A configuration file that does not exist is named in the error."""
    with pytest.raises(ConfigError, match=r"absent\.yaml: cannot read"):
        load_settings(tmp_path / "absent.yaml", environ={})


def test_aksk_modes_and_the_sdk_variables(tmp_path: Path) -> None:
    """aksk takes two files or two variables; with no auth, the SDK's AK/SK variables win."""
    files = load_settings(
        write(tmp_path, "auth: {aksk: {ak_file: s/ak, sk_file: s/sk}}\n"), environ={}
    )
    assert files.targets[0].auth == AkSkFileAuth(tmp_path / "s/ak", tmp_path / "s/sk")
    env = {"MY_AK": "AK1", "MY_SK": "SK1-secret"}
    named = load_settings(
        write(tmp_path, "auth: {aksk: {ak_env: MY_AK, sk_env: MY_SK}}\n"), environ=env
    )
    assert named.targets[0].auth == AkSkEnvAuth("MY_AK", "MY_SK", "AK1", "SK1-secret")
    assert "SK1-secret" not in repr(named)
    sdk_env = {"HUAWEICLOUD_SDK_AK": "AK2", "HUAWEICLOUD_SDK_SK": "SK2", "FDI_DRIFT_TOKEN": "t"}
    default = load_settings(write(tmp_path, ""), environ=sdk_env)
    assert default.targets[0].auth == AkSkEnvAuth(
        "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "AK2", "SK2"
    )
    only_token = load_settings(
        write(tmp_path, ""), environ={"HUAWEICLOUD_SDK_AK": "AK2", "FDI_DRIFT_TOKEN": "t"}
    )
    assert only_token.targets[0].auth == TokenEnvAuth("FDI_DRIFT_TOKEN", "t")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("auth: {aksk: {ak_file: a}}\n", "give ak_file and sk_file, or ak_env and sk_env"),
        ("auth: {aksk: {ak_file: a, sk_file: b, ak_env: C}}\n", "give ak_file and sk_file"),
        ("auth: {aksk: {key: a}}\n", "auth.aksk.key: unknown key"),
        (
            "auth: {kerberos: {}}\n",
            r"auth.kerberos: unknown mode \(token_file, token_env, iam_password, aksk\)",
        ),
    ],
)
def test_bad_aksk_settings(tmp_path: Path, text: str, message: str) -> None:
    """AK/SK settings that cannot work are errors naming the key."""
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text), environ={})
