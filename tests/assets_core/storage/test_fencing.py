"""A publish is fenced by the run that holds the step's lock (``assets_core.storage.fencing``),
on a real state store and the real Parquet and DuckDB managers: a worker of a run whose lock
another run took over, or whose process is gone, stores nothing (the output stays as the
other run left it, no temporary file is left), and a worker of a live run that holds its
lock publishes as usual."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from assets_core.errors import FencedError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from assets_core.storage.fencing import RunFence
from assets_core.storage.io import InputContext, IOManager, OutputContext
from assets_core.storage.liveness import holder_of
from assets_core.storage.sqlite import SQLiteStateStore, open_state_store
from io_managers.duckdb.manager import DuckDBIOManager
from io_managers.parquet import ParquetIOManager

KEY = AssetKey.parse("marts/first")
STEP = StepKey(KEY)

MANAGERS: dict[str, Callable[[Path], IOManager]] = {
    "parquet": lambda storage: ParquetIOManager(storage / "parquet"),
    "duckdb": lambda storage: DuckDBIOManager(storage / "warehouse.duckdb"),
}


@pytest.fixture(params=sorted(MANAGERS))
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> IOManager:
    return MANAGERS[request.param](tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStateStore:
    return open_state_store(tmp_path)


def _save(manager: IOManager, run_id: str, value: int, fence: RunFence | None = None) -> None:
    ctx = OutputContext(KEY, AssetSpec(key=KEY), run_id, fence=fence)
    manager.save(ctx, pd.DataFrame({"v": [value]}))


def _stored(manager: IOManager) -> list[int]:
    frame = manager.load(InputContext(KEY, AssetSpec(key=KEY), pd.DataFrame))
    assert isinstance(frame, pd.DataFrame)
    return [int(v) for v in frame["v"]]


def _temporary_files(tmp_path: Path) -> list[str]:
    return [p.name for p in tmp_path.rglob("*") if ".tmp-" in p.name]


def test_a_run_that_holds_the_lock_publishes(
    manager: IOManager, store: SQLiteStateStore, tmp_path: Path
) -> None:
    assert store.acquire_locks("run-1", [STEP], os.getpid()) == []
    _save(manager, "run-1", 1, store.fence("run-1"))
    assert _stored(manager) == [1]


def test_a_run_whose_lock_was_taken_over_publishes_nothing(
    manager: IOManager, store: SQLiteStateStore, tmp_path: Path
) -> None:
    assert store.acquire_locks("old", [STEP], os.getpid()) == []
    late = store.fence("old")
    store.break_locks(["old"])  # as a takeover (or `lumbung unlock`) does
    assert store.acquire_locks("new", [STEP], os.getpid()) == []
    _save(manager, "new", 2, store.fence("new"))
    with pytest.raises(FencedError) as info:
        _save(manager, "old", 1, late)
    assert str(info.value) == (
        "marts/first: not published: run old no longer holds its lock (run new does); the "
        "output stays as that run left it."
    )
    assert _stored(manager) == [2]
    assert _temporary_files(tmp_path) == []


def test_a_run_whose_process_is_gone_publishes_nothing(
    manager: IOManager, store: SQLiteStateStore, tmp_path: Path
) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    owner = holder_of(proc.pid)
    proc.kill()
    proc.wait()
    assert store.acquire_locks("gone", [STEP], proc.pid) == []  # nobody took it over yet
    with pytest.raises(FencedError) as info:
        _save(manager, "gone", 1, RunFence(store.path, "gone", owner))
    assert str(info.value) == (
        f"marts/first: not published: run gone is gone (its process {proc.pid} ended); the "
        "next run builds it again."
    )
    assert _temporary_files(tmp_path) == []
    assert not manager.exists(OutputContext(KEY, AssetSpec(key=KEY)))
