"""Crash safety: ``lumbung materialize`` killed with SIGKILL at a random moment of a 200-asset
run (both IO managers in every run) leaves a store that the next run finishes exactly.

After each kill, checked in this order (``tests/reliability/harness.py``):

1. every stored output reads (each Parquet file, every table of the DuckDB warehouse), and
   Parquet files carry the data version of their content;
2. the state store opens and SQLite's ``integrity_check`` is ``ok``;
3. no asset that counts as done has a recorded data version other than that of its stored
   data (an output written but not recorded yet is not done: its record is older);
4. the next plan lists exactly the assets that are not done, computed independently from the
   state file and the storage folder;
5. the next ``lumbung materialize`` exits 0, stores exactly what a clean run stores, and leaves
   no temporary file behind.

Kill moments are drawn from a seeded generator and spread over the whole run: during
start-up (imports, loading, planning), right as the run starts, in the middle of writes
(triggered by a new output file appearing), right after a batch of records is committed, and
near the end. ``examine`` also counts outputs written but not yet recorded, which shows the
kills do land between a write and its record.

The CI test chains ten kills over one store (five building from nothing, five rebuilding after
a code change that alters every value), checks 1-4 in this process after each kill, and runs
check 5 at the end of each chain. The slow test runs each trial on its own store, with every
check made through the CLI.
"""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.conftest import N_ASSETS, World
from tests.reliability.harness import (
    InProcess,
    Project,
    check_after_crash,
    compare_with,
    copy_project,
    count_outputs,
    count_records,
    plan_keys,
    read_state,
    recover,
    replace_storage,
    run,
    start,
    stray_files,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CI_KILLS_PER_CHAIN = 5
SLOW_TRIALS = 52
MODES = ("startup", "run_start", "writes", "records", "end")


@dataclass(frozen=True)
class Kill:
    """Where one kill landed."""

    mode: str
    seconds: float  # from start to kill
    completed: bool  # the run had finished before the kill came
    recorded: int  # successful records this run committed before dying


def _runs(project: Project) -> int:
    path = project.storage / "state.db"
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _until(proc: subprocess.Popen[str], predicate: Callable[[], bool], limit: float) -> None:
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline and not predicate():
        time.sleep(0.004)


def kill_at_random(
    project: Project, rng: random.Random, todo: int, mode: str | None = None, share: float = 1.0
) -> Kill:
    """Start ``lumbung materialize`` and SIGKILL it at a moment drawn from ``rng`` (in the
    given ``mode``, else one drawn too). ``todo`` is how many assets the run has to
    materialize; a progress-triggered kill comes within the first ``share`` of them."""
    mode = mode or rng.choice(MODES)
    reach = max(1, round(todo * share))
    records0 = count_records(project)
    runs0 = _runs(project)
    began_ns = time.time_ns()
    proc = start(project, "materialize")
    t0 = time.monotonic()
    try:
        if mode == "startup":  # importing, loading the project, planning
            _until(proc, lambda: False, rng.uniform(0.05, 2.5))
        elif mode == "run_start":  # taking locks, first steps
            _until(proc, lambda: _runs(project) > runs0, 240)
            _until(proc, lambda: False, rng.uniform(0.0, 0.3))
        elif mode == "writes":  # right as the k-th output of this run is being written
            k = rng.randint(1, max(1, reach // 2))  # about half are Parquet
            _until(proc, lambda: count_outputs(project, began_ns) >= k, 240)
            _until(proc, lambda: False, rng.uniform(0.0, 0.02))
        elif mode == "records":  # just after a batch of records was committed
            k = rng.randint(1, max(1, min(reach, todo - 1)))
            _until(proc, lambda: count_records(project) - records0 >= k, 240)
            _until(proc, lambda: False, rng.uniform(0.0, 0.15))
        else:  # "end": the last records, the end of the run, shutting down
            k = max(1, todo - rng.randint(0, todo // 4))
            _until(proc, lambda: count_records(project) - records0 >= k, 240)
            _until(proc, lambda: False, rng.uniform(0.0, 0.3))
        completed = proc.poll() is not None
        seconds = time.monotonic() - t0
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if completed:
        assert proc.returncode == 0, err
    return Kill(mode, seconds, completed, count_records(project) - records0)


def _chain(project: Project, rng: random.Random, kills: int, expected: Mapping[str, str]) -> None:
    loaded = InProcess(project)
    code = loaded.code_versions()
    planned = loaded.planned
    not_done = check_after_crash(project, code, planned).not_done  # the store as found
    modes = [*rng.sample(MODES[:-1], k=len(MODES) - 1), "end"]  # every kind, the end last
    for i in range(kills):
        mode = modes[i % len(modes)]
        kill = kill_at_random(project, rng, len(not_done), mode, share=0.35)
        strays = stray_files(project)
        verdict = check_after_crash(project, code, planned)
        not_done = verdict.not_done
        print(kill, len(not_done), len(verdict.written_unrecorded), strays)
    recover(project, expected, code)


def test_ci_kills_while_building_then_rebuilding(world: World, tmp_path: Path) -> None:
    project = copy_project(world.a, tmp_path / "p", storage=False)
    rng = random.Random(20240611)
    _chain(project, rng, CI_KILLS_PER_CHAIN, world.expected_a)
    # A code change that alters every value: the old outputs must stay readable until each
    # is replaced whole.
    shutil.copy(world.b.root / world.b.package / "helpers.py", project.root / project.package)
    _chain(project, rng, CI_KILLS_PER_CHAIN, world.expected_b)


# ---- the long trials ---------------------------------------------------------------------


@dataclass
class Clean:
    """A clean CLI materialization of ``a`` (and of ``b`` on top of nothing): reference
    values, code versions, and ``a``'s built storage to rebuild from."""

    storage_a: Path
    code_a: dict[str, str]
    code_b: dict[str, str]


@pytest.fixture(scope="session")
def clean(world: World, tmp_path_factory: pytest.TempPathFactory) -> Clean:
    base = tmp_path_factory.mktemp("clean")
    codes = []
    for name, project, expected in (
        ("a", world.a, world.expected_a),
        ("b", world.b, world.expected_b),
    ):
        copy = copy_project(project, base / name, storage=False)
        done = run(copy, "materialize")
        assert done.code == 0, done.err
        assert compare_with(expected, copy) == []
        records, problems = read_state(copy)
        assert not problems
        codes.append({k: r.code_version for k, r in records.items()})
    return Clean(base / "a" / ".lumbung", codes[0], codes[1])


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(SLOW_TRIALS))
def test_slow_kill_trial(trial: int, world: World, clean: Clean, tmp_path: Path) -> None:
    rng = random.Random(7919 * trial + 1)
    rebuild = trial % 2 == 1  # odd trials: a built store whose code then changed
    project = copy_project(world.b if rebuild else world.a, tmp_path / "p", storage=False)
    replace_storage(project, clean.storage_a if rebuild else None)
    code = clean.code_b if rebuild else clean.code_a
    expected = world.expected_b if rebuild else world.expected_a
    kill = kill_at_random(project, rng, N_ASSETS)
    strays = stray_files(project)
    verdict = check_after_crash(project, code, lambda: plan_keys(project))
    recover(project, expected, code)
    print(
        f"trial {trial}: {kill} not done {len(verdict.not_done)}, written but not recorded "
        f"{len(verdict.written_unrecorded)}, temporary files {len(strays)}"
    )
