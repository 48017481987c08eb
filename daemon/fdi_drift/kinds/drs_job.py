"""DrsJob: a DRS v5 replication job, read in detail and corrected by typed updates (seed 001).

Desired state is a subset of the detail answer: `base_info` (name, description, expired_days,
tags), `alarm_notify`, `speed_limit`, `policy_config`, `db_object`, `tuning_params`,
`source_endpoint`, `target_endpoint`. One update changes one aspect, so a correction is the
smallest sequence of typed PUTs, one per differing aspect, in an order that changes
housekeeping first, throttles before widening what is replicated, and touches connections last;
each is verified by a read-back before the next is sent. Passwords come back masked and are
never drift; changing an endpoint needs its password from a secretRef.

Tuning parameters are read as lists but declared, compared, shown and exported as maps
(drs_tuning.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from fdi_drift.cloud.cts import DRS_JOB_RESOURCE_TYPE, DRS_SERVICE_TYPE
from fdi_drift.cloud.drs import SERVICE, DrsClient, job_path
from fdi_drift.drift.document import DecodedDocument, canonical_bytes, check_depth, is_masked
from fdi_drift.drift.ignore import IgnoreRules
from fdi_drift.drift.model import JSONObject, JSONValue, Kind
from fdi_drift.drift.overlay import Resolve, overlay_keeping_secrets
from fdi_drift.drift.redaction import redact
from fdi_drift.errors import InvalidWriteError
from fdi_drift.kinds.contract import (
    Connections,
    LiveDocument,
    LiveEntry,
    Registration,
    Scope,
    SpecProblem,
    Write,
    lay,
)
from fdi_drift.kinds.drs_tuning import comparable, read_tuning, tuning_problems, tuning_write

KIND = Kind("DrsJob")
JOB_NAME = re.compile(r"[A-Za-z0-9_-]{4,50}")
FORBIDDEN_IN_DESCRIPTION = frozenset("!<>'&\"\\")
_HOUR_MINUTE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
BASE_INFO_FIELDS = ("name", "description", "expired_days", "tags")
ASPECTS = (
    "base_info",
    "alarm_notify",
    "speed_limit",
    "policy_config",
    "db_object",
    "tuning_params",
    "source_endpoint",
    "target_endpoint",
)
# (update type, the detail's aspect, the base_info field for the base_info types), in order.
_UPDATES = (
    ("name", "base_info", "name"),
    ("description", "base_info", "description"),
    ("expired_days", "base_info", "expired_days"),
    ("notify", "alarm_notify", ""),
    ("speed_limit", "speed_limit", ""),
    ("policy", "policy_config", ""),
    ("tuning_param", "tuning_params", ""),
    ("db_object", "db_object", ""),
)


class DrsJobSpec:
    """Offline rules of the DrsJob kind."""

    kind: Kind = KIND
    needs_instance: bool = False
    default_ignore: tuple[str, ...] = ()
    can_create: bool = False
    write_options: tuple[str, ...] = ()

    def validate(self, name: str, spec: JSONObject) -> list[SpecProblem]:
        problems = [SpecProblem(f"/spec{p}", m) for p, m in job_problems(name, spec)]
        if not JOB_NAME.fullmatch(name):
            problems.append(
                SpecProblem("/metadata/name", "a job name is 4-50 letters, digits, '-' or '_'")
            )
        return problems

    def desired_document(self, name: str, spec: JSONObject) -> JSONObject:
        document = dict(spec)
        base = dict(cast(JSONObject, document.get("base_info", {})))
        base["name"] = name
        if isinstance(base.get("expired_days"), int):  # the API speaks strings: "14"
            base["expired_days"] = str(base["expired_days"])
        document["base_info"] = base
        tuning = document.get("tuning_params")
        if isinstance(tuning, dict):  # the API speaks strings: apply_threads "32"
            document["tuning_params"] = {
                group: {name: _text(value) for name, value in params.items()}
                if isinstance(params, dict)
                else params
                for group, params in tuning.items()
            }
        if isinstance(document.get("speed_limit"), list):
            document["speed_limit"] = [
                {**item, "speed": str(item["speed"])}
                if isinstance(item, dict) and isinstance(item.get("speed"), int)
                else item
                for item in cast(list[JSONValue], document["speed_limit"])
            ]
        return document

    def normalize_live(self, document: JSONValue) -> JSONValue:
        if not isinstance(document, dict):
            return document
        return comparable(document)[0]

    def export_spec(self, document: JSONValue) -> JSONObject:
        job = cast(JSONObject, document)
        tuning = read_tuning(job.get("tuning_params"))
        spec: JSONObject = {}
        base = cast(JSONObject, job.get("base_info", {}))
        spec_base = {
            k: base[k]
            for k in ("description", "expired_days", "tags")
            if base.get(k) not in (None, "", [])
        }
        if spec_base:
            spec["base_info"] = spec_base
        for aspect in ASPECTS[1:]:
            if aspect == "tuning_params":
                # Only what the job may change: an unavailable parameter is not desired state.
                writable = {
                    group: {n: v for n, v in params.items() if (group, n) not in tuning.unavailable}
                    for group, params in tuning.values.items()
                }
                if any(writable.values()):
                    spec[aspect] = cast(JSONObject, {g: p for g, p in writable.items() if p})
            elif job.get(aspect) not in (None, [], {}):
                spec[aspect] = job[aspect]
        return spec

    def plan(
        self,
        desired: JSONObject,
        live: DecodedDocument | None,
        ignore: IgnoreRules,
        resolve: Resolve,
        options: Mapping[str, JSONValue],
    ) -> list[Write]:
        if live is None:
            raise InvalidWriteError("DrsJob cannot be created here: create jobs with DRS itself")
        have, tuning = comparable(cast(JSONObject, live.value))
        # What differs, secrets left unknowable; they are resolved only for the aspects sent.
        probe = cast(JSONObject, overlay_keeping_secrets(have, desired, ignore))
        writes: list[Write] = []
        for update_type, aspect, field in _UPDATES:
            if aspect not in desired:
                continue
            if field:
                declared = cast(JSONObject, desired["base_info"])
                value = cast(JSONObject, probe["base_info"]).get(field)
                live_value = cast(JSONObject, have.get("base_info", {})).get(field)
                if field not in declared or _same(value, live_value):
                    continue
                # Taken from the probe, which resolves no secret (a declared one keeps live's
                # value, so it never differs): the body holds nothing that must not be shown.
                params: JSONObject = {"base_info": {field: value}}
                covers = (f"/base_info/{field}",)
                writes.append(Write(update_type, params, params, covers, params))
            elif aspect == "tuning_params":
                tuned = tuning_write(cast(JSONObject, probe[aspect]), tuning)
                if tuned is not None:
                    writes.append(tuned)
            elif not _same(probe.get(aspect), have.get(aspect)):
                writes.append(
                    _aspects_write(update_type, (aspect,), have, desired, ignore, resolve)
                )
        endpoints = tuple(
            a
            for a in ("source_endpoint", "target_endpoint")
            if a in desired and not _same(probe.get(a), have.get(a))
        )
        if endpoints:
            writes.append(_aspects_write("endpoint", endpoints, have, desired, ignore, resolve))
        problems: list[str] = []
        for write in writes:
            problems.extend(_params_problems(write.action, cast(JSONObject, write.body)))
        if problems:
            raise InvalidWriteError("; ".join(problems))
        return writes

    def unwritable(self, pointers: Sequence[str]) -> list[str]:
        return [p for p in pointers if p.startswith("/base_info/tags")]

    def is_running(self, live: JSONValue) -> bool:
        return False  # typed updates are accepted while a job replicates

    def restart(self) -> tuple[Write, Write] | None:
        return None


def _aspects_write(
    update_type: str,
    aspects: tuple[str, ...],
    have: JSONObject,
    desired: JSONObject,
    ignore: IgnoreRules,
    resolve: Resolve,
) -> Write:
    """One typed update carrying whole aspects, desired laid over live, secrets resolved."""
    laid = lay(have, {a: desired[a] for a in aspects}, ignore, resolve)
    sent, shown = cast(JSONObject, laid.sent), cast(JSONObject, laid.shown)
    referenced = cast(JSONObject, laid.referenced)
    return Write(
        update_type,
        {a: sent[a] for a in aspects},
        # Resolved secrets are hidden by the overlay; live's own values under secret-looking
        # keys (an aspect is sent whole, undeclared fields included) are hidden by name.
        redact({a: shown[a] for a in aspects}),
        tuple(f"/{a}" for a in aspects),
        {a: referenced[a] for a in aspects},
    )


def _text(value: JSONValue) -> JSONValue:
    """A YAML integer as the string the API speaks; anything else as it is."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _same(left: JSONValue, right: JSONValue) -> bool:
    return canonical_bytes(left) == canonical_bytes(right)


def job_problems(name: str, spec: JSONObject) -> list[tuple[str, str]]:
    """Seed 001's field rules for a declared job (pointers relative to the spec)."""
    found: list[tuple[str, str]] = []
    for key in spec:
        if key not in ASPECTS:
            found.append((f"/{key}", f"not desired state of a job (known: {', '.join(ASPECTS)})"))
    base = spec.get("base_info", {})
    if not isinstance(base, dict):
        return [*found, ("/base_info", "must be a mapping")]
    for key in base:
        if key not in BASE_INFO_FIELDS:
            found.append(
                (f"/base_info/{key}", f"not writable (writable: {', '.join(BASE_INFO_FIELDS)})")
            )
    if "name" in base and base["name"] != name:
        found.append(("/base_info/name", "must equal metadata.name (or be left out)"))
    found.extend(_base_problems(base))
    if "speed_limit" in spec:
        found.extend(_speed_problems(spec["speed_limit"]))
    if "tuning_params" in spec:
        found.extend(tuning_problems(spec["tuning_params"]))
    for aspect in ("alarm_notify", "policy_config", "db_object"):
        if aspect in spec and not isinstance(spec[aspect], dict):
            found.append((f"/{aspect}", "must be a mapping"))
    for aspect in ("source_endpoint", "target_endpoint"):
        if aspect in spec and not isinstance(spec[aspect], list):
            found.append((f"/{aspect}", "must be a list of endpoints"))
    return found


def _base_problems(base: Mapping[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    description = base.get("description")
    if description is not None and (
        not isinstance(description, str)
        or len(description) > 256
        or FORBIDDEN_IN_DESCRIPTION & set(description)
    ):
        found.append(("/base_info/description", "at most 256 characters, none of !<>'&\"\\"))
    days = base.get("expired_days")
    if days is not None and not (str(days).isdigit() and 14 <= int(str(days)) <= 100):
        found.append(("/base_info/expired_days", "a whole number of days from 14 to 100"))
    tags = base.get("tags")
    if tags is not None and (not isinstance(tags, list) or len(tags) > 20):
        found.append(("/base_info/tags", "at most 20 tags"))
    return found


def _speed_problems(limits: Any) -> list[tuple[str, str]]:
    if not isinstance(limits, list):
        return [("/speed_limit", "must be a list of {begin, end, speed}")]
    found: list[tuple[str, str]] = []
    for index, item in enumerate(limits):
        where = f"/speed_limit/{index}"
        if not isinstance(item, dict):
            found.append((where, "must be {begin, end, speed}"))
            continue
        begin, end, speed = item.get("begin"), item.get("end"), item.get("speed")
        # YAML 1.1 reads an unquoted 12:30 as the number 45000: say so.
        hint = "; quote it" if isinstance(begin, int) or isinstance(end, int) else ""
        if not isinstance(begin, str) or not _HOUR_MINUTE.fullmatch(begin):
            found.append((f"{where}/begin", f"hh:mm in UTC{hint}"))
        if not isinstance(end, str) or not _HOUR_MINUTE.fullmatch(end) or not end.endswith(":59"):
            found.append((f"{where}/end", f"hh:mm in UTC, ending in :59{hint}"))
        if not (str(speed).isdigit() and 1 <= int(str(speed)) <= 9999):
            found.append((f"{where}/speed", "1-9999 MB/s"))
    return found


def _params_problems(update_type: str, params: JSONObject) -> list[str]:
    problems = [
        f"{update_type}: {p[1:]}: {m}"
        for p, m in _base_problems(cast(JSONObject, params.get("base_info", {})))
    ]
    if update_type == "name":
        name = cast(JSONObject, params["base_info"]).get("name")
        if not isinstance(name, str) or not JOB_NAME.fullmatch(name):
            problems.append("name: base_info/name: 4-50 letters, digits, '-' or '_'")
    if update_type == "speed_limit":
        problems.extend(
            f"speed_limit: {p[1:]}: {m}" for p, m in _speed_problems(params["speed_limit"])
        )
    if update_type == "endpoint":
        for aspect, endpoints in params.items():
            for index, endpoint in enumerate(cast(list[JSONValue], endpoints)):
                inner = endpoint.get("endpoint") if isinstance(endpoint, dict) else None
                password = inner.get("db_password") if isinstance(inner, dict) else None
                if password is None or is_masked(password):
                    problems.append(
                        f"endpoint: {aspect}/{index}/endpoint/db_password: changing an endpoint "
                        "needs its password; declare it as {secretRef: NAME/KEY}"
                    )
    return problems


class DrsJobDriver:
    """Lists, reads and updates DRS jobs."""

    kind: Kind = KIND

    def __init__(self, client: DrsClient) -> None:
        self._client = client

    async def scopes(self, project_id: str) -> list[Scope]:
        return [Scope(project_id)]

    async def list(self, scope: Scope) -> list[LiveEntry]:
        jobs = await self._client.list_jobs(scope.project_id)
        # The job list has no modification marker: every declared job is read each cycle.
        return [
            LiveEntry(id=job["id"], name=str(job.get("name", "")), version=None) for job in jobs
        ]

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        job = cast(JSONObject, await self._client.get_job(scope.project_id, live_id))
        # The detail also carries progress and metrics that move all the time: leave them out.
        aspects = canonical_bytes({aspect: job.get(aspect) for aspect in ASPECTS})
        digest = hashlib.blake2b(aspects, digest_size=16).hexdigest()
        what = f"job {live_id}"

        def decode() -> DecodedDocument:
            check_depth(job, what=what)
            read_tuning(job.get("tuning_params"), what=what)  # what cannot be compared fails here
            return DecodedDocument(job, {})

        return LiveDocument(digest, decode)

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        return f"PUT {job_path(scope.project_id, live_id)} (type {write.action})"

    async def send(self, scope: Scope, live_id: str, write: Write) -> str | None:
        await self._client.update_job(
            scope.project_id, live_id, write.action, cast(dict[str, Any], write.body)
        )
        return None


def _driver(connections: Connections) -> DrsJobDriver:
    return DrsJobDriver(DrsClient(connections.api(SERVICE)))


REGISTRATION = Registration(
    spec=DrsJobSpec(),
    service=SERVICE,
    driver=_driver,
    traced_as=(DRS_SERVICE_TYPE, DRS_JOB_RESOURCE_TYPE),
)
