"""Files in the storage folder are opened where they are, never through a planted link.

A symbolic link named like one of Lumbung's files (``state.db``, its ``-wal``) would send a
write to wherever it points: a state store created at the link's target, or an arbitrary file
made there. Libraries that open such files themselves (SQLite follows a link at the main
database file) cannot be handed ``O_NOFOLLOW``, so the file is checked first (``planted``),
pinned by a descriptor opened without following a link (``pin``), and checked again once the
library has it open (``moved``): a link swapped in between is caught.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["moved", "pin", "planted"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def planted(paths: Iterable[Path]) -> Path | None:
    """The first of ``paths`` that is a symbolic link, if any."""
    for path in paths:
        if path.is_symlink():
            return path
    return None


@contextlib.contextmanager
def pin(path: Path) -> Iterator[os.stat_result | None]:
    """While the block runs, hold ``path`` open without following a link; yield its identity
    (None when there is no such file yet). ``OSError`` (``ELOOP``) when it is a link."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        yield None
        return
    except PermissionError:  # unreadable: whoever opens it next says so
        yield None
        return
    try:
        yield os.fstat(fd)
    finally:
        os.close(fd)


def moved(path: Path, pinned: os.stat_result | None) -> bool:
    """Whether ``path`` is now a link, or another file than the one ``pin`` found there."""
    try:
        now = os.lstat(path)
    except OSError:
        return False  # gone: whoever uses it next says so
    if path.is_symlink():
        return True
    if pinned is None:
        return False
    return (now.st_dev, now.st_ino) != (pinned.st_dev, pinned.st_ino)
