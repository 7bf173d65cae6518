"""How a project's own modules are imported: from the exact bytes that are then versioned.

A code version must describe the code that runs. Python's import reads a module's file (or a
bytecode cache validated only by the file's mtime and size) at one moment, and the versioner
would read the file again at another: an edit in between, or one that keeps the mtime and
size (``cp -p``, ``rsync -t``), made the two disagree. So every ``.py`` file under a project
folder (outside the interpreter's environment) is imported by ``ProjectLoader``: it reads the
file once, compiles from those bytes (through a bytecode cache validated by the bytes' hash,
PEP 552's checked hash-based ``.pyc``), and keeps them as the file's ``Snapshot``. The code
versioner reads snapshots instead of the disk, and a ``Session`` compares them with the disk
to notice a project edited after it was loaded.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import CodeType, ModuleType
from typing import Any

__all__ = [
    "ProjectFinder",
    "ProjectLoader",
    "Snapshot",
    "Snapshots",
    "cache_path",
    "forget",
    "install",
    "project_snapshots",
    "snapshot",
]

_FLAGS_CHECKED_HASH = (0b11).to_bytes(4, "little")  # PEP 552: hash-based, checked


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The bytes a module was compiled from, their hash (the bytecode cache's SipHash, as
    hex), and the file's ``(mtime_ns, size, ctime_ns)`` when they were read."""

    path: str
    source: bytes
    digest: str
    stat: tuple[int, int, int]


_snapshots: dict[str, Snapshot] = {}  # path -> the bytes its latest import compiled
_lock = threading.Lock()


def snapshot(path: str) -> Snapshot | None:
    """What the latest import of ``path`` compiled, if a ``ProjectLoader`` imported it."""
    return _snapshots.get(path)


@dataclass(frozen=True, slots=True)
class Snapshots:
    """The snapshots of one project's modules as loaded: what ``changed`` compares the disk
    with."""

    files: tuple[Snapshot, ...]

    def digests(self) -> dict[str, str]:
        """Each module file's path and the hash of the bytes it was compiled from."""
        return {s.path: s.digest for s in self.files}

    def changed(self) -> list[str]:
        """The files whose bytes on disk are no longer those their modules were compiled
        from (or that are gone). A file whose mtime, size and ctime are unchanged is not
        read again."""
        out = []
        for snap in self.files:
            try:
                st = os.stat(snap.path)  # noqa: PTH116
            except OSError:
                out.append(snap.path)
                continue
            if (st.st_mtime_ns, st.st_size, st.st_ctime_ns) == snap.stat:
                continue
            try:
                with open(snap.path, "rb") as fh:
                    now = fh.read()
            except OSError:
                out.append(snap.path)
                continue
            if importlib.util.source_hash(now).hex() != snap.digest:
                out.append(snap.path)
        return out


def forget(root: str) -> None:
    """Drop the snapshots of the modules under ``root`` (they are about to be imported
    anew: a file no longer imported must not count as part of the project)."""
    with _lock:
        for path in [p for p in _snapshots if _under(p, root)]:
            del _snapshots[path]


def project_snapshots(root: str) -> Snapshots:
    """The snapshots of every module imported from under ``root`` so far."""
    with _lock:
        found = [s for path, s in _snapshots.items() if _under(path, root)]
    return Snapshots(tuple(sorted(found, key=lambda s: s.path)))


class ProjectLoader(importlib.machinery.SourceFileLoader):
    """Imports one project module from the bytes it reads, and keeps them (``snapshot``)."""

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        with open(path, "rb") as fh:
            source = fh.read()
            st = os.fstat(fh.fileno())
        digest = importlib.util.source_hash(source)
        with _lock:
            _snapshots[path] = Snapshot(
                path, source, digest.hex(), (st.st_mtime_ns, st.st_size, st.st_ctime_ns)
            )
        cached = cache_path(path)
        if cached is not None:
            code = _read_cache(cached, digest)
            if code is not None:
                return code if code.co_filename == path else _filed_as(code, path)
        code = self.source_to_code(source, path)
        if cached is not None and not sys.dont_write_bytecode:
            _write_cache(cached, digest, code)
        return code


class ProjectFinder:
    """A meta path finder that hands the modules found under project folders (and outside
    the interpreter's own folders) to ``ProjectLoader``. Installed once per process; each
    project folder loaded is added to ``roots``."""

    def __init__(self) -> None:
        self.roots: set[str] = set()
        self.excluded: tuple[str, ...] = ()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        origin = spec.origin if spec is not None else None
        if (
            spec is None
            or origin is None
            or not origin.endswith(".py")
            or not isinstance(spec.loader, importlib.machinery.SourceFileLoader)
            or origin.startswith(self.excluded)
            or not any(_under(origin, root) for root in self.roots)
        ):
            return spec
        spec.loader = ProjectLoader(fullname, origin)
        return spec

    def invalidate_caches(self) -> None:
        importlib.machinery.PathFinder.invalidate_caches()


_finder: ProjectFinder | None = None


def install(root: str, excluded: tuple[str, ...]) -> None:
    """Import the modules under ``root`` (but not under ``excluded``, the environment's
    folders) with ``ProjectLoader`` from now on."""
    global _finder
    with _lock:
        if _finder is None or _finder not in sys.meta_path:
            _finder = ProjectFinder()
            sys.meta_path.insert(0, _finder)
        _finder.roots.add(root)
        _finder.excluded = excluded


def _under(file: str, root: str) -> bool:
    return file.startswith(root) and file[len(root) : len(root) + 1] in ("/", "\\")


def cache_path(path: str) -> str | None:
    """Where the bytecode of the module file ``path`` is kept (``__pycache__/m.cpython-311.pyc``;
    ``None`` when the interpreter keeps none)."""
    try:
        return importlib.util.cache_from_source(path)
    except (NotImplementedError, ValueError):
        return None


def _read_cache(cached: str, digest: bytes) -> CodeType | None:
    """The code in a checked hash-based ``.pyc`` made from bytes of hash ``digest``."""
    try:
        with open(cached, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    header = importlib.util.MAGIC_NUMBER + _FLAGS_CHECKED_HASH + digest
    if data[:16] != header:
        return None
    try:
        code = marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def _filed_as(code: CodeType, path: str) -> CodeType:
    """``code`` and every code object in it as compiled from ``path``: a bytecode cache made
    where the project was before it was copied or moved names the old file, which tracebacks
    would show and the code versioner would read (or, once it is gone, version the code
    objects instead: every asset of a moved project would be stale)."""
    consts = tuple(_filed_as(c, path) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=path, co_consts=consts)


def _write_cache(cached: str, digest: bytes, code: CodeType) -> None:
    """Write a checked hash-based ``.pyc`` atomically; a cache that cannot be written is
    skipped (it only saves time)."""
    data: Any = importlib.util.MAGIC_NUMBER + _FLAGS_CHECKED_HASH + digest + marshal.dumps(code)
    tmp = f"{cached}.{os.getpid()}.{threading.get_ident()}.tmp"
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(cached), exist_ok=True)  # noqa: PTH103, PTH120
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, cached)  # noqa: PTH105
    with contextlib.suppress(OSError):
        os.unlink(tmp)  # noqa: PTH108
