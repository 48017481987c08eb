"""Parsed desired files on disk, by content digest, so a restart does not parse them again.

Parsing and validating 10,000 exported tasks costs tens of CPU seconds; reading them back from
here costs about a tenth of a millisecond each. An entry is keyed by the SHA-256 of the file's
bytes and holds what the loader made of them (a header, the packed document and the packed value
compared). Entries live under a namespace named by a digest of this package's source and the
YAML parsers' versions, so a new release (or any change to the code that validates) never reads
an older one's results; older namespaces are removed after a day.

The cache is an optimisation and never a reason to fail: an entry that is missing, torn,
altered or unreadable is a miss (and is written again), a directory that cannot be written is
logged once and the load goes on without it. Entries are written to a temporary file and renamed,
so a reader never sees half of one. Entries no longer used are removed once they outnumber the
files in use, so the directory stays about the size of the tree.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import struct
import time
from pathlib import Path
from typing import Any

import orjson
import yaml
import yaml_rs

log = logging.getLogger(__name__)

FORMAT = b"FDC1"
_CHECKSUM = 16
_LENGTHS = struct.Struct(">II")  # of the header, and of the first blob
_STALE_NAMESPACE_SECONDS = 86_400.0
_MAX_ENTRY_BYTES = 16 * 1024 * 1024
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@functools.cache
def code_digest() -> str:
    """A digest of everything that decides what a file parses to: this package and its parsers."""
    digest = hashlib.sha256(FORMAT)
    digest.update(f"{yaml_rs.__version__}/{yaml.__version__}/{orjson.__version__}".encode())
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ParseCache:
    """Entries under `directory`/desired-<code digest>/<digest[:2]>/<digest>."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.namespace = directory / f"desired-{code_digest()}"
        self._writable = True
        self.hits = 0
        self.misses = 0

    def get(self, digest: str) -> tuple[dict[str, Any], bytes, bytes] | None:
        """The header and the two blobs stored for `digest`, or None."""
        try:
            with self._path(digest).open("rb") as entry:
                data = entry.read(_MAX_ENTRY_BYTES + 1)
        except OSError:
            self.misses += 1
            return None
        found = _decode(data)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def holds(self, digest: str) -> bool:
        """Whether an entry is stored for `digest` (not whether it is intact)."""
        return self._path(digest).exists()

    def put(self, digest: str, header: dict[str, Any], first: bytes, second: bytes) -> None:
        """Store an entry; a failure is logged once and the cache stops writing."""
        if not self._writable:
            return
        encoded = orjson.dumps(header)
        body = _LENGTHS.pack(len(encoded), len(first)) + encoded + first + second
        data = FORMAT + hashlib.blake2b(body, digest_size=_CHECKSUM).digest() + body
        try:
            _replace(self._path(digest), data)
        except OSError as error:
            self._writable = False
            log.warning(
                "the desired-state cache cannot be written; loads go on without it",
                extra={"cache_dir": str(self.directory), "error": error.strerror or str(error)},
            )

    def prune(self, in_use: set[str]) -> int:
        """Remove entries not `in_use` once they outnumber those in use, and old namespaces."""
        removed = 0
        try:
            entries = [
                entry
                for shard in os.scandir(self.namespace)
                if shard.is_dir(follow_symlinks=False)
                for entry in os.scandir(shard.path)
            ]
        except OSError:
            return 0
        unused = [e for e in entries if e.name not in in_use]
        if len(unused) > len(in_use):
            for entry in unused:
                removed += _remove(Path(entry.path))
        removed += self._prune_namespaces()
        return removed

    def _prune_namespaces(self) -> int:
        removed = 0
        cutoff = time.time() - _STALE_NAMESPACE_SECONDS
        try:
            namespaces = [
                n
                for n in os.scandir(self.directory)
                if n.name.startswith(("desired-", "verdicts-")) and n.path != str(self.namespace)
            ]
        except OSError:
            return 0
        current = f"verdicts-{code_digest()}-"
        for namespace in namespaces:
            try:
                if namespace.stat(follow_symlinks=False).st_mtime > cutoff:
                    continue
                if namespace.name.startswith("verdicts-"):  # another release's verdicts
                    if not namespace.name.startswith(current):
                        removed += _remove(Path(namespace.path))
                    continue
                if not namespace.is_dir(follow_symlinks=False):
                    continue
                for root, directories, files in os.walk(namespace.path, topdown=False):
                    for name in files:
                        removed += _remove(Path(root, name))
                    for name in directories:
                        Path(root, name).rmdir()
                Path(namespace.path).rmdir()
            except OSError:
                continue
        return removed

    def _path(self, digest: str) -> Path:
        return self.namespace / digest[:2] / digest


def _decode(data: bytes) -> tuple[dict[str, Any], bytes, bytes] | None:
    """The parts of an entry, or None when it is torn, altered or not an entry at all."""
    start = len(FORMAT) + _CHECKSUM
    if len(data) < start + _LENGTHS.size or not data.startswith(FORMAT):
        return None
    body = memoryview(data)[start:]
    if hashlib.blake2b(body, digest_size=_CHECKSUM).digest() != data[len(FORMAT) : start]:
        return None
    header_length, first_length = _LENGTHS.unpack_from(body)
    offset = _LENGTHS.size + header_length
    if offset + first_length > len(body):
        return None
    try:
        header = orjson.loads(body[_LENGTHS.size : offset])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(header, dict):
        return None
    first = bytes(body[offset : offset + first_length])
    second = bytes(body[offset + first_length :])
    return header, first, second


def _replace(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a temporary file beside it, renamed over it.

    The temporary name is random, as several processes may share the directory. Made with
    plain `os.open`: tempfile.mkstemp, and a mkdir before every write, cost a cold load of
    10,000 files seconds.
    """
    descriptor, temporary = _create_beside(path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
        finally:
            os.close(descriptor)
        temporary.replace(path)
    except BaseException:
        temporary.unlink()
        raise


def _create_beside(directory: Path) -> tuple[int, Path]:
    """A new temporary file (descriptor, path) in `directory`, made first if need be."""
    for attempt in range(100):
        temporary = directory / f".write-{os.urandom(8).hex()}"
        try:
            return os.open(temporary, _CREATE, 0o600), temporary
        except FileNotFoundError:
            if attempt:
                raise
            directory.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: no free temporary name")


def _remove(path: Path) -> int:
    try:
        path.unlink()
    except OSError:
        return 0
    return 1


class Verdicts:
    """The in-sync verdicts of the last cycle, kept across restarts: `key -> (live, desired)`.

    A restarted daemon reads every resource again; one whose answer and declaration hash as
    they did when it was last judged in sync is in sync again without being decoded and
    compared (0.8 ms a task). The file is namespaced by the code digest like the parse cache,
    written by rename, and anything unreadable in it is simply not used.
    """

    def __init__(self, directory: Path, shard: int = 0) -> None:
        """One file per shard, should replicas share a directory."""
        self.path = directory / f"verdicts-{code_digest()}-{shard}.json"
        self._written: bytes = b""
        self.known: dict[str, tuple[str, str]] = {}
        try:
            with self.path.open("rb") as stored:
                loaded = orjson.loads(stored.read(_MAX_ENTRY_BYTES))
        except (OSError, orjson.JSONDecodeError):
            return
        if isinstance(loaded, dict):
            self.known = {
                key: (pair[0], pair[1])
                for key, pair in loaded.items()
                if isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(part, str) for part in pair)
            }

    def save(self, in_sync: dict[str, tuple[str, str]]) -> bool:
        """Replace the stored verdicts; whether they are stored now. A failure is logged and
        changes nothing else."""
        data = orjson.dumps(in_sync, option=orjson.OPT_SORT_KEYS)
        if data == self._written:
            return True
        try:
            _replace(self.path, data)
        except OSError as error:
            log.warning(
                "the verdicts cannot be kept in the cache directory",
                extra={"cache_dir": str(self.path.parent), "error": error.strerror or str(error)},
            )
            return False
        self._written = data
        return True
