"""IAM for the emulator: password login for project-scoped tokens, and the token check on API calls.

`POST /v3/auth/tokens` takes the password method body of API_NOTES.md. The emulator's choices:
users are matched on domain name, user name and password together; the scope must be
`scope.project.id` (scoping by project name or domain is refused with 400); a token is
`MII` + random URL-safe text; expired tokens are forgotten at the next login. Static tokens
from the configuration are valid for every project and never expire.

The 201 answer is a TokenResult (the SDK's KeystoneCreateUserTokenByPasswordResponse):
`expires_at`, `issued_at`, `methods`, `user` {`id`, `name`, `domain` {`id`, `name`},
`password_expires_at` ""} and `project` {`id`, `domain` {`id`, `name`}}, the project taken to
belong to the user's account. The ids of user and domain are invented (the first 32 hex
characters of the SHA-256 of the domain and user names), the same at every login. What the
emulator cannot know is left out: the project's name (its region), `roles` and `catalog`.

On API calls a missing, unknown or expired `X-Auth-Token` answers 401 `APIG.1002`; an IAM
token scoped to another project than the path's answers 403 `APIG.1005`. An accepted token
acts as a Caller (what CTS records as the trace's user): the user who logged in, or for a
static token the user configured for it, by default `token-user` in domain `emulator`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from fdi_drift.emulator.replies import ErrorCode, Reply, json_reply, service_error

_REJECTED = "Incorrect token or token resolution failed"


@dataclass(frozen=True, slots=True)
class IamUser:
    """An account that may log in; the password never shows in `repr`."""

    domain: str
    name: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Caller:
    """The user a request acts as, named as CTS names a trace's user; the ids are invented.

    Raises ValueError for an empty domain or name, or a domain holding `/`.
    """

    domain: str
    name: str

    def __post_init__(self) -> None:
        if not self.domain or not self.name or "/" in self.domain:
            raise ValueError("a user must be DOMAIN/NAME, both non-empty")

    @classmethod
    def parse(cls, text: str) -> Caller:
        """`DOMAIN/NAME` (the name may hold `/`); ValueError otherwise."""
        domain, slash, name = text.partition("/")
        if not slash:
            raise ValueError("a user must be DOMAIN/NAME, both non-empty")
        return cls(domain, name)

    @property
    def user_id(self) -> str:
        """The user's id, as a login by this user answers it."""
        return invented_id("user", self.domain, self.name)

    @property
    def domain_id(self) -> str:
        """The account's id, as a login by this user answers it."""
        return invented_id("domain", self.domain)

    def __str__(self) -> str:
        return f"{self.domain}/{self.name}"


TOKEN_USER = Caller("emulator", "token-user")  # who a static token acts as, unless configured


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What the emulator remembers about a token it issued (never the password)."""

    project_id: str
    user: str
    domain: str
    issued_at: float
    expires_at: float


class _BadLogin(ValueError):
    """The login body is not the documented shape."""


class TokenAuthority:
    """Issues tokens to known users and decides whether a token may call a project's API."""

    def __init__(
        self,
        *,
        users: Iterable[IamUser],
        static_tokens: Iterable[str],
        ttl_seconds: float,
        clock: Callable[[], float],
        token_users: Mapping[str, Caller] | None = None,
    ) -> None:
        self._users = tuple(users)
        self._static = tuple(static_tokens)
        self._token_users = dict(token_users or {})
        self._ttl = ttl_seconds
        self._clock = clock
        self._issued: dict[str, IssuedToken] = {}

    def login(self, body: bytes) -> Reply:
        """Answer `POST /v3/auth/tokens`: 201 with `X-Subject-Token`, 400 or 401."""
        try:
            domain, name, password, project_id = _credentials(body)
        except _BadLogin as exc:
            return _iam_error(400, "Bad Request", f"The request body is invalid: {exc}")
        if not any(_same_user(user, domain, name, password) for user in self._users):
            return _iam_error(401, "Unauthorized", "The username or password is wrong.")
        now = self._clock()
        self._issued = {k: v for k, v in self._issued.items() if v.expires_at > now}
        token = "MII" + secrets.token_urlsafe(96)
        issued = IssuedToken(project_id, name, domain, now, now + self._ttl)
        self._issued[token] = issued
        account = {"id": invented_id("domain", domain), "name": domain}
        answer = {
            "token": {
                "expires_at": _iso(issued.expires_at),
                "issued_at": _iso(issued.issued_at),
                "methods": ["password"],
                "project": {"id": project_id, "domain": account},
                "user": {
                    "id": invented_id("user", domain, name),
                    "name": name,
                    "domain": account,
                    "password_expires_at": "",
                },
            }
        }
        return json_reply(201, answer, (("x-subject-token", token),))

    def authorize(self, token: str | None, project_id: str) -> Caller | Reply:
        """Who `token` acts as when it may call `project_id`'s API, otherwise the 401 or 403."""
        if not token:
            return service_error(401, ErrorCode.UNAUTHORIZED, _REJECTED)
        static = next((known for known in self._static if hmac.compare_digest(token, known)), None)
        if static is not None:
            return self._token_users.get(static, TOKEN_USER)
        issued = self._issued.get(token)
        if issued is None:
            return service_error(401, ErrorCode.UNAUTHORIZED, _REJECTED)
        if self._clock() >= issued.expires_at:
            return service_error(401, ErrorCode.UNAUTHORIZED, f"{_REJECTED}: the token has expired")
        if issued.project_id != project_id:
            return service_error(
                403,
                ErrorCode.FORBIDDEN,
                "No permissions to request this method: the token is scoped to another project",
            )
        return Caller(issued.domain, issued.user)


def _credentials(body: bytes) -> tuple[str, str, str, str]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _BadLogin("not JSON") from exc
    identity = _object(document, "auth", "identity")
    methods = identity.get("methods")
    if not isinstance(methods, list) or "password" not in methods:
        raise _BadLogin("auth.identity.methods must include password")
    user = _object(identity, "password", "user")
    name = _text(user, "name", "auth.identity.password.user.name")
    password = _text(user, "password", "auth.identity.password.user.password")
    domain = _text(_object(user, "domain"), "name", "auth.identity.password.user.domain.name")
    project_id = _text(_object(document, "auth", "scope", "project"), "id", "auth.scope.project.id")
    if len(project_id) > 64:
        raise _BadLogin("auth.scope.project.id has more than 64 characters")
    return domain, name, password, project_id


def _object(value: object, *keys: str) -> dict[str, object]:
    path = ""
    for key in keys:
        path = f"{path}.{key}" if path else key
        value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, dict):
            raise _BadLogin(f"{path} must be an object")
    assert isinstance(value, dict)
    return value


def _text(container: dict[str, object], key: str, name: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise _BadLogin(f"{name} must be a non-empty string")
    return value


def _same_user(user: IamUser, domain: str, name: str, password: str) -> bool:
    # Compare every part, so timing does not tell which one was wrong.
    results = [
        hmac.compare_digest(user.domain.encode(), domain.encode()),
        hmac.compare_digest(user.name.encode(), name.encode()),
        hmac.compare_digest(user.password.encode(), password.encode()),
    ]
    return all(results)


def invented_id(*names: str) -> str:
    """An id made up from names: the first 32 hex characters of their SHA-256."""
    return hashlib.sha256("/".join(names).encode()).hexdigest()[:32]


def _iam_error(code: int, title: str, message: str) -> Reply:
    return json_reply(code, {"error": {"code": code, "message": message, "title": title}})


def _iso(epoch_seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch_seconds, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
