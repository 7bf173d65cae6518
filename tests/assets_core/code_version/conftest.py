"""Shared fixtures for the code-version tests: a package of real modules in tmp_path that can be
edited and imported afresh, and a layered project (an asset, a helper module, a config module)."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from assets_core.code_version.versioner import CodeVersion, CodeVersioner
from assets_core.model.spec import Asset


class Project:
    """A package of asset modules in tmp_path that can be edited and imported afresh."""

    def __init__(self, root: Path) -> None:
        self.pkg = f"vproj_{uuid.uuid4().hex[:10]}"
        self.dir = root / self.pkg
        self.dir.mkdir()
        (self.dir / "__init__.py").write_text("")
        self._tick = 0

    def write(self, name: str, source: str) -> Path:
        path = self.dir / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        # A distinct mtime per write: a new cache key, and no stale bytecode.
        self._tick += 1
        stamp = 1_700_000_000 + self._tick
        os.utime(path, (stamp, stamp))
        return path

    def load(self, name: str = "assets") -> ModuleType:
        self.forget()
        importlib.invalidate_caches()
        return importlib.import_module(f"{self.pkg}.{name}")

    def forget(self) -> None:
        for mod in [m for m in sys.modules if m == self.pkg or m.startswith(self.pkg + ".")]:
            del sys.modules[mod]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    proj = Project(tmp_path)
    yield proj
    proj.forget()


def version(mod: ModuleType, name: str = "orders", io: str = "parquet") -> CodeVersion:
    value = getattr(mod, name)
    assert isinstance(value, Asset)
    return CodeVersioner().version_of(value, io)


HELPERS = """
    import re
    from .config import THRESHOLD

    PAT = re.compile("x+")

    def _strip(s):
        return s.strip() if len(s) > THRESHOLD else s

    def clean(rows):
        return [_strip(r) for r in rows if PAT.match(r)]
"""

ASSETS = """
    from assets_core.model.decorator import asset
    from . import helpers

    @asset(group="staging")
    def orders(raw):
        \"\"\"Orders.\"\"\"
        return helpers.clean(raw)
"""


@pytest.fixture
def layered(project: Project) -> Project:
    project.write("config", "THRESHOLD = 10\n")
    project.write("helpers", HELPERS)
    project.write("assets", ASSETS)
    return project
