"""Shared fixtures: a throwaway project on disk whose modules can be edited and reloaded, and
pristine copies of the example project."""

from __future__ import annotations

import functools
import importlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import uuid
import warnings
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from assets_core.model.definitions import Definitions
from assets_core.session import Session
from assets_core.storage.io import MemoryIOManager
from assets_core.storage.registry import KnownNames

# Edited modules must never be served from a stale .pyc written in the same second.
sys.dont_write_bytecode = True

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def default_stop_handlers() -> Iterator[None]:
    """Each test starts with Python's own Ctrl-C and SIGTERM handling, as a fresh program
    does, whatever an earlier test in this process left installed (an in-process CLI command
    that caught an interrupt ignores further ones on purpose); the handlers found are put
    back after."""
    found = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for signum, handler in found.items():
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def copy_example(dest: Path) -> Path:
    """A pristine copy of the example project at ``dest`` (which must not exist yet).

    In a git checkout it is example_project/ as committed (HEAD); elsewhere, the copy that
    ``lumbung init --example shop`` takes. Never the working tree's example_project/: it is
    the user's to try things in (the README's install command materializes it there), and the
    tests must pass whatever was done to it."""
    archive = _committed_example()
    dest.mkdir(parents=True)
    if archive is None:
        from assets_core.cli.cmd_init import EXAMPLES, NOT_COPIED

        shutil.copytree(
            EXAMPLES / "shop", dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*NOT_COPIED)
        )
        return dest
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12, 3.11.4 and later
            tar.extractall(dest, filter="data")
        else:  # pragma: no cover - older patch releases
            tar.extractall(dest)  # our own repository's archive
    return dest


def example_edited() -> bool:
    """Whether the working tree's example_project/ differs from the last commit (changed, or
    holding files git neither tracks nor ignores). False outside a git checkout."""
    status = _git("status", "--porcelain", "--", "example_project")
    return status is not None and status.returncode == 0 and bool(status.stdout.strip())


@functools.cache
def _committed_example() -> bytes | None:
    """HEAD's example_project/ as a tar archive, or None outside a git checkout. Warns, once,
    when the working tree's folder differs from it."""
    archive = _git("archive", "--format=tar", "HEAD:example_project")
    if archive is None or archive.returncode != 0:
        return None
    if example_edited():
        warnings.warn(
            "example_project/ differs from the last commit; the tests use the committed one",
            stacklevel=3,
        )
    return archive.stdout


def _git(*args: str) -> subprocess.CompletedProcess[bytes] | None:
    """``git ARGS`` in this checkout; None when this is not a git checkout or git is missing."""
    if not (ROOT / ".git").exists():
        return None
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, timeout=60, check=False
        )
    except FileNotFoundError:
        return None


class ProjectDir:
    """A package on disk (``<tmp>/<pkg>/``) holding asset modules, reloadable after edits."""

    def __init__(self, base: Path) -> None:
        self.pkg = "p_" + uuid.uuid4().hex[:10]
        self.base = base
        self.dir = base / self.pkg
        self.dir.mkdir(parents=True)
        (self.dir / "__init__.py").write_text("")
        self.storage = base / "storage"
        self.memory = MemoryIOManager()
        self._tick = 0
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))

    def write(self, name: str, text: str) -> Path:
        """Write a file (dedented) and move its mtime forward, as a real edit would."""
        path = self.dir / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        self._tick += 1
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + self._tick * 1_000_000_000))
        return path

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.dir / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        self.write(name, text.replace(old, new))

    def modules(self, *names: str) -> list[Any]:
        for mod in [m for m in sys.modules if m == self.pkg or m.startswith(self.pkg + ".")]:
            del sys.modules[mod]
        importlib.invalidate_caches()
        return [importlib.import_module(f"{self.pkg}.{n}") for n in names]

    def definitions(
        self,
        *names: str,
        default_io_manager: str = "memory",
        io_managers: Collection[str] | None = None,
    ) -> Definitions:
        """Fresh ``Definitions`` from the current files (memory IO by default)."""
        modules = self.modules(*(names or ("assets",)))
        return Definitions.from_modules(
            *modules, root=self.dir, default_io_manager=default_io_manager, io_managers=io_managers
        )

    def session(self, *names: str, default_io_manager: str = "memory", **kwargs: Any) -> Session:
        """A ``Session`` over fresh ``Definitions`` of the current files: memory IO by
        default, SQLite state in ``storage``."""
        kwargs.setdefault("io_managers", {"memory": self.memory})
        kwargs.setdefault("storage", self.storage)
        known = KnownNames(kwargs["io_managers"])  # every problem reported at once
        defs = self.definitions(*names, default_io_manager=default_io_manager, io_managers=known)
        return Session(defs, **kwargs)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[ProjectDir]:
    p = ProjectDir(tmp_path)
    yield p
    for mod in [m for m in sys.modules if m == p.pkg or m.startswith(p.pkg + ".")]:
        del sys.modules[mod]


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    """End the test process right after pytest's summary. DuckDB's bindings otherwise print
    a 'leaked instances' report during interpreter shutdown after long runs (objects still
    referenced from module globals at exit, not a leak of ours), burying the summary line."""
    if _EXIT_STATUS and os.environ.get("LUMBUNG_TESTS_FULL_SHUTDOWN") != "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
