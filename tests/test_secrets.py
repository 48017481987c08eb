"""Tests for resolving secret references."""

from __future__ import annotations

from pathlib import Path

import pytest

from fdi_drift.errors import SecretError
from fdi_drift.secrets import SecretResolver, env_name


def test_file_wins_then_environment(tmp_path: Path) -> None:
    """DIR/NAME/KEY is read first (trailing newline dropped); the variable is the fallback."""
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "password").write_text("from-file\n")
    resolve = SecretResolver(
        tmp_path,
        {"FDI_DRIFT_SECRET_KAFKA_PASSWORD": "from-env", "FDI_DRIFT_SECRET_DB_PW": "env-only"},
    )
    assert resolve("kafka/password") == "from-file"
    assert resolve("db/pw") == "env-only"


def test_rotation_is_picked_up_without_restart(tmp_path: Path) -> None:
    """A changed file is read again at the next resolve."""
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "k").write_text("one")
    resolve = SecretResolver(tmp_path, {})
    assert resolve("s/k") == "one"
    (tmp_path / "s" / "k").write_text("two")
    assert resolve("s/k") == "two"


def test_missing_secret_names_where_it_looked_never_a_value(tmp_path: Path) -> None:
    """The error names the reference, the file and the variable."""
    resolve = SecretResolver(tmp_path, {"FDI_DRIFT_SECRET_OTHER_KEY": "value-xyz"})
    with pytest.raises(SecretError) as caught:
        resolve("kafka-prod/sasl.password")
    message = str(caught.value)
    assert (
        "kafka-prod/sasl.password" in message
        and "$FDI_DRIFT_SECRET_KAFKA_PROD_SASL_PASSWORD" in message
    )
    assert "value-xyz" not in message and "value-xyz" not in repr(resolve)


def test_bad_reference_is_refused() -> None:
    """A reference that is not NAME/KEY cannot escape the directory."""
    with pytest.raises(SecretError, match="not NAME/KEY"):
        SecretResolver(Path("/"), {})("../etc/passwd")
    assert env_name("a.b/c-d") == "FDI_DRIFT_SECRET_A_B_C_D"
