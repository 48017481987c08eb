"""The YAML files of a desired-state tree, found and opened without following links or blocking.

A checkout is untrusted input: an entry named `x.yaml` may be a symlink (to /dev/zero, to a file
outside the tree), a FIFO that never answers, a device, a socket or a directory. Only regular
files are read. Each directory and file is opened relative to its parent directory's descriptor
with O_NOFOLLOW, and a file is checked by fstat on the descriptor it is read from, so nothing
can be swapped in between a check and a read; O_NONBLOCK means no open ever waits.

Something listed that has since gone means the checkout was replaced underneath the walk
(git-sync switched worktrees): `CheckoutChangedError`, for the caller to start again.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fdi_drift.file_kind import kind_of

# One descriptor stays open per level while the walk is below it, so the depth is bounded.
MAX_DIRECTORY_DEPTH = 32
ONLY_REGULAR = "only regular files inside the tree are read"

_SUFFIXES = (".yaml", ".yml")
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
# What opening a listed directory meets when it has been removed or replaced since the listing.
_DIRECTORY_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
_CHUNK = 1 << 20


class CheckoutChangedError(Exception):
    """Something the walk listed is gone: the checkout was replaced while it was read."""


class NotRegularFileError(Exception):
    """What was opened is not a regular file; the message says what it is."""


@dataclass(frozen=True, slots=True)
class Refused:
    """An entry that is not read, and why."""

    relative: str
    reason: str


@dataclass(frozen=True, slots=True)
class Found:
    """A YAML file as listed, to be opened before the walk is asked for its next entry.

    `directory` is the descriptor of the file's directory, which the walk closes as it moves on.
    """

    relative: str
    directory: int
    name: str


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What changes when a file's content may have: checked before reading it again."""

    mtime_ns: int
    size: int
    inode: int


@dataclass(frozen=True, slots=True)
class OpenedFile:
    """A regular file open for reading."""

    fd: int
    stamp: FileStamp

    def read(self, limit: int) -> bytes:
        """At most `limit` bytes from the start of the file."""
        chunks: list[bytes] = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(self.fd, min(remaining, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class _Frame:
    fd: int
    prefix: str
    subdirectories: list[str]  # still to visit, last first


def walk_yaml_files(root: Path) -> Generator[Found | Refused, None, None]:
    """Every *.yaml / *.yml entry below `root` (a resolved path), hidden entries skipped.

    Entries that are not read come as `Refused`: a YAML name that is not a regular file, a
    symlink to a directory, directories nested too deep. Close the iterator when stopping early.
    """
    frames: list[_Frame] = []
    try:
        frames.append(_Frame(_open_directory(os.fspath(root), None, "."), "", []))
        yield from _list(frames[-1])
        while frames:
            frame = frames[-1]
            if not frame.subdirectories:
                os.close(frames.pop().fd)
                continue
            name = frame.subdirectories.pop()
            relative = frame.prefix + name
            if len(frames) > MAX_DIRECTORY_DEPTH:
                yield Refused(
                    relative,
                    f"directories nested more than {MAX_DIRECTORY_DEPTH} deep are not read",
                )
                continue
            # Unreadable (not gone: that is CheckoutChangedError) fails alone; the walk goes on.
            try:
                child = _Frame(_open_directory(name, frame.fd, relative), relative + "/", [])
            except OSError as error:
                yield Refused(relative, _unreadable(error))
                continue
            frames.append(child)
            try:
                items = _list(child)
            except OSError as error:
                child.subdirectories.clear()
                yield Refused(relative, _unreadable(error))
                continue
            yield from items
    finally:
        for frame in frames:
            os.close(frame.fd)


@contextmanager
def open_regular(found: Found) -> Iterator[OpenedFile]:
    """The listed file, open for reading; NotRegularFileError when it is not a regular file."""
    try:
        fd = os.open(found.name, _FILE_FLAGS, dir_fd=found.directory)
    except FileNotFoundError as error:
        raise CheckoutChangedError(found.relative) from error
    except OSError as error:
        if error.errno == errno.ELOOP:  # a symlink swapped in since the listing
            raise NotRegularFileError(not_regular("a symlink")) from error
        raise
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFileError(not_regular(kind_of(status.st_mode)))
        yield OpenedFile(fd, FileStamp(status.st_mtime_ns, status.st_size, status.st_ino))
    finally:
        os.close(fd)


def not_regular(kind: str) -> str:
    """The problem text for an entry that is not a regular file."""
    return f"not a regular file ({kind}): {ONLY_REGULAR}"


def _open_directory(path: str, parent: int | None, relative: str) -> int:
    try:
        return os.open(path, _DIRECTORY_FLAGS, dir_fd=parent)
    except OSError as error:
        if error.errno in _DIRECTORY_GONE:
            raise CheckoutChangedError(relative) from error
        raise


def _list(frame: _Frame) -> list[Found | Refused]:
    """The frame's YAML entries; its subdirectories are added to the frame, to visit next."""
    fd, prefix = frame.fd, frame.prefix
    with os.scandir(fd) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    # A directory removed while it was listed reads as empty, which would pass for valid.
    if os.fstat(fd).st_nlink == 0:
        raise CheckoutChangedError(prefix or ".")
    items: list[Found | Refused] = []
    subdirectories = frame.subdirectories
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        relative = prefix + name
        wanted = name.endswith(_SUFFIXES)
        try:
            if entry.is_symlink():
                if wanted:
                    items.append(Refused(relative, not_regular("a symlink")))
                elif entry.is_dir():
                    items.append(Refused(relative, "a symlink to a directory is not followed"))
            elif entry.is_dir(follow_symlinks=False):
                subdirectories.append(name)
                if wanted:
                    items.append(Refused(relative, not_regular("a directory")))
            elif wanted and entry.is_file(follow_symlinks=False):
                items.append(Found(relative, fd, name))
            elif wanted:
                mode = entry.stat(follow_symlinks=False).st_mode
                items.append(Refused(relative, not_regular(kind_of(mode))))
        except FileNotFoundError as error:
            raise CheckoutChangedError(relative) from error
    subdirectories.reverse()
    return items


def _unreadable(error: OSError) -> str:
    return f"cannot be read: {error.strerror or error}"
