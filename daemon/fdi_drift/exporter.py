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
import contextlib
import gc
import itertools
import multiprocessing
import pickle
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import orjson

from fdi_drift.desired_state import API_VERSION, text_problems
from fdi_drift.drift.document import is_masked
from fdi_drift.drift.ignore import IgnoreRules, compile_ignore, prune
from fdi_drift.drift.model import JSONValue, Kind
from fdi_drift.drift.model import Path as JSONPath
from fdi_drift.drift.pointer import format_pointer
from fdi_drift.drift.redaction import looks_secret
from fdi_drift.drift.secret_ref import make_reference, placeholder
from fdi_drift.errors import DesiredStateError, FdiDriftError
from fdi_drift.kinds.contract import KindDriver, KindSpec, LiveEntry, Scope
from fdi_drift.yaml_documents import dump_and_read

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

# The drivers of API clients whose request rate is `share` of the configured rate.
OpenDrivers = Callable[[float], AbstractAsyncContextManager[Mapping[Kind, KindDriver]]]
# Which listed resources to export; how many files are made, of how many.
Only = Callable[[Kind, Scope, LiveEntry], bool]
Progress = Callable[[int, int], None]


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
    that project (the kind's driver lists them). Files that exist already are refused, before
    anything is read, unless `force`; nothing is written unless every file could be made.
    """
    listings = await list_live(drivers, specs, targets)
    _refuse_existing(listings, out, force)
    with _Staging(out) as staging:
        made = await make_files(drivers, specs, listings, out, staging.folder, concurrency)
        return staging.commit(made)


def export_in_processes(
    open_drivers: OpenDrivers,
    specs: Mapping[Kind, KindSpec],
    targets: Iterable[tuple[Kind, Scope]],
    out: Path,
    *,
    force: bool = False,
    jobs: int = 1,
    concurrency: int = 8,
    only: Only | None = None,
    progress: Progress | None = None,
) -> list[ExportedFile]:
    """`export_resources`, the reading and the making of files shared by up to `jobs` processes.

    `only` keeps the listed resources it is true of; `progress(done, total)` hears of each file
    made in this process.

    Making a file costs several times the CPU of reading its resource, so one process keeps one
    core busy and no more. The resources are listed here; then each of the forked processes (no
    more than one per `_PER_PROCESS` resources) reads and makes a contiguous part of the files
    with API clients of its own, `open_drivers(share)`, where `share` is its part of the
    configured request rate, so that together they stay within it. The files are moved into
    place here, in the listed order, once every part is made.
    """
    targets = list(targets)

    async def listed() -> tuple[list[Listing], list[ExportedFile] | None]:
        async with open_drivers(1.0) as drivers:
            listings = await list_live(drivers, specs, targets, only)
            _refuse_existing(listings, out, force)
            if _parts(listings, jobs) > 1:
                return listings, None
            with _Staging(out) as staging:  # one part: made here, on these clients
                made = await make_files(
                    drivers, specs, listings, out, staging.folder, concurrency, progress
                )
                return listings, staging.commit(made)

    listings, written = asyncio.run(listed())
    if written is not None:
        return written
    with _Staging(out) as staging:
        parts = _split(listings, _parts(listings, jobs))
        made = _in_processes(_Forked(open_drivers, specs, parts, out, staging.folder, concurrency))
        return staging.commit(made)


@dataclass(frozen=True, slots=True)
class Listing:
    """The live resources of one kind in one scope, as the list answers show them."""

    kind: Kind
    scope: Scope
    entries: tuple[LiveEntry, ...]


async def list_live(
    drivers: Mapping[Kind, KindDriver],
    specs: Mapping[Kind, KindSpec],
    targets: Iterable[tuple[Kind, Scope]],
    only: Only | None = None,
) -> list[Listing]:
    """Every live resource of the targets (that `only` is true of), by kind and scope."""
    listings = []
    for kind, scope in await _each_scope(drivers, specs, targets):
        entries = await drivers[kind].list(scope)
        kept = entries if only is None else [e for e in entries if only(kind, scope, e)]
        listings.append(Listing(kind, scope, tuple(kept)))
    return listings


@dataclass(frozen=True, slots=True)
class _Made:
    """A file made at `staged`, in a staging folder, to be moved to `file.path`."""

    file: ExportedFile
    staged: Path


async def make_files(
    drivers: Mapping[Kind, KindDriver],
    specs: Mapping[Kind, KindSpec],
    listings: Iterable[Listing],
    out: Path,
    folder: Path,
    concurrency: int,
    progress: Progress | None = None,
) -> list[_Made]:
    """Read each listed resource and write its file into `folder`, named by a count.

    Each file is written as soon as its resource is read: thousands of decoded documents, or of
    texts, held at once cost gigabytes.
    """
    semaphore = asyncio.Semaphore(concurrency)
    counter = itertools.count()
    made: list[_Made] = []
    listings = list(listings)
    total = sum(len(listing.entries) for listing in listings)
    for listing in listings:
        kind, scope = listing.kind, listing.scope
        default_ignore = compile_ignore(specs[kind].default_ignore)

        async def one(
            entry: LiveEntry,
            kind: Kind = kind,
            scope: Scope = scope,
            default_ignore: IgnoreRules = default_ignore,
        ) -> _Made:
            async with semaphore:
                document = (await drivers[kind].read(scope, entry.id)).decode().value
            file, text = _exported(kind, scope, entry, document, specs, default_ignore, out)
            number = next(counter)
            staged = folder / f"{number}.yaml"
            staged.write_text(text, encoding="utf-8")
            if progress is not None:
                progress(number + 1, total)
            return _Made(file, staged)

        made.extend(await asyncio.gather(*(one(entry) for entry in listing.entries)))
    return made


def _path(out: Path, scope: Scope, name: str) -> Path:
    """Where the file of the resource called `name` in `scope` goes."""
    folders = (scope.project_id, scope.instance_id or "drs-jobs")
    relative = Path(*(_UNSAFE.sub("_", part) for part in folders))
    return out / relative / f"{_UNSAFE.sub('_', name)}.yaml"


def _refuse_existing(listings: Iterable[Listing], out: Path, force: bool) -> None:
    """DesiredStateError naming the files that exist already, unless `force`."""
    if force:
        return
    paths = (_path(out, listing.scope, e.name) for listing in listings for e in listing.entries)
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise DesiredStateError(
            f"{len(existing)} files exist already; pass --force to replace them",
            tuple(existing),
        )


class _Staging:
    """A hidden folder in `out` where files are made; they move into place only when all are.

    Leaving the context removes the folder and what is still in it, and `out` too if it was
    made for the staging folder and holds nothing else.
    """

    def __init__(self, out: Path) -> None:
        self._out = out
        self._made_out = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix=".fdi-drift-export-", dir=out))

    def __enter__(self) -> _Staging:
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._made_out:
            with contextlib.suppress(OSError):  # not empty: something was written
                self._out.rmdir()

    def commit(self, made: Iterable[_Made]) -> list[ExportedFile]:
        """Move every made file into place, in order; the files moved."""
        written = []
        for item in made:
            item.file.path.parent.mkdir(parents=True, exist_ok=True)
            item.staged.replace(item.file.path)
            written.append(item.file)
        return written


# A second process costs a fork, a login and its share of the rate: worth it from this many.
_PER_PROCESS = 100


def _parts(listings: Iterable[Listing], jobs: int) -> int:
    """How many processes make the files of `listings`: one where fork is unavailable."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    total = sum(len(listing.entries) for listing in listings)
    return max(1, min(jobs, total // _PER_PROCESS))


def _split(listings: list[Listing], parts: int) -> list[list[Listing]]:
    """`listings` cut into `parts` contiguous runs of resources, as equal in size as can be."""
    pairs = [(listing, entry) for listing in listings for entry in listing.entries]
    bounds = [len(pairs) * part // parts for part in range(parts + 1)]
    runs: list[list[Listing]] = []
    for start, stop in itertools.pairwise(bounds):
        run: list[Listing] = []
        for listing, group in itertools.groupby(pairs[start:stop], key=lambda pair: pair[0]):
            run.append(Listing(listing.kind, listing.scope, tuple(e for _, e in group)))
        runs.append(run)
    return runs


@dataclass(frozen=True, slots=True)
class _Forked:
    """What every forked process shares; each makes `parts[its index]`."""

    open_drivers: OpenDrivers
    specs: Mapping[Kind, KindSpec]
    parts: list[list[Listing]]
    out: Path
    folder: Path
    concurrency: int


# Set only while the processes are forked, which inherit it: nothing of it is pickled, so
# neither are the credentials behind `open_drivers`.
_FORKED: _Forked | None = None


def _in_processes(forked: _Forked) -> list[_Made]:
    """The files each forked process made of its part, in the order of the parts."""
    global _FORKED  # the forked processes' inheritance, set and cleared here
    _FORKED = forked
    gc.freeze()  # collections in the children would touch, and so copy, every page they share
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(len(forked.parts), mp_context=context) as pool:
            answers = list(pool.map(_make_part, range(len(forked.parts))))
    except BrokenProcessPool:
        raise FdiDriftError("an export process ended before it answered (out of memory?)") from None
    finally:
        _FORKED = None
        gc.unfreeze()
    made: list[_Made] = []
    for answer in answers:
        if isinstance(answer, FdiDriftError):
            raise answer
        made.extend(answer)
    return made


def _make_part(index: int) -> list[_Made] | FdiDriftError:
    """In a forked process: make the files of part `index`; our own error is the answer."""
    forked = _FORKED
    assert forked is not None  # set before the fork

    async def make() -> list[_Made]:
        async with forked.open_drivers(1 / len(forked.parts)) as drivers:
            # A folder of its own: files made in one folder by two processes contend for its lock.
            folder = forked.folder / str(index)
            folder.mkdir()
            part = forked.parts[index]
            return await make_files(
                drivers, forked.specs, part, forked.out, folder, forked.concurrency
            )

    try:
        return asyncio.run(make())
    except FdiDriftError as error:
        try:  # it travels back pickled: as itself if it can, else as its message
            return cast(FdiDriftError, pickle.loads(pickle.dumps(error)))  # noqa: S301 - our own
        except Exception:  # any failure to pickle or unpickle
            return FdiDriftError(str(error))


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
    path = _path(out, scope, entry.name)
    text, reading = dump_and_read(resource)
    problems = text_problems(path.name, text, specs, reading=reading)
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
