"""`fdi-drift adopt`: keep a live change by writing it into the desired-state files.

`adopt` checks the selected declared resources and, for each drifted one, writes live's values
of its drifted fields where the file declares them (`/spec` and the field's pointer; a nested
JSON string is declared decoded, so a key inside it is a key in the file). It reads the resource
again for those values: the drift report's values are redacted. A field live lacks is removed
from the file; a list live has more items of gets live's items. Each value is written as the
kind then reads it back in sync (`timing` stays lower case, `14` stays a number where the kind
compares `"14"`), and the file is edited in place (yaml_edit.py): only those values' lines
change. Before anything is written, each new file is validated and compared with what was read,
as a check would compare it: every adopted field must be in sync, or nothing is written.

Secrets are never written. A field declared `{secretRef: NAME/KEY}` is never compared, so it is
never adopted: it is reported, since live's secret may have changed and only the secret store
can follow. A value live holds under a secret-looking key, or masked (`******`), is written as a
new `{secretRef: NAME/KEY}` instead (as `export` does), and reported: that reference is what to
fill in the secret store. Reports carry references and pointers, never values.

adopt_commit.py then makes one git commit of the changed files (on a new branch if asked), for
a pull request.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from fdi_drift.desired_state import DesiredResource, parse_resource_text
from fdi_drift.drift.differ import diff, match
from fdi_drift.drift.document import canonical_bytes, is_masked
from fdi_drift.drift.ignore import REMOVED, IgnoreRules
from fdi_drift.drift.model import (
    ChangeOp,
    FieldChange,
    JSONValue,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.drift.normalizer import project
from fdi_drift.drift.pointer import format_pointer, parse_pointer
from fdi_drift.drift.redaction import looks_secret
from fdi_drift.drift.secret_ref import make_reference, placeholder, reference_of
from fdi_drift.errors import DocumentError, FdiDriftError, account
from fdi_drift.kinds.contract import KindSpec
from fdi_drift.selectors import Selector
from fdi_drift.service import Runtime
from fdi_drift.yaml_documents import load_documents
from fdi_drift.yaml_edit import Edit, YAMLEditError, edit_text


class AdoptError(FdiDriftError):
    """What was asked cannot be adopted; nothing was written. `problems` lists each reason."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message if not problems else f"{message}:\n  " + "\n  ".join(problems))
        self.problems = tuple(problems)


class GitError(AdoptError):
    """A git command failed or was refused; the message names the command and git's answer."""


class SecretReason(StrEnum):
    """Why a field's value went to the secret store's care instead of the file."""

    DECLARED = "declared secret reference"  # never compared: live's secret may have changed
    SECRET_LOOKING_KEY = "secret-looking key"  # noqa: S105 - a reason, not a secret
    MASKED = "masked"  # live shows it as ******


@dataclass(frozen=True, slots=True)
class SecretToUpdate:
    """A secret the file names by reference: update `reference` in the secret store."""

    pointer: str  # in the file: /spec/...
    reference: str  # NAME/KEY
    reason: SecretReason


@dataclass(frozen=True, slots=True)
class AdoptedFile:
    """One desired file: its text before and after, what was adopted into it."""

    path: Path
    relative: str  # to the desired-state root
    key: ResourceKey
    live_id: str
    old_text: str
    new_text: str
    adopted: tuple[str, ...]  # the drifted fields taken from live, as the drift report names them
    secrets: tuple[SecretToUpdate, ...]

    @property
    def changed(self) -> bool:
        return self.new_text != self.old_text


@dataclass(frozen=True, slots=True)
class AdoptResult:
    """Every file adopt changed (or would change), and the secrets left to the secret store."""

    root: Path
    files: tuple[AdoptedFile, ...]

    @property
    def changed(self) -> tuple[AdoptedFile, ...]:
        return tuple(file for file in self.files if file.changed)

    def diff(self) -> str:
        """A unified diff of every changed file, paths relative to the desired-state root."""
        return "".join(_unified(file) for file in self.changed)

    def summary(self) -> str:
        """What was adopted into which file, and which secrets to update, for people."""
        if not self.files:
            return "Nothing to adopt: the selected resources are in sync.\n"
        lines: list[str] = []
        for file in self.files:
            identity = f"{file.key.kind} {file.key.name} (id {file.live_id})"
            if file.adopted:
                lines.append(f"{identity}: adopted into {file.relative}")
                lines.extend(f"  {pointer}" for pointer in file.adopted)
            else:
                lines.append(f"{identity}: nothing written to {file.relative}")
        secrets = [(file, secret) for file in self.files for secret in file.secrets]
        if secrets:
            lines.append("Secrets are never written to files; update these in the secret store:")
            lines.extend(
                f"  {s.reference} ({file.relative} {s.pointer}: {s.reason})" for file, s in secrets
            )
        return "\n".join(lines) + "\n"


async def adopt(
    runtime: Runtime,
    selectors: Sequence[Selector],
    fields: Sequence[str] = (),
    *,
    write: bool = True,
) -> AdoptResult:
    """Write the live values of the selected resources' drifted fields into their files.

    `fields` (pointers as the drift report names them) restricts which: a field's own drift and
    any below it; each must name drift (or a declared secret) of a selected resource. Every
    selector must match a declared resource, and each selected one must be judged (in sync or
    drifted): otherwise AdoptError and nothing is written. With `write` False the files are
    left as they are (`commit` writes them after its checks).
    """
    if not selectors:
        raise AdoptError("name the resources to adopt (a selector such as KIND/NAME)")
    wanted = [_field_path(field) for field in fields]
    tree = await runtime.reload(strict=True)
    report = await runtime.check()
    if tree is None or report is None:
        raise AdoptError("no desired state is loaded")
    declared = {resource.key: resource for resource in tree.resources}
    statuses = [status for status in report.statuses if status.key in declared]

    def picked(status: ResourceStatus, selector: Selector) -> bool:
        key = status.key
        live_id = status.live_id or key.id
        return selector.matches(key.kind, key.project_id, key.instance_id, key.name, live_id)

    unmatched = [s.text for s in selectors if not any(picked(st, s) for st in statuses)]
    if unmatched:
        raise AdoptError("no declared resource matches", unmatched)
    chosen = [st for st in statuses if any(picked(st, s) for s in selectors)]
    unjudged = [
        f"{st.key}: {st.status}{f' ({st.reason})' if st.reason else ''}"
        for st in chosen
        if st.status not in (Status.IN_SYNC, Status.DRIFTED) and not st.changes
    ]
    if unjudged:
        raise AdoptError("only resources that were read and compared can be adopted", unjudged)
    files: list[AdoptedFile] = []
    used: set[int] = set()
    for status in chosen:
        if not status.changes:
            continue
        resource = declared[status.key]
        adopted = await _adopt_one(
            runtime, tree.root, resource, status.live_id, status.changes, wanted, used
        )
        if adopted is not None:
            files.append(adopted)
    unused = [field for index, field in enumerate(fields) if index not in used]
    if unused:
        raise AdoptError("no drifted field of a selected resource is named", unused)
    if write:
        write_files(files)
    return AdoptResult(tree.root, tuple(files))


def _field_path(field: str) -> tuple[str, ...]:
    try:
        path = parse_pointer(field)
    except DocumentError as error:
        raise AdoptError(f"--field {field!r}: {error}") from None
    if not path:
        raise AdoptError("--field needs a field's pointer, such as /task/description")
    return path


async def _adopt_one(
    runtime: Runtime,
    root: Path,
    resource: DesiredResource,
    live_id: str,
    changes: Sequence[FieldChange],
    wanted: list[tuple[str, ...]],
    used: set[int],
) -> AdoptedFile | None:
    """The file of one drifted resource with its selected fields adopted (None: none selected)."""
    key = resource.key
    selected = [c for c in changes if _named_by(parse_pointer(c.pointer), wanted, used)]
    path = root / resource.source
    try:
        text = path.read_text(encoding="utf-8")
        spec = load_documents(text)[0]["spec"]
    except (OSError, ValueError, LookupError, TypeError) as error:
        raise AdoptError(f"{resource.source}: cannot be read again: {account(error)}") from None
    references = [
        SecretToUpdate(format_pointer(("spec", *p)), ref, SecretReason.DECLARED)
        for p, ref in _references(spec)
        if _named_by(tuple(str(s) for s in p), wanted, used)
    ]
    if not selected:
        if not references:
            return None
        return AdoptedFile(path, resource.source, key, live_id, text, text, (), tuple(references))
    try:
        live = (await runtime.drivers[key.kind].read(resource.scope, live_id)).decode()
    except FdiDriftError as error:
        raise AdoptError(f"{key}: cannot be read again: {error}") from None
    kind = runtime.specs[key.kind]
    plan = _Plan(key.name, kind, spec, kind.normalize_live(live.value), resource.prepared.ignore)
    others = [change for change in changes if change not in selected]
    try:
        new_text, secrets = _edited(text, plan, selected, coarse=False)
        if _still_drifted(new_text, resource.source, runtime, plan.live, others):
            new_text, secrets = _edited(text, plan, selected, coarse=True)
    except YAMLEditError as error:
        raise AdoptError(f"{resource.source}: cannot be edited faithfully: {error}") from None
    left = _still_drifted(new_text, resource.source, runtime, plan.live, others)
    if left:
        raise AdoptError(f"{key}: after adopting, a check would still find drift", left)
    found = {s.pointer: s for s in [*references, *secrets]}
    return AdoptedFile(
        path=path,
        relative=resource.source,
        key=key,
        live_id=live_id,
        old_text=text,
        new_text=new_text,
        adopted=tuple(change.pointer for change in selected),
        secrets=tuple(found[pointer] for pointer in sorted(found)),
    )


def _named_by(path: tuple[str, ...], wanted: list[tuple[str, ...]], used: set[int]) -> bool:
    """Whether `--field`s allow the field at `path` (all do when none is given); notes which."""
    if not wanted:
        return True
    named = False
    for index, field in enumerate(wanted):
        if path[: len(field)] == field:
            used.add(index)
            named = True
    return named


class _Plan:
    """One resource's declared spec and live document, and the values to write from live."""

    def __init__(
        self, name: str, kind: KindSpec, spec: Any, live: JSONValue, ignore: IgnoreRules
    ) -> None:
        self.name = name
        self.kind = kind
        self.spec = spec
        self.live = live
        self.ignore = ignore
        self.secrets: dict[str, SecretToUpdate] = {}

    def value(self, path: tuple[Any, ...], declared: Any = None, shape: Any = None) -> JSONValue:
        """Live's value at `path` as the file should declare it: ignored parts left out,
        secrets as references, a scalar in the form the kind reads back as live's.

        With `shape` (what the desired document holds there), live's value is reduced to the
        keys and items it declares, as a check compares it.
        """
        found = _get(self.live, path)
        if shape is not None:
            found = project(found, shape).value
        pruned: Any = self.ignore.prune_at(found, path)
        if pruned is REMOVED:
            raise AdoptError(f"{format_pointer(path)}: ignored, so it cannot be adopted")
        secret_key = any(isinstance(part, str) and looks_secret(part) for part in path)
        kept: JSONValue = self._without_secrets(pruned, path, declared, secret_key)
        if kept is pruned and not isinstance(kept, dict | list):
            return self._declared_form(path, kept, declared)
        return kept

    def _without_secrets(
        self, value: Any, path: tuple[Any, ...], declared: Any, secret_key: bool
    ) -> Any:
        reference = reference_of(declared)
        if reference is not None:
            reason = SecretReason.DECLARED
        elif isinstance(value, dict):
            return {
                k: self._without_secrets(
                    v,
                    (*path, k),
                    declared.get(k) if isinstance(declared, dict) else None,
                    secret_key or looks_secret(k),
                )
                for k, v in value.items()
            }
        elif isinstance(value, list):
            return [
                self._without_secrets(
                    v,
                    (*path, i),
                    declared[i] if isinstance(declared, list) and i < len(declared) else None,
                    secret_key,
                )
                for i, v in enumerate(value)
            ]
        elif is_masked(value):
            reason = SecretReason.MASKED
        # Empty and null hold nothing, and a flag (`is_set_password: false`) no credential.
        elif secret_key and value not in (None, "") and not isinstance(value, bool):
            reason = SecretReason.SECRET_LOOKING_KEY
        else:
            return value
        if reference is None:
            reference = make_reference(self.name, ".".join(str(part) for part in path))
        pointer = format_pointer(("spec", *path))
        self.secrets[pointer] = SecretToUpdate(pointer, reference, reason)
        return placeholder(reference)

    def _declared_form(self, path: tuple[Any, ...], value: JSONValue, declared: Any) -> JSONValue:
        """`value`, or the spelling of it the file used (a number, lower case) if the kind
        reads that back as the same."""
        candidates: list[JSONValue] = []
        if isinstance(value, str) and type(declared) is int and re.fullmatch(r"-?[0-9]+", value):
            candidates.append(int(value))
        if (
            isinstance(value, str)
            and isinstance(declared, str)
            and declared == declared.lower() != declared.upper()
        ):
            candidates.append(value.lower())
        for candidate in candidates:
            if candidate != value and self._reads_as(path, candidate, value):
                return candidate
        return value

    def _reads_as(self, path: tuple[Any, ...], candidate: JSONValue, value: JSONValue) -> bool:
        spec = copy.deepcopy(self.spec)
        _put(spec, path, candidate)
        try:
            document = self.kind.desired_document(self.name, spec)
            return canonical_bytes(_get(document, path)) == canonical_bytes(value)
        except (DocumentError, LookupError, TypeError, ValueError):
            return False


def _edited(
    text: str, plan: _Plan, changes: Sequence[FieldChange], *, coarse: bool
) -> tuple[str, list[SecretToUpdate]]:
    """The file's text with the changes adopted, and the secrets written as references.

    Each change is an edit of its own, except inside a container live has more of (EXTRA),
    which is written whole: what the file declares there, with live's changes laid over it.
    `coarse` writes each list that holds a change whole instead, projected onto what the
    file declares, for kinds that compare lists in an order of their own.
    """
    plan.secrets = {}
    paths = [_path_in(plan.live, plan.spec, parse_pointer(c.pointer)) for c in changes]
    wholes = {p[:-1] for p, c in zip(paths, changes, strict=True) if c.op is ChangeOp.EXTRA}
    if coarse:
        lists = (_outer_list(plan.spec, path) for path in paths)
        wholes.update(found for found in lists if found)
    wholes = {w for w in wholes if not any(o != w and w[: len(o)] == o for o in wholes)}
    edits: list[Edit] = []
    for whole in sorted(wholes, key=_order):
        inside = [(p, c) for p, c in zip(paths, changes, strict=True) if p[: len(whole)] == whole]
        edits.append(Edit(_file_pointer(whole), _whole(plan, whole, inside, coarse)))
    for path, change in zip(paths, changes, strict=True):
        if any(path[: len(w)] == w for w in wholes):
            continue
        if not _has(plan.spec, path):
            raise AdoptError(
                f"{change.pointer}: not declared in the file's spec (it follows from its "
                "metadata, such as the name); change it by hand"
            )
        if change.op is ChangeOp.ABSENT:
            edits.append(Edit(_file_pointer(path), remove=True))
        else:
            edits.append(Edit(_file_pointer(path), plan.value(path, _get(plan.spec, path))))
    return edit_text(text, edits), list(plan.secrets.values())


def _whole(
    plan: _Plan,
    whole: tuple[Any, ...],
    inside: list[tuple[tuple[Any, ...], FieldChange]],
    coarse: bool,
) -> Any:
    """A container written whole: declared, with live's changes inside it laid over."""
    if not _has(plan.spec, whole):
        raise AdoptError(f"{format_pointer(whole)}: not declared in the file's spec")
    declared = _get(plan.spec, whole)
    if coarse:
        document = plan.kind.desired_document(plan.name, plan.spec)
        return plan.value(whole, declared, _get(document, whole) if _has(document, whole) else None)
    value = copy.deepcopy(declared)
    removals: list[tuple[Any, ...]] = []
    for path, change in sorted(inside, key=lambda item: _order(item[0])):
        relative = path[len(whole) :]
        if change.op is ChangeOp.ABSENT:
            removals.append(relative)
        else:
            old = _get(declared, relative) if _has(declared, relative) else None
            _put(value, relative, plan.value(path, old))
    # The deepest first, and later items before earlier ones: each path still names its value.
    for relative in sorted(removals, key=lambda p: (len(p), _order(p)), reverse=True):
        holder = _get(value, relative[:-1])
        del holder[relative[-1]]
    return value


def _outer_list(spec: Any, path: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The path of the outermost list on the way to `path` in the spec, if there is one."""
    node = spec
    for depth, part in enumerate(path):
        if isinstance(node, list):
            return path[:depth]
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return None


def _still_drifted(
    text: str,
    source: str,
    runtime: Runtime,
    live: JSONValue,
    expected: Iterable[FieldChange],
) -> list[str]:
    """The drift a check of the new text would find besides the `expected` (the fields left
    out by --field): anything else means the adopted values would not be in sync."""
    resource, problems = parse_resource_text(source, text, runtime.specs)
    if resource is None:
        raise AdoptError(
            f"{source}: the adopted values would make the file invalid", [str(p) for p in problems]
        )
    result = match(resource.prepared, live)
    if result.in_sync:
        return []
    left_out = {(change.pointer, change.op) for change in expected}
    return [
        f"{left.pointer} ({left.op})"
        for left in diff(result)
        if (left.pointer, left.op) not in left_out
    ]


def _references(value: Any, path: tuple[Any, ...] = ()) -> Iterable[tuple[tuple[Any, ...], str]]:
    """(path, NAME/KEY) of every secret reference the spec declares."""
    reference = reference_of(value)
    if reference is not None:
        yield path, reference
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _references(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, (*path, index))


def _path_in(live: Any, spec: Any, segments: tuple[str, ...]) -> tuple[Any, ...]:
    """A pointer's segments as a path: list indexes as numbers where live or the spec has a list."""
    path: list[Any] = []
    for segment in segments:
        node = live if _has(live, tuple(path)) else spec
        parent = _get(node, tuple(path)) if _has(node, tuple(path)) else None
        path.append(int(segment) if isinstance(parent, list) and segment.isdigit() else segment)
    return tuple(path)


def _order(path: tuple[Any, ...]) -> list[tuple[int, int, str]]:
    """A sort key for paths: list indexes in numeric order, keys by name."""
    return [(0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in path]


def _file_pointer(path: tuple[Any, ...]) -> str:
    return format_pointer(("spec", *path))


def _has(value: Any, path: tuple[Any, ...]) -> bool:
    for part in path:
        held = (isinstance(value, dict) and isinstance(part, str) and part in value) or (
            isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        )
        if not held:
            return False
        value = value[part]
    return True


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _put(value: Any, path: tuple[Any, ...], new: Any) -> None:
    holder = _get(value, path[:-1])
    if isinstance(holder, list) and path[-1] == len(holder):
        holder.append(new)
    else:
        holder[path[-1]] = new


def _unified(file: AdoptedFile) -> str:
    lines = difflib.unified_diff(
        file.old_text.splitlines(keepends=True),
        file.new_text.splitlines(keepends=True),
        fromfile=file.relative,
        tofile=file.relative,
    )
    # A last line without a line break gets git's marker, so that lines never run together.
    return "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
    )


def write_files(files: Iterable[AdoptedFile]) -> None:
    """Replace each changed file by its new text, each only if it still holds the old one."""
    pending = [file for file in files if file.changed]
    for file in pending:
        if file.path.read_text(encoding="utf-8") != file.old_text:
            raise AdoptError(f"{file.relative}: changed while adopting; nothing was written")
    for file in pending:
        _replace(file.path, file.new_text)


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` through a file beside it, renamed into place (mode kept)."""
    mode = path.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
