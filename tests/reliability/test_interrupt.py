"""Ctrl-C: ``lumbung materialize`` interrupted by SIGINT sent to its whole process group, as a
terminal sends it (worker processes included), at random moments of a 200-asset run.

Each interrupt must print exactly one line on stderr, saying how many assets finished (and
are recorded), how many did not, and what to do; exit 130; print no traceback; and leave the
store as the crash tests require (``harness.check_after_crash``): what the line calls finished
is exactly what the run recorded, and the next plan lists exactly what is not done. A second
and third Ctrl-C while the first is being handled change nothing. The chain of interrupts
ends with a run to completion that stores what a clean run stores.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.reliability.conftest import N_ASSETS, World
from tests.reliability.harness import (
    LUMBUNG,
    InProcess,
    Project,
    check_after_crash,
    copy_project,
    count_records,
    lumbung_env,
    recover,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

RUN_LINE = re.compile(
    r"interrupted: (\d+) of (\d+) assets finished and are recorded; (\d+) did not"
    r"(?: \((\d+) (?:was|were) running\))?; run the same command again to finish them\.\n"
)
BEFORE_RUN = "interrupted before any asset ran; run the same command again.\n"
#: seconds each asset sleeps: a run of 200 lasts about half a second of sleeps on 2 workers,
#: so a press timed by the records it has made lands in the run's middle
PACE = 0.005
IMPORTING = "error: interrupted\n"  # Ctrl-C while Python was still importing the CLI


@dataclass(frozen=True)
class Interrupted:
    """One interrupted run: what it printed, and the last run's records in the state."""

    code: int
    out: str
    err: str
    run_status: str | None
    run_outcomes: int  # records the interrupted run wrote
    locks: int  # locks left in the state


def _last_run(project: Project) -> tuple[str | None, int, int]:
    path = project.storage / "state.db"
    if not path.exists():
        return None, 0, 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        row = con.execute("SELECT run_id, status FROM runs ORDER BY rowid DESC LIMIT 1").fetchone()
        if row is None:
            return None, 0, 0
        (n,) = con.execute("SELECT count(*) FROM materializations WHERE run_id = ?", row[:1])
        (locks,) = con.execute("SELECT count(*) FROM locks").fetchone()
        return row[1], int(n[0]) if isinstance(n, tuple) else int(n), int(locks)
    finally:
        con.close()


def interrupt(
    project: Project, rng: random.Random, executor: str, *, after: int | None, presses: int
) -> Interrupted:
    """Run ``lumbung materialize`` in its own process group and press Ctrl-C ``presses``
    times (a few milliseconds apart): once ``after`` assets are recorded, or, with ``None``,
    a moment into start-up."""
    records0 = count_records(project)
    proc = subprocess.Popen(
        [*LUMBUNG, "materialize", "--executor", executor, "--workers", "2"],
        cwd=project.root,
        env=lumbung_env(pace=PACE),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, like a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        if after is None:
            # start-up: importing, loading the project, planning; a 200-asset run takes
            # longer than this on its own, so the press always lands before the run ends
            time.sleep(rng.uniform(0.1, 1.0))
        else:
            deadline = time.monotonic() + 240
            while (
                proc.poll() is None
                and time.monotonic() < deadline
                and count_records(project) - records0 < after
            ):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.1))
        for i in range(presses):
            if i:
                time.sleep(rng.uniform(0.0, 0.05))
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:  # it exited already
                break
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    status, outcomes, locks = _last_run(project)
    return Interrupted(proc.returncode, out, err, status, outcomes, locks)


#: a step's line, shown as it comes: its worker waited for the warehouse another worker held
#: (two worker processes take turns at the DuckDB file); not a line about the interrupt
WAITED = re.compile(r"\S+ \| waiting up to [\d.]+ s for \S+warehouse\.duckdb, held by .*\n")


def check_line(got: Interrupted, todo: int) -> None:
    """Exactly one line about the interrupt, the right one, exit 130, and the counts the state
    confirms (after the lines steps said, of which only a wait for the warehouse can come)."""
    assert "Traceback" not in got.err, got.err
    got = replace(got, err=WAITED.sub("", got.err))
    if got.code == -signal.SIGINT:  # killed while the interpreter itself was starting: a
        assert (got.out, got.err, got.run_status) == ("", "", None)  # shell shows 130 too
        return
    if got.code == 0:  # the run finished before the press: nothing was interrupted
        assert (got.err, got.run_status, got.run_outcomes) == ("", "success", todo)
        return
    assert got.code == 130, (got.code, got.err)
    if got.err in (BEFORE_RUN, IMPORTING):
        return
    if got.err == f"interrupted: all {todo} assets finished and are recorded.\n":
        assert (got.run_outcomes, got.locks) == (todo, 0)  # pressed as the run ended
        return
    match = RUN_LINE.fullmatch(got.err)
    assert match, got.err
    finished, total, left = int(match[1]), int(match[2]), int(match[3])
    assert (total, finished + left) == (todo, todo)
    # What the line calls finished is what the run recorded; the run is marked interrupted
    # and holds no lock any more. Pressed after planning but before the run was recorded
    # (while it took its locks, on a loaded machine), nothing ran and no run exists.
    if got.run_status is None:
        assert (finished, got.run_outcomes, got.locks) == (0, 0, 0)
        return
    assert (got.run_status, got.run_outcomes, got.locks) == ("interrupted", finished, 0)


@pytest.mark.parametrize(
    ("executor", "presses"),
    [
        ("threads", 1),
        ("in-process", 3),
        # every worker process loads the project: too slow for CI on a loaded machine
        pytest.param("processes", 2, marks=pytest.mark.slow),
    ],
)
def test_ctrl_c_one_line_130_and_a_consistent_store(
    world: World, tmp_path: Path, executor: str, presses: int
) -> None:
    project = copy_project(world.a, tmp_path / "p", storage=False)
    loaded = InProcess(project)
    code = loaded.code_versions()
    rng = random.Random(f"{executor}-{presses}")
    todo = N_ASSETS
    # Once during start-up (nothing may have run), then twice in the middle of the run.
    for after in (None, rng.randint(1, 40), rng.randint(20, 60)):
        got = interrupt(project, rng, executor, after=after, presses=presses)
        check_line(got, todo)
        todo = len(check_after_crash(project, code, loaded.planned).not_done)
    recover(project, world.expected_a, code)
