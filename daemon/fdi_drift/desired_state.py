"""The desired-state tree: one YAML file per resource, loaded safely, validated, incrementally.

A tree with any problem is never used: `load` raises `DesiredStateError` listing every problem
as `file:line: pointer: message`, and the caller keeps the last good tree. A checkout is
untrusted input, so each file fails on its own and every other file is still checked: one that
is not a regular file, is bigger than `max_file_bytes`, is not UTF-8, is not valid YAML (aliases
and merge keys included), nests deeper than MAX_DEPTH, or raises anything at all while it is
read or validated, is a problem of that file. Reloads re-read only files whose size, mtime or
inode changed, so polling a large checkout is cheap. A checkout replaced during a load
(git-sync switching worktrees) is loaded again, once, from its new root.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import math
import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

from fdi_drift.checkout import git_revision
from fdi_drift.cloud.identifiers import ID_RULE, is_id
from fdi_drift.desired_cache import ParseCache
from fdi_drift.desired_files import (
    CheckoutChangedError,
    FileStamp,
    Found,
    NotRegularFileError,
    Refused,
    open_regular,
    walk_yaml_files,
)
from fdi_drift.drift.differ import PreparedDesired, prepare_desired
from fdi_drift.drift.document import MAX_DEPTH
from fdi_drift.drift.ignore import IgnoreRules, compile_ignore
from fdi_drift.drift.model import (
    JSONObject,
    JSONValue,
    Kind,
    ReconcileMode,
    ResourceKey,
    RunningPolicy,
)
from fdi_drift.drift.packed import pack, unpack
from fdi_drift.drift.pointer import child_pointer, split_pointer
from fdi_drift.drift.secret_ref import reference_problems
from fdi_drift.errors import DesiredStateError, DocumentError
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import KindSpec, Scope
from fdi_drift.prefill import Helper, serve, start_helper
from fdi_drift.yaml_documents import (
    LineIndex,
    Reading,
    UnreadableYAMLError,
    fast_document,
    load_documents,
)

API_VERSION = "fdi-drift/v1"
DEFAULT_MAX_FILE_BYTES = 1_048_576
_TOP_KEYS = ("apiVersion", "kind", "metadata", "spec", "policy", "ignore")


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a file is invalid."""

    file: str
    line: int | None
    pointer: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.pointer}: {self.message}"
            if self.pointer
            else f"{where}: {self.message}"
        )


@dataclass(frozen=True, slots=True)
class DesiredResource:
    """One declared resource, ready to compare."""

    key: ResourceKey
    scope: Scope
    source: str
    packed: bytes  # the document, packed (drift/packed.py): a large tree is held compactly
    prepared: PreparedDesired
    reconcile: ReconcileMode | None
    ignore: tuple[str, ...]
    running: RunningPolicy | None = None
    allow_create: bool = False
    options: Mapping[str, JSONValue] = field(default_factory=dict)  # the kind's write options

    @property
    def document(self) -> JSONObject:
        """What is declared, implied fields added; may hold secretRefs. A new copy each read."""
        return cast(JSONObject, unpack(self.packed))


@dataclass(frozen=True, slots=True)
class DesiredTree:
    """A validated desired-state tree at one revision."""

    root: Path
    revision: str
    resources: tuple[DesiredResource, ...]


@dataclass(frozen=True, slots=True)
class _FileResult:
    stamp: FileStamp | None  # None: checked again at every load
    digest: str
    resource: DesiredResource | None
    problems: tuple[Problem, ...]


# Files a load parses before it asks for a helper: a reload of a few changed files never does.
HELP_AFTER = 64


class DesiredStateLoader:
    """Loads a tree, re-parsing only what changed since the previous load."""

    def __init__(
        self,
        root: Path,
        specs: Mapping[Kind, KindSpec] | None = None,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        cache_dir: Path | None = None,
        helper: bool = True,
    ) -> None:
        """`cache_dir` keeps what files parse to across restarts (desired_cache.py).

        With a cache_dir and `helper`, a load that has parsed HELP_AFTER files starts a second
        process that parses from the tree's other end into the cache (prefill.py). The helper
        knows only the registered kinds, so loaders given their own `specs` never start one.
        """
        self.root = root
        self._helper = helper and cache_dir is not None and specs is None
        self._specs = catalog.specs() if specs is None else specs
        self._max_file_bytes = max_file_bytes
        self._cache: dict[str, _FileResult] = {}
        self._disk = None if cache_dir is None else ParseCache(cache_dir)
        self._specs_digest = ",".join(f"{k}={type(v).__qualname__}" for k, v in self._specs.items())
        self._stored = 0  # entries written to the disk cache by the running load
        self._parsed = 0  # files parsed by the running pass

    def load(self) -> DesiredTree:
        """The whole tree, or DesiredStateError with every problem found.

        The cyclic garbage collector is paused meanwhile: a load allocates millions of objects
        and frees none in cycles, and full collections used to be a third of its time.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._load()
        finally:
            if paused:
                gc.enable()

    def _load(self) -> DesiredTree:
        self._stored = 0
        for _ in range(2):
            if not self.root.is_dir():
                raise DesiredStateError(
                    f"{self.root}: not a directory", (f"{self.root}: not a directory",)
                )
            # Resolved once per pass, so a switch of a symlinked checkout (git-sync's `current`)
            # during the walk cannot mix two commits; files are keyed by their path inside the
            # tree, so a new worktree with the same bytes is not parsed again.
            root = self.root.resolve()
            try:
                results = self._read_tree(root)
                revision = _revision(root)
            except CheckoutChangedError:
                continue
            except OSError as error:
                message = f"{self.root}: cannot be read: {error}"
                raise DesiredStateError(message, (message,)) from error
            if self.root.resolve() == root:  # else a newer commit replaced what was read
                break
        else:
            message = f"{self.root}: the checkout kept changing during the load"
            raise DesiredStateError(message, (message,))
        self._cache = results
        if self._disk is not None and self._stored:
            self._disk.prune({r.digest for r in results.values()})
        problems = [p for r in results.values() for p in r.problems]
        resources = [r.resource for r in results.values() if r.resource is not None]
        problems.extend(_duplicates(resources))
        if problems:
            problems.sort(key=lambda p: (p.file, p.line or 0, p.pointer))
            rendered = tuple(str(p) for p in problems)
            raise DesiredStateError(
                f"{self.root}: desired state is invalid ({len(problems)} problems)", rendered
            )
        digest = hashlib.sha256("".join(sorted(r.digest for r in results.values())).encode())
        ordered = sorted(resources, key=lambda r: (r.key.kind, r.scope, r.key.name))
        return DesiredTree(
            root=self.root,
            revision=revision or f"content-{digest.hexdigest()[:12]}",
            resources=tuple(ordered),
        )

    def _read_tree(self, root: Path) -> dict[str, _FileResult]:
        results: dict[str, _FileResult] = {}
        self._parsed = 0
        helping: Helper | None = None
        try:
            with closing(walk_yaml_files(root)) as entries:
                for entry in entries:
                    if isinstance(entry, Refused):
                        results[entry.relative] = _failed(entry.relative, entry.reason)
                    else:
                        results[entry.relative] = self._load_file(entry)
                    if self._parsed == HELP_AFTER and helping is None and self._helper:
                        helping = self._start_helper(root)
        finally:
            if helping is not None:
                helping.stop()
        return results

    def _start_helper(self, root: Path) -> Helper | None:
        assert self._disk is not None  # a helper is only wanted with a cache
        return start_helper(__name__, root, self._disk.directory, self._max_file_bytes)

    def _load_file(self, found: Found) -> _FileResult:
        cached = self._cache.get(found.relative)
        try:
            read = self._read_file(found, cached)
        except CheckoutChangedError:
            raise
        except NotRegularFileError as error:
            return _failed(found.relative, str(error))
        except Exception as error:  # EACCES, EIO...: this file fails alone, and is read again
            return _failed(found.relative, _describe(error))
        if isinstance(read, _FileResult):
            return read
        stamp, data = read
        digest = hashlib.sha256(data).hexdigest()
        if cached is not None and cached.digest == digest:
            return _FileResult(stamp, digest, cached.resource, cached.problems)
        if self._disk is not None:
            entry = self._disk.get(digest)
            stored = None if entry is None else self._from_entry(found.relative, entry)
            if stored is not None:
                return _FileResult(stamp, digest, stored, ())
        resource, problems = _parse_bytes(found.relative, data, self._specs)
        self._parsed += 1
        if self._disk is not None and resource is not None:
            self._disk.put(digest, *self._to_entry(resource))
            self._stored += 1
        return _FileResult(stamp, digest, resource, tuple(problems))

    def _to_entry(self, resource: DesiredResource) -> tuple[dict[str, Any], bytes, bytes]:
        key, prepared = resource.key, resource.prepared
        header = {
            "specs": self._specs_digest,
            "kind": str(key.kind),
            "project_id": key.project_id,
            "instance_id": key.instance_id,
            "name": key.name,
            "id": key.id,
            "fingerprint": prepared.fingerprint,
            "secret_paths": [list(path) for path in prepared.secret_paths],
            "ignore": list(resource.ignore),
            "reconcile": None if resource.reconcile is None else resource.reconcile.value,
            "running": None if resource.running is None else resource.running.value,
            "allow_create": resource.allow_create,
            "options": dict(resource.options),
        }
        value = b"" if prepared.packed is resource.packed else prepared.packed
        return header, resource.packed, value

    def _from_entry(
        self, relative: str, entry: tuple[dict[str, Any], bytes, bytes]
    ) -> DesiredResource | None:
        """The resource a cache entry holds, or None when it is not one of this loader's."""
        header, packed, value = entry
        try:
            if header["specs"] != self._specs_digest:
                return None
            rules = self._specs[Kind(header["kind"])]
            scope = Scope(header["project_id"], header["instance_id"])
            ignore = tuple(header["ignore"])
            return DesiredResource(
                key=ResourceKey(
                    rules.kind, scope.project_id, scope.instance_id, header["name"], header["id"]
                ),
                scope=scope,
                source=relative,
                packed=packed,
                prepared=PreparedDesired(
                    value or packed,
                    header["fingerprint"],
                    _ignore_rules(rules, ignore),
                    tuple(tuple(path) for path in header["secret_paths"]),
                ),
                reconcile=None
                if header["reconcile"] is None
                else ReconcileMode(header["reconcile"]),
                ignore=ignore,
                running=None if header["running"] is None else RunningPolicy(header["running"]),
                allow_create=bool(header["allow_create"]),
                options=header["options"],
            )
        except (KeyError, TypeError, ValueError, DocumentError):
            return None

    def _read_file(
        self, found: Found, cached: _FileResult | None
    ) -> _FileResult | tuple[FileStamp, bytes]:
        limit = self._max_file_bytes
        with open_regular(found) as opened:
            if cached is not None and cached.stamp == opened.stamp:
                return cached
            if opened.stamp.size > limit:
                message = _too_big(opened.stamp.size, limit)
                return _FileResult(
                    opened.stamp, "", None, (Problem(found.relative, None, "", message),)
                )
            data = opened.read(limit + 1)
            if len(data) > limit:  # it grew after fstat: being written, so not cached
                size = max(len(data), os.fstat(opened.fd).st_size)
                return _failed(found.relative, _too_big(size, limit))
            return opened.stamp, data


def _revision(root: Path) -> str | None:
    try:
        return git_revision(root)
    except FileNotFoundError as error:
        raise CheckoutChangedError(str(root)) from error
    except (OSError, ValueError):  # an unreadable .git: the content digest names the tree
        return None


def _failed(relative: str, message: str) -> _FileResult:
    return _FileResult(None, "", None, (Problem(relative, None, "", message),))


def _too_big(size: int, limit: int) -> str:
    return f"file is {size} bytes, more than the limit of {limit} (desired_state_max_file_bytes)"


def _describe(error: BaseException) -> str:
    # One line, bounded: the message may quote the file, and never a traceback.
    detail = " ".join(str(error).split())
    if len(detail) > 200:
        detail = detail[:200] + "..."
    name = type(error).__name__
    return f"cannot be loaded: {name}: {detail}" if detail else f"cannot be loaded: {name}"


def fill_cache(
    root: Path, cache_dir: Path, max_file_bytes: int, stopped: Callable[[], bool]
) -> int:
    """Parse the tree's files, from the last back, into the cache; how many were stored.

    The helper's side of a cold load (prefill.py), which meets the loader coming forward:
    files already cached are skipped, and the loader uses an entry only for bytes that hash
    alike, so what is read here needs none of the loader's care. Stops when `stopped()`.
    """
    loader = DesiredStateLoader(
        root, cache_dir=cache_dir, max_file_bytes=max_file_bytes, helper=False
    )
    disk = loader._disk
    assert disk is not None
    with closing(walk_yaml_files(root)) as entries:
        listed = [entry.relative for entry in entries if isinstance(entry, Found)]
    stored = 0
    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for relative in reversed(listed):
            if stopped():
                break
            data = _read_listed(top, relative, max_file_bytes)
            if data is None:
                continue
            digest = hashlib.sha256(data).hexdigest()
            if disk.holds(digest):
                continue
            resource, _ = _parse_bytes(relative, data, loader._specs)
            if resource is not None:
                disk.put(digest, *loader._to_entry(resource))
                stored += 1
    finally:
        os.close(top)
    return stored


def _read_listed(top: int, relative: str, limit: int) -> bytes | None:
    """A listed file's bytes, opened as the loader opens it, or None: gone, not a regular
    file, over `limit` or unreadable (the loader reports it when it gets there)."""
    try:
        with open_regular(Found(relative, top, relative)) as opened:
            if opened.stamp.size > limit:
                return None
            data = opened.read(limit + 1)
    except (CheckoutChangedError, NotRegularFileError, OSError):
        return None
    return data if len(data) <= limit else None


def parse_resource_text(
    relative: str,
    text: str,
    specs: Mapping[Kind, KindSpec] | None = None,
    *,
    reading: Reading | None = None,
) -> tuple[DesiredResource | None, list[Problem]]:
    """Parse and validate one file's text.

    `reading`, what the text reads as when the caller has read it already, spares a reading.
    """
    return _parse_file(relative, text, catalog.specs() if specs is None else specs, reading)


def text_problems(
    relative: str, text: str, specs: Mapping[Kind, KindSpec], *, reading: Reading | None = None
) -> list[Problem]:
    """What `fdi-drift validate` would find in one file's text, for `export` to check what it
    writes; `reading` as for `parse_resource_text`.

    The same checks, without the compact forms a loaded resource is kept in: each is made of a
    document found to be JSON already, so making one finds nothing more.
    """
    return _parse_file(relative, text, specs, reading, build=False)[1]


def _parse_bytes(
    relative: str, data: bytes, specs: Mapping[Kind, KindSpec]
) -> tuple[DesiredResource | None, list[Problem]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        return None, [Problem(relative, line, "", f"not UTF-8 text (byte 0x{byte:02x})")]
    return _parse_file(relative, text, specs)


def _parse_file(
    relative: str,
    text: str,
    specs: Mapping[Kind, KindSpec],
    reading: Reading | None = None,
    *,
    build: bool = True,
) -> tuple[DesiredResource | None, list[Problem]]:
    try:
        return _parse_text(relative, text, specs, reading, build=build)
    except Exception as error:  # whatever a hostile file makes the parser do, it fails alone
        return None, [Problem(relative, None, "", _describe(error))]


def _parse_text(
    relative: str,
    text: str,
    specs: Mapping[Kind, KindSpec],
    reading: Reading | None = None,
    *,
    build: bool = True,
) -> tuple[DesiredResource | None, list[Problem]]:
    raw = fast_document(text) if reading is None else reading.fast
    if raw is not None:
        json_text = _json_text(raw)
        clean = json_text is not None and not _too_deep(json_text)
    else:
        try:
            documents = load_documents(text) if reading is None else reading.documents
        except UnreadableYAMLError as error:
            return None, [Problem(relative, error.line, "", error.message)]
        if len(documents) != 1:
            message = "a file holds exactly one resource document"
            return None, [Problem(relative, None, "", message)]
        raw, json_text = documents[0], None
        clean = _is_json(raw)
    findings = [] if clean else _json_problems(raw, "")
    if not findings and isinstance(raw, dict):
        resource, findings = _build(relative, raw, specs, json_text, build=build)
        if not findings:
            return resource, []
    elif not findings:
        findings = [("", "the document must be a mapping")]
    lines = LineIndex(text)
    return None, [
        Problem(relative, lines.line_at(split_pointer(ptr)), ptr, msg) for ptr, msg in findings
    ]


_Finding = tuple[str, str]  # (pointer, message)


def _build(
    relative: str,
    raw: dict[str, Any],
    specs: Mapping[Kind, KindSpec],
    json_text: bytes | None,
    *,
    build: bool = True,
) -> tuple[DesiredResource | None, list[_Finding]]:
    """The resource a JSON-clean document declares (None unless `build`), or every problem
    found in it.

    `json_text`, the document's JSON when known, spares walks that could find nothing in it.
    """
    identified, found = _envelope(raw, specs)
    if identified is None:
        return None, found
    kind, rules = identified
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        return None, [*found, ("/metadata", "must be a mapping")]
    found.extend(_metadata_problems(metadata, rules.needs_instance))
    spec = raw.get("spec", {})
    if not isinstance(spec, dict):
        return None, [*found, ("/spec", "must be a mapping")]
    name = metadata.get("name")
    if isinstance(name, str):
        found.extend((p.pointer, p.message) for p in rules.validate(name, spec))
    policy, problems = _policy(raw.get("policy", {}), kind, rules)
    found.extend(problems)
    ignore, problems = _ignore_patterns(raw.get("ignore", []))
    found.extend(problems)
    mentions_references = _mentions_secret_ref(spec if json_text is None else json_text)
    if mentions_references:
        found.extend(reference_problems(spec, "/spec"))
    if found or not isinstance(name, str):
        return None, found
    scope = Scope(metadata["project_id"], metadata.get("instance_id", ""))
    document = rules.desired_document(name, cast(JSONObject, spec))
    identity = ResourceKey(kind, scope.project_id, scope.instance_id, name, metadata.get("id", ""))
    if not build:
        return None, []
    packed = pack(document)
    resource = DesiredResource(
        key=identity,
        scope=scope,
        source=relative,
        packed=packed,
        prepared=prepare_desired(
            document,
            _ignore_rules(rules, ignore),
            packed_spec=packed,
            secret_refs=mentions_references,
            text=json_text,
        ),
        reconcile=policy.reconcile,
        ignore=ignore,
        running=policy.running,
        allow_create=policy.allow_create,
        options=policy.options,
    )
    return resource, []


def _envelope(
    raw: dict[str, Any], specs: Mapping[Kind, KindSpec]
) -> tuple[tuple[Kind, KindSpec] | None, list[_Finding]]:
    """Top-level keys, apiVersion and kind; without a kind managed here nothing more is checked."""
    found = [
        (f"/{key}", f"unknown field (known: {', '.join(_TOP_KEYS)})")
        for key in raw
        if key not in _TOP_KEYS
    ]
    if raw.get("apiVersion") != API_VERSION:
        found.append(("/apiVersion", f"must be {API_VERSION}"))
    rules = specs.get(Kind(str(raw.get("kind"))))
    if rules is None:
        return None, [*found, ("/kind", f"must be one of {', '.join(specs)}")]
    return (rules.kind, rules), found


def _metadata_problems(metadata: dict[str, Any], needs_instance: bool) -> list[_Finding]:
    """A name and the ids of the scope (and of the resource, if given), nothing else."""
    names = (
        ["name", "project_id", "instance_id", "id"]
        if needs_instance
        else ["name", "project_id", "id"]
    )
    found = [
        (f"/metadata/{key}", f"unknown field (known: {', '.join(names)})")
        for key in metadata
        if key not in names
    ]
    for key in names:
        value = metadata.get(key)
        if value is None and key == "id":  # the only optional one
            continue
        if not isinstance(value, str) or not value:
            found.append((f"/metadata/{key}", "required, a non-empty string"))
        elif key != "name" and not is_id(value):
            found.append((f"/metadata/{key}", f"an id is {ID_RULE}"))
    return found


@dataclass(frozen=True, slots=True)
class _Policy:
    """What a file's `policy` asks of corrections to its resource."""

    reconcile: ReconcileMode | None = None
    running: RunningPolicy | None = None
    allow_create: bool = False
    options: Mapping[str, JSONValue] = field(default_factory=dict)


def _policy(policy: Any, kind: Kind, rules: KindSpec) -> tuple[_Policy, list[_Finding]]:
    """The policy declared, and its problems; one that is not a mapping counts as none."""
    if not isinstance(policy, dict):
        return _Policy(), [("/policy", "must be a mapping")]
    found: list[_Finding] = []
    known = ("reconcile", "running", "allow_create", *rules.write_options)
    for key in policy:
        if key not in known:
            found.append((f"/policy/{key}", f"unknown field (known: {', '.join(known)})"))
    for key in ("allow_create", *rules.write_options):
        if key in policy and not isinstance(policy[key], bool):
            found.append((f"/policy/{key}", "must be true or false"))
    if policy.get("allow_create") and not rules.can_create:
        found.append(("/policy/allow_create", f"{kind} cannot be created by fdi-drift"))
    reconcile: ReconcileMode | None = None
    running: RunningPolicy | None = None
    if "reconcile" in policy:
        try:
            reconcile = ReconcileMode(policy["reconcile"])
        except ValueError:
            found.append(("/policy/reconcile", "must be observe, dry-run or auto"))
    if "running" in policy:
        try:
            running = RunningPolicy(policy["running"])
        except ValueError:
            found.append(("/policy/running", "must be skip or stop-update-start"))
    declared = _Policy(
        reconcile=reconcile,
        running=running,
        allow_create=bool(policy.get("allow_create", False)),
        options={k: policy[k] for k in rules.write_options if k in policy},
    )
    return declared, found


def _ignore_patterns(ignore: Any) -> tuple[tuple[str, ...], list[_Finding]]:
    """The file's ignore patterns, and their problems: each is checked alone, so all are named."""
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        return (), [("/ignore", "must be a list of JSON pointer patterns")]
    found: list[_Finding] = []
    for index, pattern in enumerate(ignore):
        try:
            compile_ignore([pattern], where=f"/ignore/{index}")
        except DocumentError as error:
            found.append((f"/ignore/{index}", str(error)))
    return tuple(ignore), found


def _ignore_rules(rules: KindSpec, ignore: tuple[str, ...]) -> IgnoreRules:
    return _compiled_ignore((*rules.default_ignore, *ignore))


@functools.lru_cache(maxsize=256)
def _compiled_ignore(patterns: tuple[str, ...]) -> IgnoreRules:
    # Thousands of files share a few ignore lists: each is compiled once.
    return compile_ignore(patterns)


# In the indented JSON of a document, a line indented this far starts a value nested deeper
# than MAX_DEPTH: the container is a problem, a scalar is not.
_TOO_DEEP = re.compile(rb"\n {%d}(?:\"(?:[^\"\\]|\\.)*\": )?[\[{]" % (2 * MAX_DEPTH))
_DEEP_LINE = b"\n" + b" " * (2 * MAX_DEPTH)


def _too_deep(json_text: bytes) -> bool:
    """Whether indented JSON holds a container nested deeper than MAX_DEPTH.

    A plain search for the indentation first: the pattern costs a tenth of a load's time.
    """
    return _DEEP_LINE in json_text and _TOO_DEEP.search(json_text) is not None


def _json_text(document: Any) -> bytes | None:
    """The document as indented JSON, or None when orjson cannot write it (wide integers, keys
    that are not strings)."""
    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2)
    except TypeError:
        return None


def _mentions_secret_ref(spec: dict[str, Any] | bytes) -> bool:
    """False when no mapping in `spec` (or in the JSON text given) can be a secret reference."""
    try:
        text = spec if isinstance(spec, bytes) else orjson.dumps(spec)
    except TypeError:  # an integer wider than 64 bits: look the slow way
        return True
    return b'"secretRef"' in text


def _is_json(value: Any) -> bool:
    """Whether `_json_problems` would find nothing: the same walk without naming places.

    Naming each place costs more than the rest of a load; only a document with a problem pays.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict:
            if depth > MAX_DEPTH:
                return False
            for key, child in item.items():
                if type(key) is not str:
                    return False
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1))
                elif not _is_json_scalar(child):
                    return False
        elif kind is list:
            if depth > MAX_DEPTH:
                return False
            for child in item:
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1))
                elif not _is_json_scalar(child):
                    return False
        elif not _is_json_scalar(item):
            return False
    return True


def _is_json_scalar(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    return kind is float and math.isfinite(value)


def _json_problems(value: Any, pointer: str) -> list[_Finding]:
    """Everything that JSON cannot carry: non-string keys, dates, binary, NaN, deep nesting.

    Iterative, so it is safe on any depth, and it runs before anything recursive does.
    """
    found: list[_Finding] = []
    too_deep = False
    stack: list[tuple[Any, str, int]] = [(value, pointer, 1)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH and isinstance(item, dict | list):
            if not too_deep:  # once: every branch below the limit would say the same
                found.append((where, f"nested more than {MAX_DEPTH} levels deep"))
                too_deep = True
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    found.append((where, f"key {key!r} is not a string; quote it"))
                    continue
                stack.append((child, child_pointer(where, key), depth + 1))
        elif isinstance(item, list):
            stack.extend(
                (child, child_pointer(where, i), depth + 1) for i, child in enumerate(item)
            )
        elif isinstance(item, float) and not math.isfinite(item):
            found.append((where, "JSON has no NaN or infinity"))
        elif item is not None and not isinstance(item, bool | int | float | str):
            found.append((where, f"a {type(item).__name__} is not JSON; quote it"))
    return found


def _duplicates(resources: list[DesiredResource]) -> list[Problem]:
    by_identity: dict[tuple[object, ...], list[DesiredResource]] = defaultdict(list)
    for resource in resources:
        key = resource.key
        by_identity[(key.kind, resource.scope, "name", key.name)].append(resource)
        if key.id:
            by_identity[(key.kind, resource.scope, "id", key.id)].append(resource)
    problems = []
    for (kind, scope, bound_by, value), group in by_identity.items():
        if len(group) > 1:
            files = ", ".join(r.source for r in group)
            for resource in group:
                problems.append(
                    Problem(
                        resource.source,
                        None,
                        f"/metadata/{bound_by}",
                        f"{kind} {scope} {bound_by} {value!r} is declared more than once ({files})",
                    )
                )
    return problems


if __name__ == "__main__":  # the helper of a cold load (prefill.py)
    sys.exit(serve(fill_cache, sys.argv[1:]))
