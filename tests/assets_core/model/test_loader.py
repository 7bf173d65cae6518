"""Project modules are compiled from the bytes the code versioner then reads: an edit made
after (or during) an import never changes the version of the code that was imported, and an
edit that keeps a file's size and mtime (``cp -p``) is run, not a stale bytecode cache."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from assets_core import load_project
from assets_core.code_version.versioner import CodeVersioner
from assets_core.model.loader import snapshot

CODE = """
import pandas as pd
from assets_core import asset

FACTOR = {factor}


@asset
def scaled() -> pd.DataFrame:
    return pd.DataFrame({{"v": [FACTOR]}})
"""


def _project(tmp_path: Path, factor: int) -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "lumbung.toml").write_text('modules = ["assets_loader_t"]\n')
    (root / "assets_loader_t.py").write_text(textwrap.dedent(CODE.format(factor=factor)))
    return root


@pytest.fixture(autouse=True)
def _forget_the_module() -> None:
    sys.modules.pop("assets_loader_t", None)


def _same_stat_edit(path: Path, new: str) -> None:
    """Replace the file's text keeping its size and mtime, as ``cp -p`` or ``rsync -t`` do."""
    st = path.stat()
    old = path.read_text()
    assert len(new) == len(old)
    path.write_text(new)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_the_version_is_of_the_bytes_that_were_imported(tmp_path: Path) -> None:
    root = _project(tmp_path, 2)
    file = root / "assets_loader_t.py"
    with load_project(root) as session:
        asset = session.get("scaled")
        version = session.code_version(asset).version
        snap = snapshot(str(file))
        assert snap is not None and snap.source == file.read_bytes()
        file.write_text(file.read_text().replace("FACTOR = 2", "FACTOR = 3"))
        # a new versioner, with no cache, reads the snapshot: never the edited file
        assert CodeVersioner().version_of(asset, "parquet", root).version == version
    with load_project(root) as again:
        assert again.code_version(again.get("scaled")).version != version


def test_an_edit_keeping_size_and_mtime_is_run_and_versioned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as a user's Python runs
    root = _project(tmp_path, 2)
    file = root / "assets_loader_t.py"
    with load_project(root) as first:
        before = first.code_version(first.get("scaled")).version
        assert first.get("scaled").run({}, None)["v"].tolist() == [2]  # type: ignore[index]
    _same_stat_edit(file, file.read_text().replace("FACTOR = 2", "FACTOR = 7"))
    with load_project(root) as second:
        scaled = second.get("scaled")
        assert scaled.run({}, None)["v"].tolist() == [7]  # type: ignore[index]
        assert second.code_version(scaled).version != before


def test_the_bytecode_cache_is_checked_by_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    root = _project(tmp_path, 2)
    with load_project(root):
        pass
    cached = Path(importlib.util.cache_from_source(str(root / "assets_loader_t.py")))
    header = cached.read_bytes()[:16]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == 0b11  # PEP 552: hash-based, checked
    assert header[8:] == importlib.util.source_hash((root / "assets_loader_t.py").read_bytes())


def test_a_moved_project_s_bytecode_names_its_new_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bytecode cache moved with its project was compiled at the old place: the modules
    imported from it name their new files, and their versions are the ones computed before the
    move (the old folder gone, nothing is read from it)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    first = _project(tmp_path, 2)
    with load_project(first) as session:
        version = session.code_version(session.get("scaled")).version
    assert Path(importlib.util.cache_from_source(str(first / "assets_loader_t.py"))).exists()
    sys.modules.pop("assets_loader_t", None)
    moved = tmp_path / "elsewhere"
    shutil.move(str(first), moved)
    file = str(moved / "assets_loader_t.py")
    with load_project(moved) as session:
        scaled = session.get("scaled")
        assert scaled.fn.__code__.co_filename == file
        assert sys.modules["assets_loader_t"].__file__ == file
        assert CodeVersioner().version_of(scaled, "parquet", moved).version == version
