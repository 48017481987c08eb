"""The daemon configuration: one YAML file plus the environment, read once, immutable.

Every key has a default. `${NAME}` and `${NAME:-default}` in string values expand from the
environment; an unset variable without a default is an error naming the key. Unknown keys are
errors too (a typo must not silently fall back to a default). Relative paths are relative to the
configuration file. This is the only module that reads `os.environ`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fdi_drift.drift.model import ReconcileMode, RunningPolicy
from fdi_drift.errors import ConfigError
from fdi_drift.secrets import SECRET_ENV_PREFIX

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_AUTH_MODES = ("token_file", "token_env", "iam_password", "aksk")
_AKSK_KEYS = frozenset({"ak_file", "sk_file", "ak_env", "sk_env"})
_RECONCILE_KEYS = frozenset(
    {
        "mode",
        "suspended",
        "max_writes_per_cycle",
        "windows",
        "running",
        "backoff_base_seconds",
        "backoff_max_seconds",
    }
)
DEFAULT_TOKEN_ENV = "FDI_DRIFT_TOKEN"  # noqa: S105 - a variable name
# The official SDKs' own variables, so an environment set up for them works unchanged.
SDK_AK_ENV, SDK_SK_ENV = "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs of the three services."""

    fdi: str
    drs: str
    iam: str


@dataclass(frozen=True, slots=True)
class TokenFileAuth:
    """An IAM token in a file (a mounted Kubernetes Secret), re-read when it changes."""

    path: Path

    def describe(self) -> str:
        return f"token file {self.path}"


@dataclass(frozen=True, slots=True)
class TokenEnvAuth:
    """An IAM token in an environment variable; `value` is None when the variable is unset."""

    variable: str
    value: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"token from environment variable {self.variable}"


@dataclass(frozen=True, slots=True)
class IamPasswordAuth:
    """IAM password login scoped to a project; the password is read from a file at each login."""

    domain: str
    user: str
    password_file: Path
    project_id: str

    def describe(self) -> str:
        return f"IAM password login for {self.domain}/{self.user}"


@dataclass(frozen=True, slots=True)
class AkSkFileAuth:
    """An access key pair in two files (a mounted Secret), re-read when they change."""

    ak_file: Path
    sk_file: Path

    def describe(self) -> str:
        return f"AK/SK from files {self.ak_file} and {self.sk_file}"


@dataclass(frozen=True, slots=True)
class AkSkEnvAuth:
    """An access key pair in environment variables; values are None when unset."""

    ak_variable: str
    sk_variable: str
    ak: str | None = field(default=None, repr=False)
    sk: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"AK/SK from environment variables {self.ak_variable} and {self.sk_variable}"


AuthSettings = TokenFileAuth | TokenEnvAuth | IamPasswordAuth | AkSkFileAuth | AkSkEnvAuth


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """Global reconcile policy."""

    mode: ReconcileMode = ReconcileMode.OBSERVE
    suspended: bool = False  # the big red switch: no writes at all, whatever else says
    max_writes_per_cycle: int = 5
    windows: tuple[str, ...] = ()  # cron expressions (UTC); writes only in a matching minute
    running: RunningPolicy = RunningPolicy.SKIP
    backoff_base_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the daemon is configured with."""

    desired_state: Path
    endpoints: Endpoints
    auth: AuthSettings
    region: str = "cn-north-4"
    interval_seconds: float = 60.0
    jitter_seconds: float = 5.0
    full_sweep_every: int = 10
    reload_seconds: float = 15.0
    concurrency: int = 16
    rate_limit_per_second: float = 20.0
    request_timeout_seconds: float = 10.0  # one attempt, whole exchange
    max_response_bytes: int = 64 * 1024 * 1024
    cycle_timeout_seconds: float | None = None  # None: three intervals
    shutdown_grace_seconds: float = 20.0  # below the pod's terminationGracePeriodSeconds
    desired_state_max_file_bytes: int = 1_048_576
    retry_attempts: int = 4
    retry_base_delay_seconds: float = 0.5
    ca_bundle: Path | None = None
    reconcile: ReconcileSettings = ReconcileSettings()
    audit_log: Path = Path("fdi-drift-audit.jsonl")
    secrets_dir: Path | None = None
    secret_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    listen_host: str = "0.0.0.0"  # noqa: S104 - a daemon in a pod listens on all interfaces
    listen_port: int = 9108
    log_level: str = "INFO"

    @property
    def cycle_deadline_seconds(self) -> float:
        """How long one cycle may run before unfinished reads are cancelled."""
        if self.cycle_timeout_seconds is not None:
            return self.cycle_timeout_seconds
        return 3 * self.interval_seconds


_TOP_KEYS = frozenset(
    {
        "desired_state",
        "region",
        "endpoints",
        "auth",
        "interval_seconds",
        "jitter_seconds",
        "full_sweep_every",
        "reload_seconds",
        "concurrency",
        "rate_limit_per_second",
        "request_timeout_seconds",
        "max_response_bytes",
        "cycle_timeout_seconds",
        "shutdown_grace_seconds",
        "desired_state_max_file_bytes",
        "retry_attempts",
        "retry_base_delay_seconds",
        "ca_bundle",
        "reconcile",
        "audit_log",
        "secrets_dir",
        "listen",
        "log_level",
    }
)


def default_endpoints(region: str) -> Endpoints:
    """The public endpoints of a region."""
    return Endpoints(
        fdi=f"https://roma.{region}.myhuaweicloud.com",
        drs=f"https://drs.{region}.myhuaweicloud.com",
        iam=f"https://iam.{region}.myhuaweicloud.com",
    )


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, expand and validate a configuration file."""
    env = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return settings_from_mapping(raw, base_dir=path.parent, environ=env, source=str(path))


def settings_from_mapping(
    raw: Mapping[str, Any],
    *,
    base_dir: Path,
    environ: Mapping[str, str],
    source: str = "configuration",
) -> Settings:
    """Validate an already-parsed configuration mapping."""
    reader = _Reader(source, base_dir, environ)
    data = reader.expand(raw, "")
    reader.reject_unknown(data, _TOP_KEYS, "")
    region = reader.string(data, "region", "cn-north-4")
    endpoints_raw = reader.mapping(data, "endpoints")
    reader.reject_unknown(endpoints_raw, frozenset({"fdi", "drs", "iam"}), "endpoints.")
    defaults = default_endpoints(region)
    endpoints = Endpoints(
        fdi=reader.url(endpoints_raw, "fdi", defaults.fdi, "endpoints."),
        drs=reader.url(endpoints_raw, "drs", defaults.drs, "endpoints."),
        iam=reader.url(endpoints_raw, "iam", defaults.iam, "endpoints."),
    )
    host, port = reader.listen(data)
    reconcile_raw = reader.mapping(data, "reconcile")
    reader.reject_unknown(reconcile_raw, _RECONCILE_KEYS, "reconcile.")
    mode_text = reader.string(reconcile_raw, "mode", "observe", "reconcile.")
    try:
        mode = ReconcileMode(mode_text)
    except ValueError:
        raise reader.error("reconcile.mode", "must be observe, dry-run or auto") from None
    windows = reconcile_raw.get("windows", [])
    if not isinstance(windows, list) or not all(isinstance(w, str) for w in windows):
        raise reader.error("reconcile.windows", "must be a list of cron expressions")
    try:
        running = RunningPolicy(reconcile_raw.get("running", "skip"))
    except ValueError:
        raise reader.error("reconcile.running", "must be skip or stop-update-start") from None
    suspended = reconcile_raw.get("suspended", False)
    if not isinstance(suspended, bool):
        raise reader.error("reconcile.suspended", "must be true or false")
    secrets_dir = data.get("secrets_dir")
    log_level = reader.string(data, "log_level", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise reader.error("log_level", "must be DEBUG, INFO, WARNING or ERROR")
    ca_bundle = data.get("ca_bundle")
    cycle_timeout = data.get("cycle_timeout_seconds")
    return Settings(
        desired_state=reader.path(data.get("desired_state", "./desired_state"), "desired_state"),
        region=region,
        endpoints=endpoints,
        auth=reader.auth(data.get("auth")),
        interval_seconds=reader.number(data, "interval_seconds", 60.0, minimum=1.0),
        jitter_seconds=reader.number(data, "jitter_seconds", 5.0, minimum=0.0),
        full_sweep_every=int(reader.number(data, "full_sweep_every", 10, minimum=1)),
        reload_seconds=reader.number(data, "reload_seconds", 15.0, minimum=1.0),
        concurrency=int(reader.number(data, "concurrency", 16, minimum=1)),
        rate_limit_per_second=reader.number(data, "rate_limit_per_second", 20.0, minimum=0.1),
        request_timeout_seconds=reader.number(data, "request_timeout_seconds", 10.0, minimum=0.1),
        max_response_bytes=int(
            reader.number(data, "max_response_bytes", 64 * 1024 * 1024, minimum=65536)
        ),
        cycle_timeout_seconds=None
        if cycle_timeout is None
        else reader.number(data, "cycle_timeout_seconds", 0.0, minimum=1.0),
        shutdown_grace_seconds=reader.number(data, "shutdown_grace_seconds", 20.0, minimum=0.0),
        desired_state_max_file_bytes=int(
            reader.number(data, "desired_state_max_file_bytes", 1_048_576, minimum=1024)
        ),
        retry_attempts=int(reader.number(data, "retry_attempts", 4, minimum=1)),
        retry_base_delay_seconds=reader.number(data, "retry_base_delay_seconds", 0.5, minimum=0.0),
        ca_bundle=None if ca_bundle is None else reader.path(ca_bundle, "ca_bundle"),
        reconcile=ReconcileSettings(
            mode=mode,
            suspended=suspended,
            running=running,
            backoff_base_seconds=reader.number(
                reconcile_raw, "backoff_base_seconds", 60.0, minimum=0.0, prefix="reconcile."
            ),
            backoff_max_seconds=reader.number(
                reconcile_raw, "backoff_max_seconds", 3600.0, minimum=0.0, prefix="reconcile."
            ),
            max_writes_per_cycle=int(
                reader.number(
                    reconcile_raw, "max_writes_per_cycle", 5, minimum=0, prefix="reconcile."
                )
            ),
            windows=tuple(windows),
        ),
        audit_log=reader.path(data.get("audit_log", "fdi-drift-audit.jsonl"), "audit_log"),
        secrets_dir=None if secrets_dir is None else reader.path(secrets_dir, "secrets_dir"),
        secret_env={k: v for k, v in environ.items() if k.startswith(SECRET_ENV_PREFIX)},
        listen_host=host,
        listen_port=port,
        log_level=log_level,
    )


@dataclass(frozen=True, slots=True)
class _Reader:
    """Typed access to the raw mapping with errors that name the source and key."""

    source: str
    base_dir: Path
    environ: Mapping[str, str]

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {message}")

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

    def reject_unknown(self, data: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise self.error(
                prefix + unknown[0], f"unknown key (known: {', '.join(sorted(known))})"
            )

    def mapping(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise self.error(key, "must be a mapping")
        return value

    def string(self, data: Mapping[str, Any], key: str, default: str, prefix: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(prefix + key, "must be a non-empty string")
        return value

    def url(self, data: Mapping[str, Any], key: str, default: str, prefix: str) -> str:
        value = self.string(data, key, default, prefix)
        if not value.startswith(("https://", "http://")):
            raise self.error(prefix + key, "must be an http(s) URL")
        return value.rstrip("/")

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        default: float,
        *,
        minimum: float,
        prefix: str = "",
    ) -> float:
        value = data.get(key, default)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.error(prefix + key, f"must be a number, not {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(prefix + key, "must be a number")
        if value < minimum:
            raise self.error(prefix + key, f"must be at least {minimum:g}")
        return float(value)

    def path(self, value: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a path")
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    def listen(self, data: Mapping[str, Any]) -> tuple[str, int]:
        text = self.string(data, "listen", "0.0.0.0:9108")
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise self.error("listen", f"must be HOST:PORT, not {text!r}")
        return host.strip("[]"), int(port)

    def auth(self, value: Any) -> AuthSettings:
        if value is None:
            # No auth configured: the SDKs' AK/SK variables if both are set, else a token.
            if self.environ.get(SDK_AK_ENV) and self.environ.get(SDK_SK_ENV):
                return self._aksk_env(SDK_AK_ENV, SDK_SK_ENV)
            return TokenEnvAuth(DEFAULT_TOKEN_ENV, self.environ.get(DEFAULT_TOKEN_ENV))
        if not isinstance(value, dict) or len(value) != 1:
            raise self.error("auth", f"must hold exactly one of {', '.join(_AUTH_MODES)}")
        ((mode, body),) = value.items()
        if mode == "token_file":
            return TokenFileAuth(self.path(body, "auth.token_file"))
        if mode == "token_env":
            if not isinstance(body, str) or not body:
                raise self.error("auth.token_env", "must name an environment variable")
            return TokenEnvAuth(body, self.environ.get(body))
        if mode == "iam_password":
            if not isinstance(body, dict):
                raise self.error("auth.iam_password", "must be a mapping")
            known = frozenset({"domain", "user", "password_file", "project_id"})
            self.reject_unknown(body, known, "auth.iam_password.")
            missing = sorted(k for k in known if not isinstance(body.get(k), str) or not body[k])
            if missing:
                raise self.error(f"auth.iam_password.{missing[0]}", "is required")
            return IamPasswordAuth(
                domain=body["domain"],
                user=body["user"],
                password_file=self.path(body["password_file"], "auth.iam_password.password_file"),
                project_id=body["project_id"],
            )
        if mode == "aksk":
            if not isinstance(body, dict):
                raise self.error("auth.aksk", "must be a mapping")
            self.reject_unknown(body, _AKSK_KEYS, "auth.aksk.")
            if "ak_file" in body or "sk_file" in body:
                if not {"ak_file", "sk_file"} <= set(body) or {"ak_env", "sk_env"} & set(body):
                    raise self.error("auth.aksk", "give ak_file and sk_file, or ak_env and sk_env")
                return AkSkFileAuth(
                    self.path(body["ak_file"], "auth.aksk.ak_file"),
                    self.path(body["sk_file"], "auth.aksk.sk_file"),
                )
            return self._aksk_env(
                self.string(body, "ak_env", SDK_AK_ENV, "auth.aksk."),
                self.string(body, "sk_env", SDK_SK_ENV, "auth.aksk."),
            )
        raise self.error(f"auth.{mode}", f"unknown mode ({', '.join(_AUTH_MODES)})")

    def _aksk_env(self, ak_variable: str, sk_variable: str) -> AkSkEnvAuth:
        return AkSkEnvAuth(
            ak_variable, sk_variable, self.environ.get(ak_variable), self.environ.get(sk_variable)
        )
