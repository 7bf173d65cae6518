"""The processes backend's workers (``assets_core.execution.backends.processes``), on real
processes.

What is pinned: assets run in worker processes, never in the command's own; a ``lumbung
materialize --executor processes`` run imports the project twice in all (the command, and the
fork server its workers come from), however many workers it starts; a long-lived Python
process that edits its code between runs gets workers that run the edited code; a project
named by a ``.py`` file runs in workers too.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import LUMBUNG

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
HAS_SERVER = "forkserver" in mp.get_all_start_methods()

ASSETS = """
import os
from pathlib import Path

import pandas as pd

from assets_core import asset

with Path(__file__).with_name("imports.log").open("a") as log:
    log.write(f"{os.getpid()}\\n")


def _row(salt: int) -> pd.DataFrame:
    return pd.DataFrame({"pid": [os.getpid()], "salt": [salt]})


@asset
def a() -> pd.DataFrame:
    return _row(SALT)


@asset
def b() -> pd.DataFrame:
    return _row(SALT)


@asset
def c(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    return _row(SALT)


SALT = 1
"""


def _project(root: Path) -> Path:
    root.mkdir()
    (root / "lumbung.toml").write_text('modules = ["assets"]\n')
    (root / "assets.py").write_text(textwrap.dedent(ASSETS).lstrip())
    return root


def _lumbung(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [*LUMBUNG, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def _stored(root: Path, key: str) -> tuple[int, int]:
    import pyarrow.parquet as pq

    row = pq.read_table(root / ".lumbung" / "parquet" / f"{key}.parquet").to_pylist()[0]
    return int(row["pid"]), int(row["salt"])


def test_a_cli_run_imports_the_project_once_for_all_its_workers(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    done = _lumbung(root, "materialize", "--executor", "processes", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "3 materialized" in done.stdout
    importers = (root / "imports.log").read_text().split()
    ran_in = {_stored(root, k)[0] for k in "abc"}
    assert not ran_in & set(importers[:1])  # never in the command's own process
    if HAS_SERVER:  # the command, then the fork server: workers are forked with the project
        assert len(importers) == 2, importers
        assert not ran_in & set(importers)
    else:  # spawned workers import it themselves
        assert len(importers) == 1 + len(ran_in)


def test_workers_of_a_long_lived_process_run_its_edited_code(tmp_path: Path) -> None:
    """The fork server of a Python session outlives one run: it must never hand its workers
    a project it loaded before the files changed."""
    from assets_core import load_project

    root = _project(tmp_path / "p")
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from assets_core import load_project

        root = Path(sys.argv[1])
        for salt in (1, 2, 3):
            text = (root / "assets.py").read_text()
            (root / "assets.py").write_text(text.replace(f"SALT = {salt - 1}", f"SALT = {salt}"))
            defs = load_project(root)
            result = defs.materialize(executor="processes", workers=2)
            assert len(result.materialized) == 3, result.summary()
            print(salt, *(defs.load(k)["salt"].tolist()[0] for k in "abc"))
            defs.close()
        """
    )
    text = (root / "assets.py").read_text()
    (root / "assets.py").write_text(text.replace("SALT = 1", "SALT = 0"))
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1 1 1 1", "2 2 2 2", "3 3 3 3"]
    defs = load_project(root)
    assert defs.plan().steps == ()  # what the workers recorded matches the code on disk
    defs.close()


def test_a_project_named_by_its_py_file_runs_in_workers(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (root / "lumbung.toml").unlink()
    py_file = str(root / "assets.py")
    done = _lumbung(tmp_path, "--project", py_file, "materialize", "-e", "processes")
    assert done.returncode == 0, done.stderr
    assert "3 materialized" in done.stdout
    assert _stored(root, "c") == (_stored(root, "c")[0], 1)
    assert _stored(root, "c")[0] != int((root / "imports.log").read_text().split()[0])
