"""A saved reconcile plan: `reconcile --out PLAN` writes it, `--apply --plan PLAN` sends it.

One JSON document:

    {"format": 2, "fdi_drift_version": "1.4.0", "created_at": "2026-11-30T09:00:00Z",
     "targets": [{"region": "cn-north-4", "account": "prod"}],
     "resources": [{
        "resource": {"kind", "project_id", "instance_id", "name", "id"},  # as declared
        "live_id", "source", "region", "account", "status": "drifted" | "missing",
        "revision": the desired revision planned from, "declared": a digest of the declaration,
        "live_digest": of the read planned over ("" for a create), "running": bool,
        "changes": [{"pointer", "op", "live", "desired"}],  # redacted, as every report shows
        "requests": [{"action", "request": "PUT /v2/...", "covers": [...],
                      "body": the exact body, holding no secret value (below),
                      "shown": the body as plans and the audit log show it, redacted}]}],
     "checksum": "sha256:..."}

The file holds no secret value, declared or live, so that it can be reviewed and passed on. In a
body, inside JSON text too, a secret the desired state declares is its {"secretRef": "NAME/KEY"};
a value sent back unchanged as live has it, where it sits under a secret-looking key or is
masked, is a {"liveRef": POINTER}, an RFC 6901 pointer into the live document as read and decoded
(secrets.py). The plan is applied only over a fresh read with the digest planned over, so each
pointer names the very value planned; one that names nothing refuses the plan as stale. Other
values the request sends back as live has them are in the file as they are: it is written mode
0600, whole or not at all (a temporary file beside it, fsynced, renamed over it). `checksum`
covers everything else: a plan changed by hand is refused. Reading checks every field; any
problem is a DocumentError naming the file and the field. Format 1, which held live's values
under secret-looking keys in clear, is refused: its plan is made again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from fdi_drift.drift.document import MAX_DEPTH, check_depth, decode
from fdi_drift.drift.model import (
    ChangeOp,
    FieldChange,
    JSONObject,
    JSONValue,
    Kind,
    Placement,
    ReconcileResult,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.drift.secret_ref import reference_problems
from fdi_drift.errors import ConfigError, DocumentError
from fdi_drift.file_kind import kind_of
from fdi_drift.reconciler import Correction, SavedCorrection, SavedWrite
from fdi_drift.secrets import live_reference_problems
from fdi_drift.times import rfc3339

T = TypeVar("T")

FORMAT = 2
MAX_PLAN_BYTES = 64 * 1024 * 1024
_CHECKSUM = "sha256:"
_STATUSES = (Status.DRIFTED, Status.MISSING)


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """A plan as written to, or read from, a plan file."""

    version: str  # of the fdi-drift that made it
    created_at: str  # RFC 3339
    targets: tuple[Placement, ...]  # of the configuration it was made with
    corrections: tuple[SavedCorrection, ...]


def plan_of(
    corrections: Sequence[Correction],
    *,
    version: str,
    targets: Sequence[Placement],
    now: float,
) -> SavedPlan:
    """The plan of the corrections that were planned and can be saved (`Correction.saved`)."""
    saved = tuple(
        c.saved for c in corrections if c.result is ReconcileResult.PLANNED and c.saved is not None
    )
    return SavedPlan(version, rfc3339(now) or "", tuple(targets), saved)


def write_plan(path: Path, plan: SavedPlan) -> None:
    """Write the plan file whole or not at all, readable by its owner only."""
    document = _document(plan)
    document["checksum"] = _checksum(document)
    data = (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()
    directory = path.parent
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)  # 0600
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(directory)


def read_plan(path: Path) -> SavedPlan:
    """A plan file, every field checked; DocumentError naming the file and the field."""
    text = _read_bounded(path)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise DocumentError(f"{path}: not JSON: {error}") from None
    problem = _not_json(document, "", 0)
    if problem:
        raise DocumentError(f"{path}: {problem}")
    root = _Fields(path, "", document)
    found = root.get("format", int)
    if found == 1:
        raise root.error(
            "format",
            "1 is the format of an earlier fdi-drift, which held live's values under "
            "secret-looking keys in clear: make the plan again, and delete this file",
        )
    if found != FORMAT:
        raise root.error("format", f"{found} is not a plan format this fdi-drift reads ({FORMAT})")
    created_at = root.get("created_at", str)
    try:
        datetime.fromisoformat(created_at)
    except ValueError:
        raise root.error("created_at", "not an RFC 3339 time") from None
    targets = tuple(
        Placement(target.get("region", str), target.get("account", str))
        for target in root.objects("targets")
    )
    corrections = tuple(_correction(item) for item in root.objects("resources"))
    version = root.get("fdi_drift_version", str, empty=False)
    # Last, so that a field missing or malformed is named as such, not as a checksum mismatch.
    if root.get("checksum", str) != _checksum(cast(dict[str, Any], document)):
        raise root.error("checksum", "does not match the plan: it was changed after it was made")
    return SavedPlan(version, created_at, targets, corrections)


def check_plan(
    path: Path,
    plan: SavedPlan,
    *,
    version: str,
    targets: Sequence[Placement],
    placement: Callable[[str], Placement],
) -> None:
    """Refuse a plan made by another fdi-drift or for other targets than the configuration's.

    `placement` says where the configuration sends a project's requests.
    """
    if plan.version != version:
        raise DocumentError(
            f"{path}: fdi_drift_version: the plan was made by fdi-drift {plan.version}, this is "
            f"{version}; make the plan again"
        )
    if set(plan.targets) != set(targets):
        raise ConfigError(
            f"{path}: targets: the plan was made for {_labels(plan.targets)}, this configuration "
            f"has {_labels(targets)}; a plan is applied with the configuration it was made with"
        )
    for index, saved in enumerate(plan.corrections):
        status = saved.status
        serving = placement(status.key.project_id)
        if serving != Placement(status.region, status.account):
            planned = _labels([Placement(status.region, status.account)])
            raise ConfigError(
                f"{path}: resources[{index}]: planned for {planned}, but this configuration "
                f"sends project {status.key.project_id} to {_labels([serving])}"
            )


def _labels(targets: Sequence[Placement]) -> str:
    named = [f"{t.account}/{t.region}" if t.account else t.region or "no target" for t in targets]
    return ", ".join(sorted(named)) or "no targets"


def _document(plan: SavedPlan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "fdi_drift_version": plan.version,
        "created_at": plan.created_at,
        "targets": [{"region": t.region, "account": t.account} for t in plan.targets],
        "resources": [_correction_json(saved) for saved in plan.corrections],
    }


def _correction_json(saved: SavedCorrection) -> JSONObject:
    status = saved.status
    return {
        "resource": cast(JSONObject, status.key.fields()),
        "live_id": status.live_id,
        "source": status.source,
        "region": status.region,
        "account": status.account,
        "status": status.status.value,
        "revision": saved.revision,
        "declared": saved.declared,
        "live_digest": status.fingerprint,
        "running": saved.running,
        "changes": [
            {"pointer": c.pointer, "op": c.op.value, "live": c.live, "desired": c.desired}
            for c in status.changes
        ],
        "requests": [
            {
                "action": w.action,
                "request": w.line,
                "covers": list(w.covers),
                "body": w.body,
                "shown": w.shown,
            }
            for w in saved.writes
        ],
    }


def _correction(fields: _Fields) -> SavedCorrection:
    identity = fields.object("resource")
    key = ResourceKey(
        Kind(identity.get("kind", str, empty=False)),
        identity.get("project_id", str, empty=False),
        identity.get("instance_id", str),
        identity.get("name", str, empty=False),
        identity.get("id", str),
    )
    state = fields.get("status", str)
    if state not in _STATUSES:
        raise fields.error("status", f"must be one of {', '.join(_STATUSES)}")
    changes = tuple(
        FieldChange(
            change.get("pointer", str),
            _op(change),
            change.value("desired"),
            change.value("live"),
        )
        for change in fields.objects("changes")
    )
    status = ResourceStatus(
        key,
        Status(state),
        live_id=fields.get("live_id", str, empty=state == Status.MISSING),
        changes=changes,
        source=fields.get("source", str),
        fingerprint=fields.get("live_digest", str, empty=state == Status.MISSING),
        region=fields.get("region", str),
        account=fields.get("account", str),
    )
    writes = tuple(_write(request) for request in fields.objects("requests"))
    if not writes:
        raise fields.error("requests", "a correction has at least one request")
    return SavedCorrection(
        status,
        fields.get("revision", str, empty=False),
        fields.get("declared", str, empty=False),
        fields.get("running", bool),
        writes,
    )


def _op(change: _Fields) -> ChangeOp:
    op = change.get("op", str)
    try:
        return ChangeOp(op)
    except ValueError:
        raise change.error("op", f"must be one of {', '.join(ChangeOp)}") from None


def _write(request: _Fields) -> SavedWrite:
    covers = request.get("covers", list)
    if not all(isinstance(pointer, str) for pointer in covers):
        raise request.error("covers", "must be a list of JSON pointers")
    return SavedWrite(
        request.get("action", str, empty=False),
        request.get("request", str, empty=False),
        request.body("body"),
        request.body("shown"),
        tuple(covers),
    )


class _Fields:
    """One object of the plan file, read field by field; errors name the file and the field."""

    def __init__(self, path: Path, where: str, value: object) -> None:
        self._path = path
        self._where = where
        if not isinstance(value, dict):
            raise DocumentError(f"{path}: {where or 'the plan'}: must be an object")
        self._value: dict[str, Any] = value

    def error(self, name: str, message: str) -> DocumentError:
        return DocumentError(f"{self._path}: {self._field(name)}: {message}")

    def _field(self, name: str) -> str:
        return f"{self._where}.{name}" if self._where else name

    def value(self, name: str) -> JSONValue:
        if name not in self._value:
            raise self.error(name, "missing")
        return cast(JSONValue, self._value[name])

    def get(self, name: str, kind: type[T], *, empty: bool = True) -> T:
        value = self.value(name)
        # bool is an int to Python, not to a plan file.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(name, f"must be {_KIND_WORDS.get(kind, kind.__name__)}")
        if not empty and not value:
            raise self.error(name, "must not be empty")
        return value

    def object(self, name: str) -> _Fields:
        return _Fields(self._path, self._field(name), self.value(name))

    def objects(self, name: str) -> Iterator[_Fields]:
        for index, item in enumerate(self.get(name, list)):
            yield _Fields(self._path, f"{self._field(name)}[{index}]", item)

    def body(self, name: str) -> JSONValue:
        """A request body: an object or null, nested no deeper than a document may."""
        value = self.value(name)
        if value is not None and not isinstance(value, dict):
            raise self.error(name, "must be an object or null")
        try:
            check_depth(value, what="the body")
            decoded = decode(value, what="the body").value  # references inside JSON text too
        except DocumentError as error:
            raise self.error(name, str(error)) from None
        problems = [*reference_problems(decoded, ""), *live_reference_problems(decoded, "")]
        for pointer, message in problems:
            raise self.error(name, f"{pointer}: {message}")
        return value


_KIND_WORDS: dict[type, str] = {
    str: "a string",
    int: "a whole number",
    bool: "true or false",
    list: "a list",
}


def _not_json(value: object, where: str, depth: int) -> str:
    """Where and why a parsed value is not JSON: NaN and infinities parse, JSON has none."""
    if depth > MAX_DEPTH + 8:  # a body may nest MAX_DEPTH deep, under the plan's own levels
        return f"{where}: nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where}: {value} is not JSON"
    if isinstance(value, dict):
        items: Iterator[tuple[str, object]] = (
            (f"{where}.{key}" if where else key, item) for key, item in value.items()
        )
    elif isinstance(value, list):
        items = ((f"{where}[{index}]", item) for index, item in enumerate(value))
    else:
        return ""
    return next((p for p in (_not_json(v, w, depth + 1) for w, v in items) if p), "")


def _checksum(document: dict[str, Any]) -> str:
    rest = {key: value for key, value in document.items() if key != "checksum"}
    try:
        text = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError):
        return ""  # NaN or too deep: the field checks that follow say where
    return _CHECKSUM + hashlib.sha256(text.encode()).hexdigest()


def _read_bounded(path: Path) -> str:
    """The file's text: a regular file of at most MAX_PLAN_BYTES, in UTF-8; never blocks."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise DocumentError(f"{path}: cannot be read: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise DocumentError(f"{path}: is {kind_of(mode)}, not a regular file")
        data = file.read(MAX_PLAN_BYTES + 1)
    if len(data) > MAX_PLAN_BYTES:
        raise DocumentError(f"{path}: larger than {MAX_PLAN_BYTES // 2**20} MiB: not a plan")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path}: not UTF-8 text: {error.reason}") from None


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
