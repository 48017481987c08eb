"""Every exception fdi-drift raises on purpose, in one tree.

    FdiDriftError
    ├── ConfigError                 the daemon configuration is unusable (names file and key)
    │   └── UnservedProjectError    no configured target serves a resource's project
    ├── DesiredStateError           a desired-state tree is invalid (carries every problem)
    ├── DocumentError               a document is not the JSON it should be (names what, where)
    │   ├── UnfaithfulEditError     (drift/json_text.py) an edit that would touch other literals
    │   └── YAMLEditError           (yaml_edit.py) a desired file that cannot be edited faithfully
    ├── InvalidIdentifierError      an id failed the allowlist before it could enter a URL path
    ├── SecretError                 a secretRef cannot be resolved (names it, never its value)
    ├── InvalidWriteError           a write the service would refuse; nothing was sent
    ├── AuditError                  the audit log cannot be read or written, so nothing is sent
    ├── AdoptError                  (adopt.py) nothing adopted: what stood in the way, per problem
    │   └── GitError                the commit failed: the git command and git's message
    └── CloudError                  a cloud API call failed; carries the request, never secrets
        ├── TransportError          connection failure or timeout, after retries
        │   └── OutcomeUnknownError a write failed after it may have been processed; not retried
        ├── AuthError               credentials missing, unreadable or rejected (401/403, IAM login)
        ├── MalformedResponseError  the answer is not the documented JSON shape
        └── ApiError                the service answered an error status; .status, .error_code
            ├── NotFoundError       404
            ├── ThrottledError      429, after retries
            └── ServerError         5xx, after retries

Beside the tree, history.py's HistoryError never leaves the store: a store that fails is
reported and pauses history, never a command or a cycle.

Nothing here imports anything else of ours, and no message may carry a credential: callers
format messages from request method, path and the service's own error code and text.
`account()` says what any exception may show in a status, a log or the audit log.
"""

from __future__ import annotations

import traceback


def account(error: BaseException) -> str:
    """What a failure may show: our own errors in full, any other by its type and place only.

    Our errors are written to be safe to show. Anything else is a bug or a hostile input whose
    message may quote the document it choked on (and a secret with it).
    """
    if isinstance(error, FdiDriftError):
        return str(error)
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"internal error {type(error).__name__}{where}"


class FdiDriftError(Exception):
    """Root of every error fdi-drift raises on purpose."""


class ConfigError(FdiDriftError):
    """The daemon configuration is unusable."""


class UnservedProjectError(ConfigError):
    """No configured target serves a resource's project."""


class DesiredStateError(FdiDriftError):
    """A desired-state tree failed validation; `problems` holds each finding as text."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class DocumentError(FdiDriftError):
    """A document is not the JSON it should be."""


class InvalidIdentifierError(FdiDriftError):
    """An id failed the allowlist, so no request was made with it."""


class SecretError(FdiDriftError):
    """A secret reference cannot be resolved."""


class InvalidWriteError(FdiDriftError):
    """A planned write breaks the service's field rules, so it was not sent."""


class AuditError(FdiDriftError):
    """The audit log cannot be read or written; without it, no write may happen."""


class CloudError(FdiDriftError):
    """Talking to a cloud API failed.

    `request` is "METHOD /path" (no query, no host, no headers), safe to log. `request_id` is
    the gateway's X-Request-Id of the answer, when there was one: what a support ticket needs,
    so the message ends with it.
    """

    def __init__(self, message: str, *, request: str = "", request_id: str = "") -> None:
        text = f"{request}: {message}" if request else message
        super().__init__(f"{text} (request id {request_id})" if request_id else text)
        self.request = request
        self.request_id = request_id


class TransportError(CloudError):
    """The request could not be completed: connection failure or timeout, after retries."""


class OutcomeUnknownError(TransportError):
    """A request with side effects failed in a way that leaves open whether it was processed.

    A timeout, a reset or a 5xx after the request was sent: retrying blindly could apply it
    twice (a second create), so it is not retried; the caller reads back to learn the outcome.
    """


class AuthError(CloudError):
    """Credentials are missing, unreadable or were rejected."""


class MalformedResponseError(CloudError):
    """The service answered, but not with the documented JSON shape."""


class ApiError(CloudError):
    """The service answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        request: str = "",
        request_id: str = "",
        status: int,
        error_code: str = "",
        error_msg: str = "",
    ) -> None:
        super().__init__(message, request=request, request_id=request_id)
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg


class NotFoundError(ApiError):
    """The service answered 404."""


class ThrottledError(ApiError):
    """The service kept answering 429 after every retry."""


class ServerError(ApiError):
    """The service kept answering 5xx after every retry."""
