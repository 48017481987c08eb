"""The `--credentials FILE` of the emulator: static tokens, IAM users and AK/SK key pairs.

A JSON file (name ending `.json`) or a YAML file (any other name), every key optional:

    tokens: [static-test-token]                  # accepted as X-Auth-Token for every project
    users:                                       # accounts for IAM password login
      - {domain: acme, name: ops, password: s3cret}
    key_pairs:                                   # accepted for SDK-HMAC-SHA256 signed requests
      - {access_key: EMULATORAK0001, secret_key: emulator-secret-key}
      - {access_key: EMULATORAK0002, secret_key: other-key, owner: acme/deployer}

A key pair's optional `owner` (DOMAIN/NAME) is the user its requests act as in CTS traces;
without one, a user named after the access key in domain `emulator`. Unknown keys are refused,
so that a typo cannot go unnoticed. Error messages name the file and the entry
(`users[1].password`) but never quote a value.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

import orjson
import yaml

from fdi_drift.emulator.credentials import KeyPair, check_distinct
from fdi_drift.emulator.iam import Caller, IamUser

_TOP_KEYS = frozenset({"tokens", "users", "key_pairs"})


class CredentialsFileError(ValueError):
    """The credentials file cannot be read or is not of the documented shape."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a credentials file holds; `repr` shows no token, password or secret key."""

    tokens: frozenset[str] = field(default=frozenset(), repr=False)
    users: tuple[IamUser, ...] = ()
    key_pairs: tuple[KeyPair, ...] = ()


def load_credentials(path: pathlib.Path) -> Credentials:
    """Read and check a credentials file; raises CredentialsFileError naming file and entry."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CredentialsFileError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        document = orjson.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except orjson.JSONDecodeError as exc:
        raise CredentialsFileError(f"{path}: not valid JSON") from exc
    except yaml.YAMLError as exc:
        # The parser's own message quotes the text around the problem, which may be a secret.
        mark = getattr(exc, "problem_mark", None)
        where = "" if mark is None else f" (line {mark.line + 1}, column {mark.column + 1})"
        raise CredentialsFileError(f"{path}: not valid YAML{where}") from exc
    try:
        return _credentials(document)
    except ValueError as exc:
        raise CredentialsFileError(f"{path}: {exc}") from exc


def _credentials(document: object) -> Credentials:
    if document is None:
        return Credentials()
    if not isinstance(document, dict):
        raise ValueError("the file must hold a mapping with tokens, users and key_pairs")
    unknown = sorted(str(key) for key in set(document) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)}")
    tokens = [_text(item, f"tokens[{i}]") for i, item in enumerate(_list(document, "tokens"))]
    users = [
        IamUser(**_fields(item, f"users[{i}]", ("domain", "name", "password")))
        for i, item in enumerate(_list(document, "users"))
    ]
    key_pairs = []
    for i, item in enumerate(_list(document, "key_pairs")):
        where = f"key_pairs[{i}]"
        fields = _fields(item, where, ("access_key", "secret_key"), optional=("owner",))
        owner = None
        if "owner" in fields:
            try:
                owner = Caller.parse(fields["owner"])
            except ValueError as exc:
                raise ValueError(f"{where}.owner: {exc}") from exc
        try:
            key_pairs.append(KeyPair(fields["access_key"], fields["secret_key"], owner))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from exc
    return Credentials(frozenset(tokens), tuple(users), check_distinct(key_pairs))


def _list(document: dict[object, object], key: str) -> list[object]:
    value = document.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def _fields(
    item: object, where: str, names: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, str]:
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be a mapping with {', '.join(names)}")
    unknown = sorted(str(key) for key in set(item) - set(names) - set(optional))
    if unknown:
        raise ValueError(f"{where}: unknown keys: {', '.join(unknown)}")
    given = [name for name in optional if name in item]
    return {name: _text(item.get(name), f"{where}.{name}") for name in (*names, *given)}


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} must be a non-empty string")
    return value
