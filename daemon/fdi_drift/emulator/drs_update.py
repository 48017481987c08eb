"""The typed DRS job update of seed 001, `{"job": {"type": T, "params": {...}}}`: check and apply.

Each type changes one aspect of the job and nothing else:

    name, description, expired_days   params.base_info.<field>  -> base_info.<field>
    notify                            params.alarm_notify       -> alarm_notify
    speed_limit                       params.speed_limit        -> speed_limit
    policy                            params.policy_config      -> policy_config
    db_object                         params.db_object          -> db_object
    endpoint                          params.source_endpoint and/or params.target_endpoint
    tuning_param                      params.tuning_params      -> tuning_params

The emulator's choices where the page is silent:

- `base_info` is checked whole (name, description, expired_days, tags, whichever are sent),
  but only the type's own field is written; `tags` are never written by these types.
- notify, speed_limit, policy, db_object and endpoint replace their aspect with what was sent
  (an endpoint update replaces only the side(s) sent).
- tuning_param sends maps (name -> value) while the job holds and answers lists of entries:
  each sent value replaces the `param_value` of the entry of that name in its group, and a
  parameter not sent keeps its value. A name the group does not list, or an entry whose
  `availability` is false, is refused naming `job.params.tuning_params.<group>.<name>`, and
  then nothing changes; these checks need the job, so they come after it is looked up. With
  `recovery` true the update instead restores the lists the job had when it was added.
- Types the page or the SDK name but the emulator does not support (`re_create`, `all`,
  `network`, `precheck`) are refused like unknown ones, naming `job.type`.
- Jobs accept updates in any status.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import orjson

from fdi_drift.emulator.drs_rules import (
    check_alarm_notify,
    check_base_info,
    check_db_object,
    check_endpoints,
    check_object,
    check_policy_config,
    check_speed_limit,
    check_tuning_update,
)
from fdi_drift.emulator.validation import FieldError, check_string

PARAMS = "job.params"


class UpdateType(StrEnum):
    """The update types the emulator supports."""

    NAME = "name"
    DESCRIPTION = "description"
    EXPIRED_DAYS = "expired_days"
    NOTIFY = "notify"
    SPEED_LIMIT = "speed_limit"
    POLICY = "policy"
    DB_OBJECT = "db_object"
    ENDPOINT = "endpoint"
    TUNING_PARAM = "tuning_param"


_BASE_INFO_TYPES = (UpdateType.NAME, UpdateType.DESCRIPTION, UpdateType.EXPIRED_DAYS)
# The top-level job key each whole-aspect type replaces, and the params key it reads.
_ASPECTS = {
    UpdateType.NOTIFY: "alarm_notify",
    UpdateType.SPEED_LIMIT: "speed_limit",
    UpdateType.POLICY: "policy_config",
    UpdateType.DB_OBJECT: "db_object",
}


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """A valid typed update: the type and the checked values it writes, by job key."""

    type: UpdateType
    values: Mapping[str, object]


def parse_job_update(body: bytes) -> JobUpdate:
    """Check an update body against seed 001's rules, naming the first bad field."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FieldError("body", f"The request body is not JSON: {exc}.") from exc
    if not isinstance(document, dict):
        raise FieldError("body", "The request body must be a JSON object.")
    job = check_object("job", document.get("job"))
    type_text = check_string("job.type", job.get("type"), 1, 64)
    try:
        update_type = UpdateType(type_text)
    except ValueError:
        supported = ", ".join(str(kind) for kind in UpdateType)
        problem = f"Unsupported type {type_text!r}; use one of {supported}."
        raise FieldError("job.type", problem) from None
    params = check_object(PARAMS, job.get("params"))
    return JobUpdate(update_type, _values(update_type, params))


def apply_update(
    job: Mapping[str, object], update: JobUpdate, initial_tuning: object
) -> dict[str, object]:
    """The job document after `update`; `initial_tuning` is what `recovery` restores.

    Raises FieldError when a tuning parameter sent is not the job's to change.
    """
    changed = copy.deepcopy(dict(job))
    if update.type in _BASE_INFO_TYPES:
        base_info = changed.get("base_info")
        base_info = dict(base_info) if isinstance(base_info, dict) else {}
        base_info[str(update.type)] = update.values[str(update.type)]
        changed["base_info"] = base_info
    elif update.type is UpdateType.TUNING_PARAM:
        changed["tuning_params"] = _tuned(changed.get("tuning_params"), update, initial_tuning)
    else:
        changed.update(copy.deepcopy(dict(update.values)))
    return changed


def _values(update_type: UpdateType, params: dict[str, object]) -> dict[str, object]:
    if update_type in _BASE_INFO_TYPES:
        base_info = check_base_info(f"{PARAMS}.base_info", params.get("base_info"))
        if base_info.get(str(update_type)) is None:
            raise FieldError(f"{PARAMS}.base_info.{update_type}", "It is required.")
        return {str(update_type): base_info[str(update_type)]}
    if update_type is UpdateType.ENDPOINT:
        sides: dict[str, object] = {
            key: check_endpoints(f"{PARAMS}.{key}", params[key], real_password=True)
            for key in ("source_endpoint", "target_endpoint")
            if params.get(key) is not None
        }
        if not sides:
            raise FieldError(
                f"{PARAMS}.source_endpoint", "source_endpoint or target_endpoint is required."
            )
        return sides
    if update_type is UpdateType.TUNING_PARAM:
        key = "tuning_params"
        return {key: check_tuning_update(f"{PARAMS}.{key}", params.get(key))}
    key = _ASPECTS[update_type]
    field = f"{PARAMS}.{key}"
    checks = {
        "alarm_notify": check_alarm_notify,
        "speed_limit": check_speed_limit,
        "policy_config": check_policy_config,
        "db_object": check_db_object,
    }
    return {key: checks[key](field, params.get(key))}


def _tuned(stored: object, update: JobUpdate, initial: object) -> object:
    sent = update.values["tuning_params"]
    assert isinstance(sent, dict)
    if sent.get("recovery") is True:
        return copy.deepcopy(initial)
    tuned = copy.deepcopy(stored) if isinstance(stored, dict) else {}
    for group, values in sent.items():
        if group == "recovery":
            continue
        assert isinstance(values, dict)
        entries = tuned.get(group)
        held = {
            entry["param_name"]: entry
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict)
        }
        for name, value in values.items():
            field = f"{PARAMS}.tuning_params.{group}.{name}"
            entry = held.get(name)
            if entry is None:
                raise FieldError(field, "The job has no such tuning parameter.")
            if entry.get("availability") is False:
                raise FieldError(field, "It is not available for this job.")
            entry["param_value"] = value
    return tuned
