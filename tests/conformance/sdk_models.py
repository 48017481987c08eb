"""Whether an official SDK response model carries every key of the raw JSON answer.

The SDK's deserializer is lenient: it drops keys its model does not declare, turns a JSON
number into text where the model says `str` (and text into a number where it says `int`), and
hands back the raw string, with a warning, for a date it cannot parse. Each of those hides a
difference between the emulator and the API the SDK was generated from, so `assert_carried`
compares the raw answer with what the SDK made of it, key by key, recursing into nested models
and lists:

- a key the model declares must come through with the model's type, from a JSON value of that
  type (`str` from a string, `int` from an integer and not a boolean, a model from an object,
  `date` and `datetime` from text the SDK parsed into one), and equal to it where it is a
  scalar; JSON null is carried as None;
- a key the model does not declare is an extra. Extras are named by path (`task.task_mode`,
  `entities[].ext_type`, `[].schema_mappings` inside a top-level array) and must be exactly
  the known ones the caller lists, each with its reason: a new extra fails, and so does a
  listed one that no longer appears.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

_SCALARS: dict[str, type] = {"str": str, "int": int, "long": int, "bool": bool}


@dataclass
class Comparison:
    """What a walk over one answer found: extra key paths and declared keys not carried."""

    extra: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def assert_carried(response: Any, known_extra: Mapping[str, str]) -> Any:
    """Check an SDK response against its raw JSON answer; return that raw answer.

    `known_extra` maps each extra key path to why the SDK lacks it.
    """
    raw = json.loads(response.raw_content) if response.raw_content else None
    found = compare(raw, response)
    assert not found.problems, "\n".join(found.problems)
    assert found.extra == set(known_extra), (
        f"unknown extra keys: {sorted(found.extra - set(known_extra))}; "
        f"listed but absent: {sorted(set(known_extra) - found.extra)}"
    )
    return raw


def compare(raw: object, response: Any) -> Comparison:
    """Compare a raw answer with the SDK response made of it."""
    klass = type(response)
    models = importlib.import_module(klass.__module__.rsplit(".", 1)[0])
    found = Comparison()
    body = [attr for attr, key in klass.attribute_map.items() if key == "body"]
    if body:  # an answer that is not an object (InstallMultiTasks: an array) fills `body`
        _walk(raw, getattr(response, body[0]), klass.openapi_types[body[0]], models, "", found)
    elif raw is not None:
        _walk_model(raw, response, klass, models, "", found)
    return found


def _walk(
    raw: object, value: object, kind: str, models: ModuleType, path: str, found: Comparison
) -> None:
    where = path or "(answer)"
    if raw is None:
        if value is not None:
            found.problems.append(f"{where}: null came through as {value!r}")
        return
    listed = re.fullmatch(r"list\[(.*)\]", kind)
    if listed:
        if not isinstance(raw, list) or not isinstance(value, list) or len(raw) != len(value):
            found.problems.append(f"{where}: {_shown(raw)} is not carried as a {kind}")
            return
        for item, carried in zip(raw, value, strict=True):
            _walk(item, carried, listed.group(1), models, f"{path}[]", found)
        return
    mapped = re.fullmatch(r"dict\(([^,]*), (.*)\)", kind)
    if mapped:
        if not isinstance(raw, dict) or not isinstance(value, dict) or set(raw) != set(value):
            found.problems.append(f"{where}: {_shown(raw)} is not carried as a {kind}")
            return
        for key, item in raw.items():
            _walk(item, value[key], mapped.group(2), models, f"{path}.{key}", found)
        return
    if kind in _SCALARS:
        _scalar(raw, value, _SCALARS[kind], where, found)
    elif kind in ("date", "datetime"):
        wanted = dt.date if kind == "date" else dt.datetime
        if not isinstance(raw, str) or type(value) is not wanted:
            found.problems.append(f"{where}: {_shown(raw)} is not carried as a {kind}")
    elif kind == "object":
        if value != raw:
            found.problems.append(f"{where}: {_shown(raw)} came through as {value!r}")
    else:
        _walk_model(raw, value, getattr(models, kind), models, path, found)


def _walk_model(
    raw: object, value: object, klass: type, models: ModuleType, path: str, found: Comparison
) -> None:
    where = path or "(answer)"
    if not isinstance(raw, dict) or not isinstance(value, klass):
        found.problems.append(f"{where}: {_shown(raw)} is not carried as a {klass.__name__}")
        return
    attributes: dict[str, str] = getattr(klass, "attribute_map", {})
    declared = {key: attr for attr, key in attributes.items()}
    types: dict[str, str] = getattr(klass, "openapi_types", {})
    for key, item in raw.items():
        child = f"{path}.{key}" if path else key
        attr = declared.get(key)
        if attr is None:
            found.extra.add(child)
        else:
            _walk(item, getattr(value, attr), types[attr], models, child, found)


def _scalar(raw: object, value: object, kind: type, where: str, found: Comparison) -> None:
    if type(raw) is not kind:  # a JSON true is no integer, a number no text
        found.problems.append(f"{where}: {_shown(raw)} is not a JSON {kind.__name__}")
    elif type(value) is not kind or value != raw:
        found.problems.append(f"{where}: {_shown(raw)} came through as {value!r}")


def _shown(raw: object) -> str:
    text = json.dumps(raw)
    return text if len(text) <= 80 else text[:77] + "..."
