"""The --credentials file: JSON or YAML, every key optional, mistakes named without values."""

from __future__ import annotations

import json
import pathlib

import pytest

from fdi_drift.emulator.credentials import KeyPair
from fdi_drift.emulator.credentials_file import (
    Credentials,
    CredentialsFileError,
    load_credentials,
)
from fdi_drift.emulator.iam import IamUser

YAML = """\
tokens: [token-one, token-two]
users:
  - {domain: acme, name: ops, password: pass-word}
key_pairs:
  - access_key: AK1
    secret_key: secret-one
  - {access_key: AK2, secret_key: "secret:two"}
"""
EXPECTED = Credentials(
    tokens=frozenset({"token-one", "token-two"}),
    users=(IamUser("acme", "ops", "pass-word"),),
    key_pairs=(KeyPair("AK1", "secret-one"), KeyPair("AK2", "secret:two")),
)


def write(tmp_path: pathlib.Path, name: str, text: str) -> pathlib.Path:
    """A file under tmp_path holding `text`."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_file_is_read(tmp_path: pathlib.Path) -> None:
    """A YAML file yields its tokens, users and key pairs in order."""
    assert load_credentials(write(tmp_path, "creds.yaml", YAML)) == EXPECTED


def test_json_file_is_read(tmp_path: pathlib.Path) -> None:
    """A .json file holding the same document yields the same credentials."""
    document = {
        "tokens": ["token-one", "token-two"],
        "users": [{"domain": "acme", "name": "ops", "password": "pass-word"}],
        "key_pairs": [
            {"access_key": "AK1", "secret_key": "secret-one"},
            {"access_key": "AK2", "secret_key": "secret:two"},
        ],
    }
    assert load_credentials(write(tmp_path, "creds.json", json.dumps(document))) == EXPECTED


@pytest.mark.parametrize("text", ["", "key_pairs: []\n", "tokens: null\n"])
def test_every_key_is_optional(tmp_path: pathlib.Path, text: str) -> None:
    """An empty file, or empty lists, mean no credentials."""
    assert load_credentials(write(tmp_path, "creds.yaml", text)) == Credentials()


def test_repr_shows_no_secret() -> None:
    """Printing the loaded credentials shows no token, password or secret key."""
    printed = repr(EXPECTED)
    for secret in ("token-one", "pass-word", "secret-one", "secret:two"):
        assert secret not in printed


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[]", "mapping"),
        ("tokenz: [a]\n", "unknown keys: tokenz"),
        ("tokens: a-token-value\n", "tokens must be a list"),
        ("tokens: ['']\n", "tokens[0]"),
        ("users: [{domain: a, name: b}]\n", "users[0].password"),
        ("users: [{domain: a, name: b, password: hidden-value, role: x}]\n", "users[0]: unknown"),
        ("key_pairs: [hidden-value]\n", "key_pairs[0] must be a mapping"),
        ("key_pairs: [{access_key: AK}]\n", "key_pairs[0].secret_key"),
        ("key_pairs: [{access_key: 'A K', secret_key: hidden-value}]\n", "key_pairs[0]: "),
        (
            "key_pairs: [{access_key: AK, secret_key: hidden-value},"
            " {access_key: AK, secret_key: hidden-value}]\n",
            "listed twice",
        ),
        ("tokens: [\n", "not valid YAML"),
        ("tokens: [hidden-value\nusers: {", "not valid YAML (line 2, column 6)"),
    ],
)
def test_mistakes_name_the_file_and_entry_but_no_value(
    tmp_path: pathlib.Path, text: str, named: str
) -> None:
    """Each mistake raises CredentialsFileError naming the file and the entry, never a value."""
    path = write(tmp_path, "creds.yaml", text)
    with pytest.raises(CredentialsFileError) as caught:
        load_credentials(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert named in message
    assert "hidden-value" not in message


def test_broken_json_and_missing_file(tmp_path: pathlib.Path) -> None:
    """A .json file that is not JSON, and a file that does not exist, are refused by name."""
    broken = write(tmp_path, "creds.json", "{")
    with pytest.raises(CredentialsFileError, match="not valid JSON"):
        load_credentials(broken)
    with pytest.raises(CredentialsFileError, match="cannot read"):
        load_credentials(tmp_path / "absent.yaml")
