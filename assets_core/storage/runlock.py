"""A run's OS lock: an exclusive lock on ``<storage>/locks/<run id>.lock``, held by the run's
process from the moment it takes its first step lock until it releases them all (or dies:
closing the state store does not let go of it, as it does not release step locks).

The kernel releases it when the process dies, however it dies (SIGKILL, a crash, the
container stopped) and whatever PID namespace it ran in, so another process tells a live
run from a dead one by trying to take it (``probe``): no pid, start time or clock involved.
On POSIX it is ``flock``; on Windows a byte lock (``msvcrt.locking``). A file system that
refuses locks leaves the question to the holder's identity (``assets_core.storage.liveness``).

The file is opened without following a symbolic link, and the folder must be a real folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = ["FOLDER", "RunLock", "probe", "remove", "sweep"]

FOLDER = "locks"  # under the storage folder
SUFFIX = ".lock"
_SAFE_ID = re.compile(r"[A-Za-z0-9_.-]+")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool | None:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import errno
    import fcntl

    def _try_lock(fd: int) -> bool | None:
        """Take the lock on ``fd`` without waiting: True taken, False held by another open
        file, None when the file system refuses locks."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            return None  # ENOLCK, EOPNOTSUPP, EINVAL: no locks here
        return True


def _path(storage: Path, run_id: str) -> Path | None:
    """The lock file of ``run_id``, or None for an id that cannot be a file name."""
    if not _SAFE_ID.fullmatch(run_id) or run_id.startswith("."):
        return None
    return storage / FOLDER / (run_id + SUFFIX)


def _open(path: Path, create: bool) -> int | None:
    """A descriptor of ``path`` opened without following a link, or None when it is absent
    (or is a link, or cannot be opened)."""
    flags = os.O_RDWR | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    if create:
        flags |= os.O_CREAT
    try:
        return os.open(path, flags, 0o644)
    except OSError:
        return None


class RunLock:
    """The OS lock of one run, held by this process (see the module docstring)."""

    def __init__(self, storage: Path, run_id: str) -> None:
        self.path = _path(storage, run_id)
        self._fd: int | None = None
        if self.path is None:
            return
        folder = self.path.parent
        with contextlib.suppress(OSError):
            folder.mkdir(exist_ok=True)
        if folder.is_symlink() or not folder.is_dir():
            return  # never follow a planted link: the run goes by its identity alone
        fd = _open(self.path, create=True)
        if fd is None:
            return
        if _try_lock(fd):
            self._fd = fd
        else:
            os.close(fd)

    @property
    def held(self) -> bool:
        """Whether the lock was taken (False where the file system refuses locks)."""
        return self._fd is not None

    def release(self) -> None:
        """Remove the file, then let go of the lock (in that order: a prober never finds a
        free lock file of a run that still holds step locks)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(fd)


def probe(storage: Path, run_id: str) -> bool | None:
    """Whether ``run_id``'s OS lock is held: True held (its process lives), False free (its
    process is gone), None when there is nothing to ask (no file, or no locks here)."""
    path = _path(storage, run_id)
    if path is None:
        return None
    fd = _open(path, create=False)
    if fd is None:
        return None
    try:
        taken = _try_lock(fd)
    finally:
        os.close(fd)  # closing lets go of a lock taken here
    return None if taken is None else not taken


def remove(storage: Path, run_ids: Iterable[str]) -> None:
    """Remove the lock files of runs whose locks were taken over or broken."""
    for run_id in run_ids:
        path = _path(storage, run_id)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()


def sweep(storage: Path, keep: set[str]) -> None:
    """Remove the lock files that no process holds, but those of the runs in ``keep`` (runs
    that still have step locks, decided by ``probe`` when someone needs their steps). Such a
    file is left by a process killed between creating it and recording its locks."""
    folder = storage / FOLDER
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return
    for name in names:
        if not name.endswith(SUFFIX) or name[: -len(SUFFIX)] in keep:
            continue
        if probe(storage, name[: -len(SUFFIX)]) is False:
            with contextlib.suppress(OSError):
                (folder / name).unlink()
