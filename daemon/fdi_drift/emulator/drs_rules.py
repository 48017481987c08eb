"""Field rules of DRS v5 job aspects (seed 001), for typed updates and for seed files alike.

Each check takes the dotted name of the value (`job.params.base_info.name` in an update,
`job.base_info.name` in a seed) and raises FieldError naming it. The emulator's choices where
the page is silent or its value lists are cut off:

- `expired_days` and `speed` are strings holding integers (as JobBaseInfo and SpeedLimitInfo
  type them); a JSON number is refused.
- `begin` and `end` are `hh:mm` with hh 00-23 and mm 00-59; `end` must end in `:59`.
- Alarm delays (`delay_time`, `rpo_delay`, `rto_delay`) are integers 0-3600.
- Tag keys have 1-36 and values 1-43 letters, digits, `_` or `-`; at most 20 tags.
- Policy values are only type-checked (strings and booleans as PolicyConfig types them); enum
  values are not, since the page's lists are not readable.
- An aspect keeps the documented keys sent and drops others; nested objects inside endpoints
  and `db_object.object_info` are kept as sent.
- Tuning parameters are read as lists (TuningParamInfo: per group, `{param_name, param_value,
  availability}` entries) and updated as maps (ModifyTuningParams: per group, name -> value).
  A name has 1-128 characters and a value 0-1024; a group lists a name once; an entry with
  any other key, or a group other than the four, is refused; a seed's entry without
  `availability` is available.
"""

from __future__ import annotations

import copy
import re

from fdi_drift.emulator.recording import MASK
from fdi_drift.emulator.validation import FieldError, check_string

JOB_NAME = re.compile(r"[A-Za-z0-9_-]{4,50}")
FORBIDDEN_IN_DESCRIPTION = frozenset("!<>'&\"\\")
CLOCK = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
TAG_TEXT = re.compile(r"[A-Za-z0-9_-]+")
DIGITS = re.compile(r"[0-9]+")
MAX_TAGS = 20
MAX_DELAY_SECONDS = 3600
ALARM_KEYS = ("alarm_to_user", "topic_urn", "delay_time", "rpo_delay", "rto_delay")
POLICY_TEXT = (
    "filter_ddl_policy",
    "conflict_policy",
    "data_sync_topology_type",
    "support_ddl_info",
    "sync_type_policy",
    "increment_read_mode",
    "dml_types",
)
POLICY_FLAGS = ("index_trans", "ddl_trans", "is_create_table_with_index")
ENDPOINT_KEYS = (
    "db_type",
    "endpoint_type",
    "endpoint_role",
    "endpoint",
    "cloud",
    "vpc",
    "config",
    "ssl",
    "customized_dns",
)
TUNING_GROUPS = ("full_sync", "incre_capture", "incre_apply", "incre_relay")
# The groups seed 001 marks mandatory in a tuning_param update.
TUNING_REQUIRED = ("incre_capture", "incre_apply")
TUNING_ENTRY_KEYS = ("param_name", "param_value", "availability")
MAX_PARAM_NAME = 128
MAX_PARAM_VALUE = 1024


def check_object(field: str, value: object) -> dict[str, object]:
    """A JSON object (required)."""
    if value is None:
        raise FieldError(field, "It is required.")
    if not isinstance(value, dict):
        raise FieldError(field, "It must be an object.")
    return value


def check_job_name(field: str, value: object) -> str:
    """4-50 letters, digits, `-`, `_`."""
    name = check_string(field, value, 4, 50)
    if not JOB_NAME.fullmatch(name):
        raise FieldError(field, "It must be 4-50 letters, digits, '-' or '_'.")
    return name


def check_description(field: str, value: object) -> str:
    """At most 256 characters, none of `!<>'&"\\`."""
    text = check_string(field, value, 0, 256)
    if FORBIDDEN_IN_DESCRIPTION & set(text):
        raise FieldError(field, "It must not contain any of !<>'&\"\\.")
    return text


def check_expired_days(field: str, value: object) -> str:
    """An integer string 14-100."""
    days = check_string(field, value, 1, 3)
    if not DIGITS.fullmatch(days) or not 14 <= int(days) <= 100:
        raise FieldError(field, "It must be a string holding an integer 14-100.")
    return days


def check_tags(field: str, value: object) -> list[dict[str, str]]:
    """At most 20 `{key, value}` tags."""
    if not isinstance(value, list):
        raise FieldError(field, "It must be an array.")
    if len(value) > MAX_TAGS:
        raise FieldError(field, f"At most {MAX_TAGS} tags can be added.")
    tags = []
    for index, tag in enumerate(value):
        item = check_object(f"{field}[{index}]", tag)
        key = _tag_text(f"{field}[{index}].key", item.get("key"), 36)
        text = _tag_text(f"{field}[{index}].value", item.get("value"), 43)
        tags.append({"key": key, "value": text})
    return tags


def check_base_info(field: str, value: object) -> dict[str, object]:
    """A base_info object whose checked fields, when present, follow their rules."""
    info = check_object(field, value)
    for key, check in (
        ("name", check_job_name),
        ("description", check_description),
        ("expired_days", check_expired_days),
        ("tags", check_tags),
    ):
        if info.get(key) is not None:
            check(f"{field}.{key}", info[key])
    return info


def check_alarm_notify(field: str, value: object) -> dict[str, object]:
    """`alarm_to_user` (required boolean), `topic_urn`, and delays of 0-3600 seconds."""
    notify = check_object(field, value)
    if not isinstance(notify.get("alarm_to_user"), bool):
        missing = notify.get("alarm_to_user") is None
        problem = "It is required." if missing else "It must be true or false."
        raise FieldError(f"{field}.alarm_to_user", problem)
    if notify.get("topic_urn") is not None:
        check_string(f"{field}.topic_urn", notify["topic_urn"], 0, 255)
    for key in ("delay_time", "rpo_delay", "rto_delay"):
        delay = notify.get(key)
        if delay is not None and (
            isinstance(delay, bool)
            or not isinstance(delay, int)
            or not 0 <= delay <= MAX_DELAY_SECONDS
        ):
            raise FieldError(f"{field}.{key}", f"It must be an integer 0-{MAX_DELAY_SECONDS}.")
    return {key: notify[key] for key in ALARM_KEYS if notify.get(key) is not None}


def check_speed_limit(field: str, value: object) -> list[dict[str, str]]:
    """A list of `{begin, end, speed}`: `hh:mm`, `hh:59`, and an integer string 1-9999."""
    if not isinstance(value, list):
        raise FieldError(field, "It must be an array." if value is not None else "It is required.")
    windows = []
    for index, window in enumerate(value):
        item = check_object(f"{field}[{index}]", window)
        begin = check_string(f"{field}[{index}].begin", item.get("begin"), 5, 5)
        if not CLOCK.fullmatch(begin):
            raise FieldError(f"{field}[{index}].begin", "It must be hh:mm, e.g. 01:00.")
        end = check_string(f"{field}[{index}].end", item.get("end"), 5, 5)
        if not CLOCK.fullmatch(end) or not end.endswith(":59"):
            raise FieldError(f"{field}[{index}].end", "It must be hh:mm ending in 59, e.g. 15:59.")
        speed = check_string(f"{field}[{index}].speed", item.get("speed"), 1, 4)
        if not DIGITS.fullmatch(speed) or not 1 <= int(speed) <= 9999:
            raise FieldError(f"{field}[{index}].speed", "It must be an integer string 1-9999.")
        windows.append({"begin": begin, "end": end, "speed": speed})
    return windows


def check_policy_config(field: str, value: object) -> dict[str, object]:
    """PolicyConfig: its strings are strings and its flags booleans."""
    policy = check_object(field, value)
    kept: dict[str, object] = {}
    for key, value_type, name in (
        *((key, str, "a string") for key in POLICY_TEXT),
        *((key, bool, "true or false") for key in POLICY_FLAGS),
    ):
        item = policy.get(key)
        if item is None:
            continue
        if not isinstance(item, value_type):
            raise FieldError(f"{field}.{key}", f"It must be {name}.")
        kept[key] = item
    return {key: kept[key] for key in policy if key in kept}


def check_db_object(field: str, value: object) -> dict[str, object]:
    """DbObject: `object_scope` (required), `target_root_db` and `object_info` objects."""
    db_object = check_object(field, value)
    kept: dict[str, object] = {
        "object_scope": check_string(f"{field}.object_scope", db_object.get("object_scope"), 1, 64)
    }
    root = db_object.get("target_root_db")
    if root is not None:
        root = check_object(f"{field}.target_root_db", root)
        for key in ("db_name", "db_encoding"):
            if root.get(key) is not None:
                check_string(f"{field}.target_root_db.{key}", root[key], 0, 255)
        kept["target_root_db"] = copy.deepcopy(root)
    info = db_object.get("object_info")
    if info is not None:
        for name, database in check_object(f"{field}.object_info", info).items():
            check_object(f"{field}.object_info.{name}", database)
        kept["object_info"] = copy.deepcopy(info)
    return kept


def check_endpoints(field: str, value: object, *, real_password: bool) -> list[dict[str, object]]:
    """JobEndpointInfo items; with `real_password` a masked `******` password is refused."""
    if not isinstance(value, list):
        raise FieldError(field, "It must be an array.")
    endpoints = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        info = check_object(where, item)
        for key in ("db_type", "endpoint_type", "endpoint_role"):
            check_string(f"{where}.{key}", info.get(key), 1, 64)
        endpoint = check_object(f"{where}.endpoint", info.get("endpoint"))
        for key in ("endpoint_name", "db_user"):
            check_string(f"{where}.endpoint.{key}", endpoint.get(key), 1, 255)
        password_field = f"{where}.endpoint.db_password"
        password = check_string(password_field, endpoint.get("db_password"), 0, 1024)
        if real_password and password in ("", MASK):
            raise FieldError(
                password_field,
                "It must be the real password; a masked value cannot be written back.",
            )
        for key in ENDPOINT_KEYS[4:]:
            if info.get(key) is not None:
                check_object(f"{where}.{key}", info[key])
        endpoints.append({key: copy.deepcopy(info[key]) for key in info if key in ENDPOINT_KEYS})
    return endpoints


def check_tuning_update(field: str, value: object) -> dict[str, object]:
    """ModifyTuningParams: maps of name -> string, `incre_capture` and `incre_apply` required."""
    params = check_object(field, value)
    kept: dict[str, object] = {}
    for group in TUNING_GROUPS:
        item = params.get(group)
        if item is None:
            if group in TUNING_REQUIRED:
                raise FieldError(f"{field}.{group}", "It is required.")
            continue
        values: dict[str, str] = {}
        for name, text in check_object(f"{field}.{group}", item).items():
            where = f"{field}.{group}.{name}"
            check_string(where, name, 1, MAX_PARAM_NAME)
            values[name] = check_string(where, text, 0, MAX_PARAM_VALUE)
        kept[group] = values
    recovery = params.get("recovery")
    if recovery is not None:
        if not isinstance(recovery, bool):
            raise FieldError(f"{field}.recovery", "It must be true or false.")
        kept["recovery"] = recovery
    return kept


def check_tuning_lists(field: str, value: object) -> dict[str, list[dict[str, object]]]:
    """TuningParamInfo: per group a list of `{param_name, param_value, availability}`."""
    params = check_object(field, value)
    for group in params:
        if group not in TUNING_GROUPS:
            raise FieldError(f"{field}.{group}", f"It is not one of {', '.join(TUNING_GROUPS)}.")
    lists: dict[str, list[dict[str, object]]] = {}
    for group in TUNING_GROUPS:
        entries = params.get(group)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise FieldError(f"{field}.{group}", "It must be an array of tuning parameters.")
        seen: set[str] = set()
        lists[group] = []
        for index, entry in enumerate(entries):
            lists[group].append(_tuning_entry(f"{field}.{group}[{index}]", entry, seen))
    return lists


def _tuning_entry(field: str, value: object, seen: set[str]) -> dict[str, object]:
    entry = check_object(field, value)
    for key in entry:
        if key not in TUNING_ENTRY_KEYS:
            raise FieldError(f"{field}.{key}", f"It is not one of {', '.join(TUNING_ENTRY_KEYS)}.")
    name = check_string(f"{field}.param_name", entry.get("param_name"), 1, MAX_PARAM_NAME)
    if name in seen:
        raise FieldError(f"{field}.param_name", f"{name!r} is listed twice.")
    seen.add(name)
    text = check_string(f"{field}.param_value", entry.get("param_value"), 0, MAX_PARAM_VALUE)
    available = entry.get("availability", True)
    if not isinstance(available, bool):
        raise FieldError(f"{field}.availability", "It must be true or false.")
    return {"param_name": name, "param_value": text, "availability": available}


def _tag_text(field: str, value: object, longest: int) -> str:
    text = check_string(field, value, 1, longest)
    if not TAG_TEXT.fullmatch(text):
        raise FieldError(field, f"It must be 1-{longest} letters, digits, '_' or '-'.")
    return text
