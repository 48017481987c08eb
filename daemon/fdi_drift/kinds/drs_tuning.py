"""DRS tuning parameters: read as lists, written and declared as maps.

A job detail answers its tuning parameters per group (`full_sync`, `incre_capture`,
`incre_apply`, `incre_relay`) as lists of `{param_name, param_value, availability}` entries
(TuningParamInfo); the `tuning_param` update takes name -> value maps, and desired state keeps
that readable map form. A read the maps cannot hold (an unknown group or entry key, a malformed
entry, a name listed twice) is an error, never a silent drop. A correction sends one
`tuning_param` update carrying only the declared values live does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from fdi_drift.cloud.paging import kind_of
from fdi_drift.drift.model import JSONObject, JSONValue
from fdi_drift.drift.pointer import child_pointer
from fdi_drift.errors import DocumentError, InvalidWriteError
from fdi_drift.kinds.contract import Write

TUNING_GROUPS = ("full_sync", "incre_capture", "incre_apply", "incre_relay")
# Seed 001 marks these groups mandatory in a tuning_param update: sent (empty) even unchanged.
_TUNING_REQUIRED = ("incre_capture", "incre_apply")
# What a read's entry may say about a parameter besides its name and value; never compared.
# `availability` is TuningParameter's; DRS's query-params page also lists a `range`.
_TUNING_ABOUT = ("availability", "range")
_TUNING_KEYS = ("param_name", "param_value", *_TUNING_ABOUT)


@dataclass(frozen=True, slots=True)
class Tuning:
    """A job's tuning parameters as read: group -> name -> value, and those it may not change."""

    values: dict[str, dict[str, str]]
    unavailable: frozenset[tuple[str, str]]


def tuning_write(laid: JSONObject, tuning: Tuning) -> Write | None:
    """The one tuning_param update: each declared value live does not hold, and nothing else.

    The service merges the maps sent into the job's parameters (a parameter not sent keeps its
    value), so sending only what differs changes nothing else; a declared parameter the job
    does not list, or may not change, makes the correction invalid.
    """
    changed: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for group, params in laid.items():
        held = tuning.values.get(group, {})
        for name, value in cast(JSONObject, params).items():
            if held.get(name) == value:
                continue
            where = f"tuning_param: tuning_params/{group}/{name}"
            if name not in held:
                problems.append(f"{where}: the job has no such tuning parameter")
            elif (group, name) in tuning.unavailable:
                problems.append(f"{where}: not available to this job (availability false)")
            else:
                changed.setdefault(group, {})[name] = cast(str, value)
    if problems:
        raise InvalidWriteError("; ".join(problems))
    if not changed:
        return None
    maps = {g: changed.get(g, {}) for g in TUNING_GROUPS if g in changed or g in _TUNING_REQUIRED}
    params = cast(JSONObject, {"tuning_params": maps})
    covers = tuple(
        child_pointer(child_pointer("/tuning_params", group), name)
        for group, values in changed.items()
        for name in values
    )
    return Write("tuning_param", params, params, covers, params)


def comparable(job: JSONObject) -> tuple[JSONObject, Tuning]:
    """The job with its tuning lists as maps (the form desired state takes), and what was read."""
    tuning = read_tuning(job.get("tuning_params"))
    if job.get("tuning_params") is None:
        return job, tuning
    return {**job, "tuning_params": cast(JSONObject, tuning.values)}, tuning


def read_tuning(value: JSONValue, *, what: str = "") -> Tuning:
    """The detail's tuning lists (TuningParamInfo) as maps; DocumentError for what cannot map.

    An unknown group, an entry that is not `{param_name, param_value}` (with `availability`
    and `range`, never compared), or a name its group lists twice is named in the error.
    """
    prefix = f"{what}: " if what else ""
    if value is None:
        return Tuning({}, frozenset())
    if not isinstance(value, dict):
        raise DocumentError(f"{prefix}tuning_params is {kind_of(value)}, not an object")
    values: dict[str, dict[str, str]] = {}
    unavailable: set[tuple[str, str]] = set()
    for group, entries in value.items():
        where = f"{prefix}tuning_params/{group}"
        if group not in TUNING_GROUPS:
            raise DocumentError(f"{where}: not a tuning group ({', '.join(TUNING_GROUPS)})")
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise DocumentError(f"{where}: {kind_of(entries)}, not a list of parameters")
        params = values.setdefault(group, {})
        for index, entry in enumerate(entries):
            name, text, available = _tuning_entry(f"{where}/{index}", entry)
            if name in params:
                raise DocumentError(f"{where}/{index}: {name!r} is listed twice")
            params[name] = text
            if not available:
                unavailable.add((group, name))
    return Tuning(values, frozenset(unavailable))


def _tuning_entry(where: str, entry: JSONValue) -> tuple[str, str, bool]:
    if not isinstance(entry, dict):
        raise DocumentError(f"{where}: {kind_of(entry)}, not a {{param_name, param_value}}")
    for key in entry:
        if key not in _TUNING_KEYS:
            raise DocumentError(f"{where}: unknown key {key!r} ({', '.join(_TUNING_KEYS)})")
    name, text = entry.get("param_name"), entry.get("param_value")
    if not isinstance(name, str) or not name:
        raise DocumentError(f"{where}/param_name: {kind_of(name)}, not a parameter name")
    if not isinstance(text, str):
        raise DocumentError(f"{where}/param_value: {kind_of(text)}, not a string")
    # TuningParameter types it a boolean; the query-params page shows "true" and "false".
    available = entry.get("availability", True)
    if available in ("true", "false"):
        available = available == "true"
    if not isinstance(available, bool):
        raise DocumentError(f"{where}/availability: {kind_of(available)}, not true or false")
    return name, text, available


def tuning_problems(tuning: Any) -> list[tuple[str, str]]:
    if not isinstance(tuning, dict):
        return [("/tuning_params", f"must be a mapping of groups ({', '.join(TUNING_GROUPS)})")]
    found: list[tuple[str, str]] = []
    for group, params in tuning.items():
        where = child_pointer("/tuning_params", group)
        if group not in TUNING_GROUPS:
            found.append((where, f"not a tuning group (known: {', '.join(TUNING_GROUPS)})"))
        elif not isinstance(params, dict):
            found.append((where, "must be a mapping of parameter names to values"))
        else:
            found.extend(
                (child_pointer(where, name), "a string; quote it ('32', 'false')")
                for name, value in params.items()
                if isinstance(value, bool) or not isinstance(value, str | int)
            )
    return found
