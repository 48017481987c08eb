"""What kind of file a mode names, in words: for refusing anything but a regular file."""

from __future__ import annotations

import stat

_KINDS = (
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def kind_of(mode: int) -> str:
    """ "a FIFO", "a character device", ... for an `st_mode` that is not a regular file's."""
    return next((kind for test, kind in _KINDS if test(mode)), "an unknown kind of file")
