"""Write-audit-publish survives SIGKILL: a ``lumbung materialize`` killed while its checks
read the staged output (after the write, before the publish) leaves the previous version
stored and readable, for both IO managers (DESIGN §13)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from assets_core.session import load_project
from tests.assets_core.cli.conftest import LUMBUNG

ASSETS = """
import os, time
import pandas as pd
from assets_core import asset, check

VERSION = 1


@asset(io_manager="{manager}")
def orders() -> pd.DataFrame:
    return pd.DataFrame({{"v": [VERSION] * 3}})


@check(asset="orders")
def slow(orders: pd.DataFrame) -> bool:
    if VERSION == 2:  # the new output is staged: say so, then wait to be killed
        open(os.environ["STAGED_MARK"], "w").close()
        time.sleep(60)
    return True
"""


@pytest.mark.parametrize("manager", ["parquet", "duckdb"])
def test_sigkill_between_stage_and_publish_keeps_the_previous_version(
    tmp_path: Path, manager: str
) -> None:
    (tmp_path / "lumbung.toml").write_text('modules = ["assets"]\n')
    assets = tmp_path / "assets.py"
    assets.write_text(ASSETS.format(manager=manager))
    mark = tmp_path / "staged"
    env = {**os.environ, "STAGED_MARK": str(mark)}
    first = subprocess.run(
        [*LUMBUNG, "materialize"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    assets.write_text(ASSETS.format(manager=manager).replace("VERSION = 1", "VERSION = 2"))
    proc = subprocess.Popen(
        [*LUMBUNG, "materialize"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not mark.exists():
            assert proc.poll() is None, "the run ended before its check ran"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    with load_project(tmp_path) as s:
        assert list(s.load("orders")["v"]) == [1, 1, 1]  # type: ignore[index]
        history = s.state.history(s.get("orders").key)
        assert [r.outcome for r in history] == ["materialized"]
