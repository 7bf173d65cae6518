"""IO managers by name: the built-in ones come from the registry's own table, others from the
``lumbung.io_managers`` entry points of installed distributions, read only when a name needs
them.

The plugin here is a real installed distribution to ``importlib.metadata``: a folder on
``sys.path`` holding a ``*.dist-info`` with ``METADATA`` and ``entry_points.txt``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from assets_core import load_project
from assets_core.errors import DefinitionError
from assets_core.storage import registry
from assets_core.storage.registry import IOManagers, KnownNames
from io_managers.parquet import ParquetIOManager

PLUGIN = """
from pathlib import Path

from assets_core import MemoryIOManager


class Mine(MemoryIOManager):
    def __init__(self, storage: Path) -> None:
        super().__init__()
        self.storage = storage

    def check_key(self, key):
        if key[-1] == "refused":
            return "mine cannot store 'refused': rename the asset."
        return None


def from_storage(storage: Path) -> Mine:
    return Mine(storage)
"""

ENTRY_POINTS = """\
[lumbung.io_managers]
mine = lumbung_plugin_t:from_storage
parquet = lumbung_plugin_t:from_storage
"""

ASSETS = """
import pandas as pd
from assets_core import asset


@asset(io_manager={manager!r})
def {name}() -> pd.DataFrame:
    return pd.DataFrame({{"v": [1, 2]}})
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed distribution registering ``mine`` (and, in vain, ``parquet``)."""
    site = tmp_path / "site"
    info = site / "lumbung_plugin_t-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lumbung-plugin-t\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "lumbung_plugin_t.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    registry._installed.cache_clear()  # read again, with the plugin installed
    yield site
    registry._installed.cache_clear()
    sys.modules.pop("lumbung_plugin_t", None)


def project(root: Path, module: str, manager: str, name: str = "numbers") -> Path:
    root.mkdir()
    (root / "lumbung.toml").write_text(f'modules = ["{module}"]\n')
    (root / f"{module}.py").write_text(ASSETS.format(manager=manager, name=name))
    return root


def test_a_plugin_manager_is_found_by_name(tmp_path: Path, plugin: Path) -> None:
    root = project(tmp_path / "p", "assets_registry_found_t", "mine")
    with load_project(root) as session:
        session.materialize()
        manager = session.io.get("mine")
        assert type(manager).__module__ == "lumbung_plugin_t"
        assert manager.storage == root / ".lumbung"  # type: ignore[attr-defined]
        frame = session.load("numbers")
        assert isinstance(frame, pd.DataFrame)
        assert frame["v"].tolist() == [1, 2]


def test_an_unknown_name_lists_the_plugins_too(tmp_path: Path, plugin: Path) -> None:
    root = project(tmp_path / "p", "assets_registry_unknown_t", "mien")
    with pytest.raises(DefinitionError) as exc:
        load_project(root)
    assert (
        "numbers (assets_registry_unknown_t.py:6): unknown io manager 'mien'. Did you mean "
        "'mine'? Known: duckdb, memory, mine, parquet; register others with "
        "Session(defs, io_managers={...})."
    ) in str(exc.value)


def test_a_plugin_checks_its_keys_as_the_project_loads(tmp_path: Path, plugin: Path) -> None:
    root = project(tmp_path / "p", "assets_registry_refused_t", "mine", name="refused")
    with pytest.raises(DefinitionError) as exc:
        load_project(root)
    assert "refused (assets_registry_refused_t.py:6): mine cannot store 'refused'" in str(exc.value)


def test_a_plugin_does_not_replace_a_built_in_manager(tmp_path: Path, plugin: Path) -> None:
    managers = IOManagers(tmp_path)
    assert isinstance(managers.get("parquet"), ParquetIOManager)
    assert type(managers.get("mine")).__module__ == "lumbung_plugin_t"
    assert sorted(KnownNames({"given": object()})) == [
        "duckdb",
        "given",
        "memory",
        "mine",
        "parquet",
    ]


def test_without_plugins_the_known_names_are_lumbungs_own(tmp_path: Path) -> None:
    known = IOManagers(tmp_path).names()
    assert {"duckdb", "memory", "parquet"} <= set(known)
    assert "parquet" in known and "memory" in known and "nowhere" not in known
    with pytest.raises(Exception, match="unknown io manager 'nowhere'; register it"):
        IOManagers(tmp_path).get("nowhere")


#: Runs the console script's entry point in a fresh interpreter, then writes what it imported,
#: and whether the registry read the installed entry points, to LUMBUNG_REPORT.
WRAPPER = r"""
import json, os, sys
from assets_core.cli import main
from assets_core.storage import registry

sys.argv = ["lumbung", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
report = {
    "code": code,
    "modules": sorted(sys.modules),
    "read": registry._installed.cache_info().currsize > 0,
}
with open(os.environ["LUMBUNG_REPORT"], "w") as out:
    json.dump(report, out)
"""

BUILT_IN_ONLY = """
import pandas as pd
from assets_core import asset


@asset
def numbers() -> pd.DataFrame:
    return pd.DataFrame({"v": [1, 2]})


@asset(io_manager="memory")
def doubled(numbers: pd.DataFrame) -> pd.DataFrame:
    return numbers * 2


@asset
def summed(doubled: pd.DataFrame) -> pd.DataFrame:
    return doubled.sum().to_frame()
"""


def run_reporting(root: Path, *args: str) -> dict[str, Any]:
    """``lumbung ARGS`` run in ``root`` in a fresh interpreter: its exit code (``code``), every
    module it imported (``modules``) and whether the entry points were read (``read``)."""
    path = root.parent / "report.json"
    env = {**os.environ, "LUMBUNG_REPORT": str(path)}
    subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        cwd=root,
        env=env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    report: dict[str, Any] = json.loads(path.read_text())
    return report


@pytest.mark.parametrize(
    ("manager", "reads", "imports"),
    [("parquet", False, False), ("duckdb", False, True), ("nowhere", True, True)],
)
def test_entry_points_are_read_only_for_a_name_lumbung_does_not_ship(
    tmp_path: Path, manager: str, reads: bool, imports: bool
) -> None:
    """A project of built-in managers never reads them, nor (without DuckDB, whose own
    version module imports it) imports ``importlib.metadata``; an unknown name reads them to
    list every name."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "lumbung.toml").write_text(
        f'modules = ["assets_registry_cli_t"]\ndefault_io_manager = "{manager}"\n'
    )
    (root / "assets_registry_cli_t.py").write_text(textwrap.dedent(BUILT_IN_ONLY))
    for command in ("materialize", "plan"):
        report = run_reporting(root, command)
        assert report["code"] == (2 if reads else 0)
        assert report["read"] is reads
        assert ("importlib.metadata" in report["modules"]) is imports
