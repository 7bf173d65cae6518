"""A worker process runs only the code its run records: when a project file changes between
the run's process reading it and a worker importing it, the worker refuses the steps whose
code differs (nothing stored) and runs the others."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ASSETS = textwrap.dedent(
    """
    import os
    from pathlib import Path

    import pandas as pd

    from assets_core import asset

    # In any process but the run's own (the test's stand-in for an edit that lands while
    # the run starts its workers), the helper module is rewritten before it is imported.
    if os.getpid() != int(os.environ["RUN_PID"]):
        Path(__file__).with_name("helper.py").write_text("FACTOR = 3\\n")

    from helper import FACTOR


    @asset
    def scaled() -> pd.DataFrame:
        return pd.DataFrame({"v": [FACTOR]})


    @asset
    def plain() -> pd.DataFrame:
        return pd.DataFrame({"v": [1]})
    """
)

SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["RUN_PID"] = str(os.getpid())
    from assets_core import load_project
    with load_project(sys.argv[1]) as session:
        result = session.materialize(executor="processes", workers=1)
        print(sorted(str(k) for k in result.materialized))
        print(sorted(str(k) for k in result.failed))
        for error in result.errors.values():
            print(error.splitlines()[0])
    """
)


def test_a_worker_refuses_code_the_run_does_not_record(tmp_path: Path) -> None:
    (tmp_path / "lumbung.toml").write_text('modules = ["assets"]\n')
    (tmp_path / "assets.py").write_text(ASSETS)
    (tmp_path / "helper.py").write_text("FACTOR = 2\n")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "helper.py").read_text() == "FACTOR = 3\n"  # the edit happened
    assert proc.stdout.splitlines() == [
        "['plain']",
        "['scaled']",
        "scaled: its code changed on disk after this run read it (a worker imported other "
        "code than the run records); nothing was stored. Materialize it again.",
    ]
    assert not (tmp_path / ".lumbung" / "parquet" / "scaled.parquet").exists()
