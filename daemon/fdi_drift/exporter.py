"""`fdi-drift export`: desired-state files written from live resources.

Every writable field is declared, so a check right after an export is in sync. Masked secrets
become `secretRef` placeholders (never the masked text, which would be written back as a
password), and so does every value under a secret-looking key (never a credential in clear in
a file meant for a repository); a secret reference compares as unknowable, so this costs no
sync. Existing files are only replaced with `force`, and every file is validated with the same
rules `fdi-drift validate` uses before anything is written.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from fdi_drift.desired_state import API_VERSION, parse_resource_text
from fdi_drift.drift.document import is_masked
from fdi_drift.drift.ignore import IgnoreRules, compile_ignore, prune
from fdi_drift.drift.model import JSONValue, Kind
from fdi_drift.drift.model import Path as JSONPath
from fdi_drift.drift.pointer import format_pointer
from fdi_drift.drift.redaction import looks_secret
from fdi_drift.drift.secret_ref import make_reference, placeholder
from fdi_drift.errors import DesiredStateError
from fdi_drift.kinds.contract import KindDriver, KindSpec, LiveEntry, Scope
from fdi_drift.yaml_documents import dump_and_read

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class PlaceholderReason(StrEnum):
    """Why an exported value was written as a secret reference."""

    MASKED = "masked"  # live showed it as "******"
    # It sits under a key like password or token.
    SECRET_LOOKING_KEY = "secret-looking key"  # noqa: S105 - a reason, not a secret


@dataclass(frozen=True, slots=True)
class SecretPlaceholder:
    """One exported field written as `{secretRef: reference}` instead of its value."""

    pointer: str  # RFC 6901, from the file's root: /spec/...
    reference: str  # NAME/KEY, to be provided before reconciling
    reason: PlaceholderReason


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """One file export wrote (or would write)."""

    path: Path
    kind: Kind
    name: str
    placeholders: tuple[SecretPlaceholder, ...]

    @property
    def secret_refs(self) -> tuple[str, ...]:
        """The references of the placeholders, in file order."""
        return tuple(placeholder.reference for placeholder in self.placeholders)


async def export_resources(
    drivers: Mapping[Kind, KindDriver],
    specs: Mapping[Kind, KindSpec],
    targets: Iterable[tuple[Kind, Scope]],
    out: Path,
    *,
    force: bool = False,
    concurrency: int = 8,
) -> list[ExportedFile]:
    """Read every live resource of the targets and write one desired-state file each.

    A target naming only a project for a kind that lives in instances covers each instance of
    that project (the kind's driver lists them).
    """
    semaphore = asyncio.Semaphore(concurrency)
    planned: list[tuple[ExportedFile, str]] = []
    for kind, scope in await _each_scope(drivers, specs, targets):
        default_ignore = compile_ignore(specs[kind].default_ignore)
        entries = await drivers[kind].list(scope)

        async def one(
            entry: LiveEntry,
            kind: Kind = kind,
            scope: Scope = scope,
            default_ignore: IgnoreRules = default_ignore,
        ) -> tuple[ExportedFile, str]:
            # Each file is made as soon as its resource is read, so that only texts wait for
            # the last read: thousands of decoded documents held at once cost gigabytes.
            async with semaphore:
                document = (await drivers[kind].read(scope, entry.id)).decode().value
            return _exported(kind, scope, entry, document, specs, default_ignore, out)

        planned.extend(await asyncio.gather(*(one(entry) for entry in entries)))
    existing = [str(item.path) for item, _ in planned if item.path.exists()]
    if existing and not force:
        raise DesiredStateError(
            f"{len(existing)} files exist already; pass --force to replace them",
            tuple(existing),
        )
    for item, text in planned:
        item.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = item.path.with_suffix(".yaml.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(item.path)
    return [item for item, _ in planned]


def _exported(
    kind: Kind,
    scope: Scope,
    entry: LiveEntry,
    document: JSONValue,
    specs: Mapping[Kind, KindSpec],
    default_ignore: IgnoreRules,
    out: Path,
) -> tuple[ExportedFile, str]:
    """The file one live resource exports to, and its text; DesiredStateError when the text
    would not be valid desired state."""
    exported = specs[kind].export_spec(document)
    try:
        json_text: bytes | None = orjson.dumps(exported)
    except TypeError:  # an integer wider than 64 bits: both steps below walk instead
        json_text = None
    # What the kind ignores anyway (cursors) would only be noise in the file.
    spec = prune(exported, default_ignore, text=json_text)
    found: list[SecretPlaceholder] = []
    if _may_hold_secrets(spec, json_text):
        spec = _placeholders(spec, entry.name, (), False, found)
    metadata: dict[str, str] = {"name": entry.name, "project_id": scope.project_id}
    if scope.instance_id:
        metadata["instance_id"] = scope.instance_id
    metadata["id"] = entry.id
    resource = {
        "apiVersion": API_VERSION,
        "kind": str(kind),
        "metadata": metadata,
        "spec": spec,
    }
    folders = (scope.project_id, scope.instance_id or "drs-jobs")
    relative = Path(*(_UNSAFE.sub("_", part) for part in folders))
    path = out / relative / f"{_UNSAFE.sub('_', entry.name)}.yaml"
    text, reading = dump_and_read(resource)
    _, problems = parse_resource_text(path.name, text, specs, reading=reading)
    if problems:
        raise DesiredStateError(
            f"{kind} {entry.name} ({entry.id}) cannot be exported as valid desired state",
            tuple(str(p) for p in problems),
        )
    return ExportedFile(path, kind, entry.name, tuple(found)), text


async def _each_scope(
    drivers: Mapping[Kind, KindDriver],
    specs: Mapping[Kind, KindSpec],
    targets: Iterable[tuple[Kind, Scope]],
) -> list[tuple[Kind, Scope]]:
    """The targets, a project scope of an instance kind replaced by the project's instances."""
    found: dict[tuple[Kind, Scope], None] = {}
    for kind, scope in targets:
        if specs[kind].needs_instance and not scope.instance_id:
            for instance in await drivers[kind].scopes(scope.project_id):
                found[(kind, instance)] = None
        else:
            found[(kind, scope)] = None
    return list(found)


def _may_hold_secrets(spec: Any, text: bytes | None) -> bool:
    """False when no value of `spec` is masked and no key looks secret.

    `text`, JSON holding `spec` and perhaps more (None when there is none), shows any masked
    value; the keys are collected by a walk that, unlike the placeholder walk, builds no paths.
    """
    if text is None or b'"***' in text:
        return True
    return any(looks_secret(key) for key in _keys(spec))


def _keys(value: Any) -> set[Any]:
    """The distinct keys of every mapping in `value`."""
    found: set[Any] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.update(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _placeholders(
    value: Any, name: str, path: JSONPath, secret_key: bool, found: list[SecretPlaceholder]
) -> Any:
    """`value` with masked values, and values below a secret-looking key, as references.

    Copy on write: what holds no placeholder is `value`'s own.
    """
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for k, v in value.items():
            new = _placeholders(v, name, (*path, k), secret_key or looks_secret(k), found)
            if new is not v:
                if out is None:
                    out = dict(value)
                out[k] = new
        return value if out is None else out
    if isinstance(value, list):
        items: list[Any] | None = None
        for i, v in enumerate(value):
            new = _placeholders(v, name, (*path, i), secret_key, found)
            if new is not v:
                if items is None:
                    items = list(value)
                items[i] = new
        return value if items is None else items
    if is_masked(value):
        reason = PlaceholderReason.MASKED
    # Empty and null hold nothing, and a flag (`is_set_password: false`) holds no credential;
    # as a reference it would only be written back as a string.
    elif secret_key and value not in (None, "") and not isinstance(value, bool):
        reason = PlaceholderReason.SECRET_LOOKING_KEY
    else:
        return value
    reference = make_reference(name, ".".join(str(part) for part in path))
    found.append(SecretPlaceholder(format_pointer(("spec", *path)), reference, reason))
    return placeholder(reference)
