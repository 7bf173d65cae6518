"""Files in the storage folder are opened where they are, never through a planted link.

A symbolic link named like one of Lumbung's files (``state.db``, its ``-wal``) would send a
write to wherever it points: a state store created at the link's target, or an arbitrary file
made there. Libraries that open such files themselves (SQLite follows a link at the main
database file) cannot be handed ``O_NOFOLLOW``, so the file is checked first (``planted``),
its identity noted without following a link (``identity``), and checked again once the
library has it open (``moved``): a link swapped in between is caught.

Nothing here opens the file: closing a descriptor of a database file releases every POSIX
lock this process holds on it, SQLite's included (SQLite's own documentation warns of it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["identity", "moved", "planted"]

Identity = tuple[int, int]  # (device, inode)


def planted(paths: Iterable[Path]) -> Path | None:
    """The first of ``paths`` that is a symbolic link, if any."""
    for path in paths:
        if path.is_symlink():
            return path
    return None


def identity(path: Path) -> Identity | None:
    """``path``'s device and inode, read without following a link (None when absent)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def moved(path: Path, before: Identity | None) -> bool:
    """Whether ``path`` is now a link, or another file than ``identity`` found there."""
    if path.is_symlink():
        return True
    now = identity(path)
    return before is not None and now is not None and now != before
