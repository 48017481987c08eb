"""Tests for secrets: resolving references, and hiding values at the paths they were declared."""

from __future__ import annotations

from pathlib import Path

import pytest

from fdi_drift.drift.model import JSONValue
from fdi_drift.drift.redaction import REDACTED, redact_paths, redact_paths_at
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


def test_redact_paths_hides_exactly_the_declared_places() -> None:
    """Through dicts and lists to the place itself; absent places hide nothing; input untouched."""
    live = {"a": {"conn": "S3CR3T", "host": "h"}, "l": ["S3CR3T", "x"], "n": None}
    hidden = redact_paths(live, [("a", "conn"), ("l", 0), ("a", "gone"), ("l", 5), ("n", "k")])
    assert hidden == {"a": {"conn": REDACTED, "host": "h"}, "l": [REDACTED, "x"], "n": None}
    assert live["a"] == {"conn": "S3CR3T", "host": "h"}


@pytest.mark.parametrize(
    ("live", "rest"),
    [
        ('{"conn":"S3CR3T"', ("conn",)),  # JSON text that does not parse
        ('{"conn":"S3CR3T"}', ("conn",)),  # JSON text left undecoded
        (["S3CR3T"], ("conn",)),  # a list where a key comes next
        ({"0": "S3CR3T"}, (0,)),  # a dict where an index comes next
        (12345, ("conn",)),
    ],
)
def test_redact_paths_hides_whole_what_the_path_cannot_enter(
    live: JSONValue, rest: tuple[str | int, ...]
) -> None:
    """Text or another shape where the path runs may hold the secret: the whole value is hidden."""
    hidden = redact_paths({"body": live, "keep": 1}, [("body", *rest)])
    assert hidden == {"body": REDACTED, "keep": 1}


def test_redact_paths_at_hides_by_where_a_value_sits() -> None:
    """At or below a path everything is hidden, above it only the path's remainder."""
    paths = [("a", "b", "conn")]
    assert redact_paths_at("S3CR3T", ("a", "b", "conn"), paths) == REDACTED
    assert redact_paths_at("S3CR3T", ("a", "b", "conn", "k"), paths) == REDACTED
    assert redact_paths_at({"conn": "S3CR3T", "n": 1}, ("a", "b"), paths) == {
        "conn": REDACTED,
        "n": 1,
    }
    unrelated = {"conn": "shown"}
    assert redact_paths_at(unrelated, ("a", "c"), paths) is unrelated
