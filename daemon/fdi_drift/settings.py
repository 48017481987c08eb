"""The daemon configuration: one YAML file plus the environment, parsed into each part's own type.

Each component defines its configuration, defaults included, where it is used: the cloud
client's `ClientPolicy`, the engine's `EngineConfig`, the reconciler's `Rails`, the daemon's
`Schedule`, the server's `Listen`, the credential configurations in `credentials.py`. This module
only reads YAML into them: a key that is absent takes the component's default, so every default
is written once (a default path, like a given one, is relative to the configuration file). A
field's YAML key is its name unless its metadata says `setting` (None: not configurable), and
`minimum` bounds a number.

`${NAME}` and `${NAME:-default}` in string values expand from the environment; an unset variable
without a default is an error naming the key. Unknown keys are errors too (a typo must not
silently fall back to a default). Errors name the file, the line and the key. Relative paths are
relative to the configuration file. This is the only module that reads `os.environ`, and only the
composition layer (`cli`, `service`, `demo`) imports it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from fdi_drift.cloud.client import ClientPolicy
from fdi_drift.cloud.cts import SERVICE as CTS
from fdi_drift.cloud.endpoints import Endpoints
from fdi_drift.cloud.iam import SERVICE as IAM
from fdi_drift.cloud.identifiers import check_id
from fdi_drift.credentials import (
    DEFAULT_TOKEN_ENV,
    SDK_AK_ENV,
    SDK_SK_ENV,
    AkSkEnvAuth,
    AkSkFileAuth,
    AuthConfig,
    IamPasswordAuth,
    TokenEnvAuth,
    TokenFileAuth,
)
from fdi_drift.engine import EngineConfig
from fdi_drift.errors import ConfigError, InvalidIdentifierError
from fdi_drift.kinds import catalog
from fdi_drift.logs import LEVELS
from fdi_drift.reconciler import Rails
from fdi_drift.schedule import Schedule
from fdi_drift.secrets import SECRET_ENV_PREFIX
from fdi_drift.server import Listen
from fdi_drift.sharding import Shard, hostname_ordinal
from fdi_drift.targets import Target
from fdi_drift.yaml_documents import LineIndex, load_documents

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_AUTH_MODES = ("token_file", "token_env", "iam_password", "aksk")
DEFAULT_REGION = "cn-north-4"
_REGION = re.compile(r"[a-z0-9]{1,16}(-[a-z0-9]{1,16}){0,4}")
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TARGET_KEYS = ("region", "endpoints", "auth")  # a single target's, at the top level


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the daemon is configured with, each part in its component's own type."""

    # `targets:`, or for a single target `region`, `endpoints` and `auth` at the top level.
    targets: tuple[Target, ...] = field(metadata={"special": True})
    listen: Listen = field(metadata={"special": True})  # HOST:PORT
    # `shards: N` and `shard: I`; without `shard`, a replica's hostname ordinal (fdi-drift-2).
    shard: Shard = field(default_factory=Shard, metadata={"special": True})
    desired_state: Path = Path("desired_state")
    schedule: Schedule = field(default_factory=Schedule)
    engine: EngineConfig = field(default_factory=EngineConfig)
    client: ClientPolicy = field(default_factory=ClientPolicy)
    rails: Rails = field(default_factory=Rails, metadata={"setting": "reconcile"})
    desired_state_max_file_bytes: int | None = field(  # None: the loader's own limit
        default=None, metadata={"minimum": 1024}
    )
    audit_log: Path = Path("fdi-drift-audit.jsonl")
    secrets_dir: Path | None = None
    cache_dir: Path | None = None  # what desired files parse to, kept across restarts
    history_db: Path | None = None  # drift episodes (SQLite), kept across restarts
    history_max_age_days: float = field(default=90.0, metadata={"minimum": 1})
    history_max_episodes: int = field(default=100_000, metadata={"minimum": 100})
    # How long Cloud Trace Service is searched for who made a change (its traces come late).
    attribution_minutes: float = field(default=30.0, metadata={"minimum": 1})
    log_level: str = field(default="INFO", metadata={"choices": LEVELS})
    secret_env: Mapping[str, str] = field(
        default_factory=dict, repr=False, metadata={"setting": None}
    )

    @property
    def cycle_deadline_seconds(self) -> float:
        """How long one cycle may run before unfinished reads are cancelled."""
        if self.engine.cycle_timeout_seconds is not None:
            return self.engine.cycle_timeout_seconds
        return 3 * self.schedule.interval_seconds


def load_settings(
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    sharded: bool = True,
    hostname: Callable[[], str] = socket.gethostname,
) -> Settings:
    """Read, expand and validate a configuration file.

    `sharded` False loads for a one-shot command, which acts on every resource: the shard keys
    are checked, and the settings have one shard. Otherwise a replica with `shards` above one and
    no `shard` takes its shard from the ordinal ending its `hostname` (a StatefulSet pod's).
    """
    env = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from error
    try:
        documents = load_documents(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if len(documents) > 1:
        raise ConfigError(f"{path}: holds {len(documents)} YAML documents; one is expected")
    raw = documents[0] if documents else None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return settings_from_mapping(
        raw,
        base_dir=path.parent,
        environ=env,
        source=str(path),
        lines=LineIndex(text),
        sharded=sharded,
        hostname=hostname,
    )


def settings_from_mapping(
    raw: Mapping[str, Any],
    *,
    base_dir: Path,
    environ: Mapping[str, str],
    source: str = "configuration",
    lines: LineIndex | None = None,
    sharded: bool = True,
    hostname: Callable[[], str] = socket.gethostname,
) -> Settings:
    """Validate an already-parsed configuration mapping (`sharded`: as `load_settings`)."""
    reader = _Reader(source, base_dir, environ, lines)
    data = reader.expand(raw, "")
    values, used = reader.fields(Settings, data, "")
    used |= {"targets", *_TARGET_KEYS, "listen", "shards", "shard"}
    reader.reject_unknown(data, used, "")
    shard = reader.shard(data, hostname if sharded else None)
    return Settings(
        **values,
        targets=reader.targets(data),
        listen=reader.listen(data.get("listen")),
        shard=shard if sharded else Shard(),  # the keys are checked all the same
        secret_env={k: v for k, v in environ.items() if k.startswith(SECRET_ENV_PREFIX)},
    )


@dataclass(frozen=True, slots=True)
class _Reader:
    """Typed access to the raw mapping, with errors that name the file, the line and the key."""

    source: str
    base_dir: Path
    environ: Mapping[str, str]
    lines: LineIndex | None

    def error(self, key: str, message: str) -> ConfigError:
        path = key.replace("[", ".").replace("]", "").split(".")  # targets[1].auth: 1 is an index
        line = self.lines.line_at(path) if self.lines and key else None
        where = self.source if line is None else f"{self.source}:{line}"
        return ConfigError(f"{where}: {key}: {message}" if key else f"{where}: {message}")

    def expand(self, value: Any, key: str) -> Any:
        if isinstance(value, str):
            return self._expand_text(value, key)
        if isinstance(value, dict):
            return {k: self.expand(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand(v, f"{key}[{i}]") for i, v in enumerate(value)]
        return value

    def _expand_text(self, text: str, key: str) -> str:
        def replace(found: re.Match[str]) -> str:
            name, default = found.group(1), found.group(2)
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            raise self.error(key, f"environment variable {name} is not set")

        return _ENV_REFERENCE.sub(replace, text)

    def reject_unknown(self, data: Mapping[str, Any], known: set[str], prefix: str) -> None:
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise self.error(
                prefix + unknown[0], f"unknown key (known: {', '.join(sorted(known))})"
            )

    def fields(
        self, cls: type[Any], data: Mapping[str, Any], prefix: str
    ) -> tuple[dict[str, Any], set[str]]:
        """The values `data` gives for the fields of dataclass `cls`, and the keys it used.

        A field absent from `data` is left out, so the dataclass's own default applies. A field
        that is itself a dataclass is read from the same level (its fields are keys here),
        unless its metadata names a section of its own (`setting`).
        """
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        used: set[str] = set()
        for spec in dataclasses.fields(cls):
            meta = spec.metadata
            kind = hints[spec.name]
            if meta.get("special"):
                continue
            component = isinstance(kind, type) and dataclasses.is_dataclass(kind)
            if component and "setting" not in meta:
                nested, nested_used = self.fields(kind, data, prefix)
                values[spec.name] = kind(**nested)
                used |= nested_used
                continue
            key = meta.get("setting", spec.name)
            if key is None:
                continue
            if key not in data:
                if isinstance(spec.default, Path):  # relative to the file, like a given path
                    values[spec.name] = self.path(str(spec.default), f"{prefix}{key}")
                continue
            used.add(key)
            if component:
                section = self.mapping(data, key, prefix)
                nested, nested_used = self.fields(kind, section, f"{prefix}{key}.")
                self.reject_unknown(section, nested_used, f"{prefix}{key}.")
                values[spec.name] = kind(**nested)
            else:
                values[spec.name] = self.value(data[key], kind, f"{prefix}{key}", meta)
        return values, used

    def value(self, value: Any, kind: Any, key: str, meta: Mapping[str, Any]) -> Any:
        """`value` as a field of type `kind` takes it, checked against the field's metadata."""
        options = _options(kind)
        if value is None and type(None) in options:
            return None
        kind = next(option for option in options if option is not type(None))
        if kind is bool:
            if not isinstance(value, bool):
                raise self.error(key, "must be true or false")
            return value
        if kind in (int, float):
            return self.number(value, key, kind, meta.get("minimum"))
        if kind is Path:
            return self.path(value, key)
        if isinstance(kind, type) and issubclass(kind, StrEnum):
            try:
                return kind(value)
            except ValueError:
                members = [member.value for member in kind]
                raise self.error(key, f"must be {_one_of(members)}") from None
        if get_origin(kind) is tuple:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise self.error(key, "must be a list of strings")
            return tuple(value)
        if kind is str:
            if not isinstance(value, str) or not value:
                raise self.error(key, "must be a non-empty string")
            choices = meta.get("choices")
            if choices and value.upper() not in choices:
                raise self.error(key, f"must be {_one_of(list(choices))}")
            return value.upper() if choices else value
        raise AssertionError(f"no reader for {kind!r} ({key})")

    def number(self, value: Any, key: str, kind: type, minimum: float | None) -> int | float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.error(key, f"must be a number, not {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, "must be a number")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum:g}")
        if kind is int:
            if value != int(value):
                raise self.error(key, "must be a whole number")
            return int(value)
        return float(value)

    def mapping(self, data: Mapping[str, Any], key: str, prefix: str = "") -> Mapping[str, Any]:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise self.error(prefix + key, "must be a mapping")
        return value

    def string(self, data: Mapping[str, Any], key: str, default: str, prefix: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(prefix + key, "must be a non-empty string")
        return value

    def path(self, value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a path")
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    def targets(self, data: Mapping[str, Any]) -> tuple[Target, ...]:
        """`targets:`, or the single target that top-level `region`, `endpoints`, `auth` give."""
        if "targets" not in data:
            return (self.target(data, ""),)
        given = [key for key in _TARGET_KEYS if key in data]
        if given:
            raise self.error(given[0], "goes inside each entry of targets: (or leave out targets:)")
        items = data["targets"]
        if not isinstance(items, list) or not items:
            raise self.error("targets", "must be a non-empty list")
        targets: list[Target] = []
        served: dict[str, int] = {}
        rest: int | None = None
        for number, item in enumerate(items):
            prefix = f"targets[{number}]."
            if not isinstance(item, dict):
                raise self.error(prefix.rstrip("."), "must be a mapping")
            self.reject_unknown(item, {"account", "projects", *_TARGET_KEYS}, prefix)
            if "region" not in item:
                raise self.error(prefix + "region", "is required")
            target = self.target(item, prefix)
            for project in target.projects:
                if project in served:
                    raise self.error(
                        prefix + "projects",
                        f"project {project} is served by targets[{served[project]}] already",
                    )
                served[project] = number
            if target.serves_the_rest:
                if rest is not None:
                    raise self.error(
                        prefix + "projects",
                        f"required: targets[{rest}] already serves every project not named",
                    )
                rest = number
            targets.append(target)
        return tuple(targets)

    def target(self, data: Mapping[str, Any], prefix: str) -> Target:
        region = self.string(data, "region", DEFAULT_REGION, prefix)
        if not _REGION.fullmatch(region):  # it becomes part of the endpoints' host names
            raise self.error(prefix + "region", f"{region!r} is not a region name (cn-north-4)")
        account = self.string(data, "account", "", prefix) if "account" in data else ""
        if account and not _ACCOUNT.fullmatch(account):  # it becomes a metric label
            raise self.error(
                prefix + "account", "1-64 letters, digits, '.', '_' or '-', starting with one"
            )
        projects = self.projects(data.get("projects"), prefix + "projects") if prefix else ()
        return Target(
            region=region,
            endpoints=self.endpoints(data.get("endpoints"), region, prefix),
            auth=self.auth(data.get("auth"), prefix, projects),
            account=account,
            projects=projects,
        )

    def projects(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
            raise self.error(key, "must be a non-empty list of project ids")
        for project in value:
            try:
                check_id("project_id", project)
            except InvalidIdentifierError as error:
                raise self.error(key, str(error)) from None
        if len(set(value)) != len(value):
            raise self.error(key, "names a project twice")
        return tuple(value)

    def endpoints(self, value: Any, region: str, prefix: str = "") -> Endpoints:
        """A URL for each service in use (the managed kinds', IAM's and Cloud Trace Service's),
        the region's by default."""
        key = prefix + "endpoints"
        data = self.mapping({key: value}, key)
        services = (*catalog.services(), IAM, CTS)
        self.reject_unknown(data, {service.name for service in services}, key + ".")
        return Endpoints(
            {
                service.name: self.url(data, service.name, service.url(region), key + ".")
                for service in services
            }
        )

    def url(self, data: Mapping[str, Any], key: str, default: str, prefix: str) -> str:
        value = self.string(data, key, default, prefix)
        if not value.startswith(("https://", "http://")):
            raise self.error(prefix + key, "must be an http(s) URL")
        return value.rstrip("/")

    def listen(self, value: Any) -> Listen:
        if value is None:
            return Listen()
        if not isinstance(value, str) or not value:
            raise self.error("listen", "must be a non-empty string")
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise self.error("listen", f"must be HOST:PORT, not {value!r}")
        return Listen(host.strip("[]"), int(port))

    def shard(self, data: Mapping[str, Any], hostname: Callable[[], str] | None) -> Shard:
        """`shards` and `shard`; without `shard`, the ordinal ending the hostname (None: 0)."""
        count = int(self.number(data["shards"], "shards", int, 1)) if "shards" in data else 1
        if "shard" in data:
            index = int(self.number(data["shard"], "shard", int, 0))
            if index >= count:
                raise self.error("shard", f"must be less than shards ({count}): 0..{count - 1}")
            return Shard(index, count)
        if count == 1 or hostname is None:
            return Shard()
        name = hostname()
        ordinal = hostname_ordinal(name)
        if ordinal is None:
            raise self.error(
                "shards",
                f"is {count} and shard is not set, but the hostname {name!r} ends in no ordinal "
                f"(a StatefulSet pod's NAME-0..NAME-{count - 1}); set shard: 0..{count - 1}",
            )
        if ordinal >= count:
            raise self.error(
                "shards",
                f"is {count}, but the hostname {name!r} gives shard {ordinal}: run as many "
                f"replicas as shards, or set shard: 0..{count - 1}",
            )
        return Shard(ordinal, count)

    def auth(self, value: Any, prefix: str = "", projects: tuple[str, ...] = ()) -> AuthConfig:
        """The target's `auth:`; an IAM login's project defaults to the target's only one."""
        key = prefix + "auth"
        if value is None:
            # No auth configured: the SDKs' AK/SK variables if both are set, else a token.
            if self.environ.get(SDK_AK_ENV) and self.environ.get(SDK_SK_ENV):
                return self._aksk_env(SDK_AK_ENV, SDK_SK_ENV)
            return TokenEnvAuth(DEFAULT_TOKEN_ENV, self.environ.get(DEFAULT_TOKEN_ENV))
        if not isinstance(value, dict) or len(value) != 1:
            raise self.error(key, f"must hold exactly one of {', '.join(_AUTH_MODES)}")
        ((mode, body),) = value.items()
        if mode == "token_file":
            return TokenFileAuth(self.path(body, f"{key}.token_file"))
        if mode == "token_env":
            if not isinstance(body, str) or not body:
                raise self.error(f"{key}.token_env", "must name an environment variable")
            return TokenEnvAuth(body, self.environ.get(body))
        if mode == "iam_password":
            return self._iam_password(body, f"{key}.iam_password", projects)
        if mode == "aksk":
            return self._aksk(body, f"{key}.aksk")
        raise self.error(f"{key}.{mode}", f"unknown mode ({', '.join(_AUTH_MODES)})")

    def _iam_password(self, body: Any, key: str, projects: tuple[str, ...]) -> IamPasswordAuth:
        if not isinstance(body, dict):
            raise self.error(key, "must be a mapping")
        known = {"domain", "user", "password_file", "project_id"}
        self.reject_unknown(body, known, f"{key}.")
        if len(projects) == 1:
            body = {"project_id": projects[0], **body}
        missing = sorted(k for k in known if not isinstance(body.get(k), str) or not body[k])
        if missing:
            raise self.error(f"{key}.{missing[0]}", "is required")
        if projects and body["project_id"] not in projects:
            raise self.error(
                f"{key}.project_id", "a token scoped to it cannot serve the target's projects"
            )
        return IamPasswordAuth(
            domain=body["domain"],
            user=body["user"],
            password_file=self.path(body["password_file"], f"{key}.password_file"),
            project_id=body["project_id"],
        )

    def _aksk(self, body: Any, key: str) -> AkSkFileAuth | AkSkEnvAuth:
        if not isinstance(body, dict):
            raise self.error(key, "must be a mapping")
        self.reject_unknown(body, {"ak_file", "sk_file", "ak_env", "sk_env"}, f"{key}.")
        if "ak_file" in body or "sk_file" in body:
            if not {"ak_file", "sk_file"} <= set(body) or {"ak_env", "sk_env"} & set(body):
                raise self.error(key, "give ak_file and sk_file, or ak_env and sk_env")
            return AkSkFileAuth(
                self.path(body["ak_file"], f"{key}.ak_file"),
                self.path(body["sk_file"], f"{key}.sk_file"),
            )
        return self._aksk_env(
            self.string(body, "ak_env", SDK_AK_ENV, f"{key}."),
            self.string(body, "sk_env", SDK_SK_ENV, f"{key}."),
        )

    def _aksk_env(self, ak_variable: str, sk_variable: str) -> AkSkEnvAuth:
        return AkSkEnvAuth(
            ak_variable, sk_variable, self.environ.get(ak_variable), self.environ.get(sk_variable)
        )


def _default(cls: type[Any], name: str) -> Any:
    """The default a dataclass declares for one of its fields."""
    return next(spec.default for spec in dataclasses.fields(cls) if spec.name == name)


def _options(kind: Any) -> tuple[Any, ...]:
    """The types a field accepts: the members of a union, or the one type."""
    if get_origin(kind) in (Union, types.UnionType):
        return get_args(kind)
    return (kind,)


def _one_of(choices: list[str]) -> str:
    return f"{', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else choices[0]
