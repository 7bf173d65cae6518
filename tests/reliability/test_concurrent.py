"""Concurrent ``lumbung materialize`` processes on one project (issue 8, reliability).

A generated project of 40 assets (every other one stored in the DuckDB warehouse, the rest
as Parquet): ``shared/s00..s09``, then two branches ``left/l00..l14`` and ``right/r00..r14``
that both read ``shared``. Three assets are gates: when ``LUMBUNG_TEST_GATES`` names a folder,
the gate writes ``<folder>/<gate>.<pid>`` and waits until ``<folder>/go`` exists. The tests
poll for those markers (and for the waiting run's stderr line) instead of sleeping, so which
run holds what, and that the runs overlap, is certain on a loaded machine.

What is shown, on real processes, real SQLite, Parquet and DuckDB files:
- two runs over overlapping selections, started at once: both exit 0; one waits (it says so
  once on stderr); the store holds one record per (run, asset) and exactly the assets each
  run reports; no asset's materializations from the two runs overlap in time; the waiting run
  builds nothing the other built (unless ``--force``); everything is fresh and equal, value
  for value and data version for data version, to a clean single run (20 trials, slow);
- ``--no-wait`` and ``--lock-timeout``: the pinned line, exit 1, nothing run or recorded;
- a holder killed with SIGKILL: its locks are taken over at once and its run is marked
  interrupted; what it recorded stays;
- two runs writing the same DuckDB warehouse at once never show a DuckDB lock error.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

_SCRIPT = Path(sys.executable).parent / "lumbung"
LUMBUNG = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "assets_core.cli"]
N_SHARED = 10
N_SIDE = 15
SHARED = [f"shared/s{i:02d}" for i in range(N_SHARED)]
LEFT = [f"left/l{i:02d}" for i in range(N_SIDE)]
RIGHT = [f"right/r{i:02d}" for i in range(N_SIDE)]
ALL = SHARED + LEFT + RIGHT
GATES = {"shared/s05": "shared", "left/l07": "left", "right/r07": "right"}
TIMEOUT = 240.0  # seconds for anything to happen; generous for a loaded 2-core machine
TRIALS = 20
CI_TRIALS = 2

HEADER = '''"""Generated for tests/reliability/test_concurrent.py."""
import os
import time
from pathlib import Path

import pandas as pd

from assets_core import asset


def gate(name: str) -> None:
    """With LUMBUNG_TEST_GATES set: say we are here, then wait for the test's go."""
    folder = os.environ.get("LUMBUNG_TEST_GATES")
    if not folder:
        return
    Path(folder, f"{name}.{os.getpid()}").write_text("")
    deadline = time.monotonic() + 600
    while not Path(folder, "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("no go from the test")
        time.sleep(0.02)


def combine(seed: int, *frames: pd.DataFrame) -> pd.DataFrame:
    if not frames:
        k = pd.Series(range(500), dtype="int64")
        return pd.DataFrame({"k": k, "v": (k * seed) % 1009})
    v = frames[0]["v"].to_numpy()
    for f in frames[1:]:
        v = v + f["v"].to_numpy()
    return pd.DataFrame({"k": frames[0]["k"].to_numpy(), "v": (v * 31 + seed) % 100003})
'''


def _upstream(key: str) -> list[str]:
    group, name = key.split("/")
    i = int(name[1:])
    if group == "shared":
        return [] if i == 0 else [SHARED[i - 1]] if i == 1 else [SHARED[i - 1], SHARED[i - 2]]
    side = LEFT if group == "left" else RIGHT
    if i == 0:
        return [SHARED[-1]]
    if i % 4 == 3:
        return [side[i - 1], SHARED[i % N_SHARED]]
    return [side[i - 1]]


def write_project(folder: Path) -> Path:
    """The generated project in ``folder`` (a module name of its own, so several projects
    can be loaded into this process)."""
    module = "conc_" + uuid.uuid4().hex[:8]
    folder.mkdir(parents=True)
    (folder / "lumbung.toml").write_text(f'modules = ["{module}"]\nstorage = ".lumbung"\n')
    parts = [HEADER]
    for n, key in enumerate(ALL):
        ups = _upstream(key)
        ins = {f"x{j}": u for j, u in enumerate(ups)}
        manager = "duckdb" if n % 2 else "parquet"
        params = ", ".join(f"{p}: pd.DataFrame" for p in ins)
        body = f'    gate("{GATES[key]}")\n' if key in GATES else ""
        body += f"    return combine({n + 1}{''.join(', ' + p for p in ins)})\n"
        parts.append(
            f"\n\n@asset(key={key!r}, io_manager={manager!r}, ins={ins!r})\n"
            f"def {key.replace('/', '_')}({params}) -> pd.DataFrame:\n{body}"
        )
    (folder / f"{module}.py").write_text("".join(parts))
    return folder


# ---- running lumbung -----------------------------------------------------------------------


@dataclass
class Proc:
    """A ``lumbung`` process started in the background, its output going to files."""

    popen: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr(self) -> str:
        return self.err.read_text()

    def finish(self) -> tuple[int, str, str]:
        code = self.popen.wait(timeout=TIMEOUT)
        return code, self.out.read_text(), self.stderr()


def _env(gates: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.pop("FORCE_COLOR", None)
    env.pop("LUMBUNG_TEST_GATES", None)
    if gates is not None:
        env["LUMBUNG_TEST_GATES"] = str(gates)
    return env


def start(project: Path, args: list[str], gates: Path | None, name: str) -> Proc:
    logs = project.parent / "logs"
    logs.mkdir(exist_ok=True)
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("wb") as o, err.open("wb") as e:
        popen = subprocess.Popen(
            [*LUMBUNG, *args],
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=e,
            env=_env(gates),
        )
    return Proc(popen, out, err)


def run(project: Path, args: list[str], gates: Path | None = None) -> tuple[int, str, str]:
    proc = subprocess.run(
        [*LUMBUNG, *args],
        cwd=project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(gates),
        timeout=TIMEOUT,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


T = TypeVar("T")


def wait_for(found: Callable[[], T | None], what: str, procs: list[Proc]) -> T:
    """Poll until ``found()`` returns something; fail early if a process ended meanwhile."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = found()
        if value is not None:
            return value
        for p in procs:
            if p.popen.poll() is not None:
                pytest.fail(f"{what}: lumbung (pid {p.pid}) ended first:\n{p.stderr()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def marker(gates: Path, gate: str) -> Callable[[], int | None]:
    """The pid of the process waiting at ``gate``, once one is."""

    def found() -> int | None:
        hits = sorted(gates.glob(f"{gate}.*"))
        return int(hits[0].suffix[1:]) if hits else None

    return found


# ---- reading the store and the outputs -----------------------------------------------------


def state(project: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{project / '.lumbung' / 'state.db'}?mode=ro", uri=True)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


@dataclass(frozen=True)
class Snapshot:
    """What a project's storage holds: each asset's values and its last data version, and
    whether a plan of everything is empty."""

    values: dict[str, list[int]]
    versions: dict[str, str]
    pending: list[str]


def snapshot(project: Path) -> Snapshot:
    """Load the project in this process and read every output back through Lumbung."""
    from assets_core import load_project

    defs = load_project(project)
    try:
        values: dict[str, list[int]] = {}
        for key in ALL:
            frame: Any = defs.load(key)
            values[key] = frame.sort_values("k")["v"].tolist()
        latest = defs.state.latest()
        versions = {
            str(k): st.last.data_version or "" for k, st in latest.items() if st.last is not None
        }
        pending = [str(k) for k in defs.plan().keys]
    finally:
        defs.close()
    return Snapshot(values, versions, pending)


def build(project: Path, select: str | None) -> list[str]:
    """Materialize through the Python API in this process (no gates: the variable is unset
    here); the keys materialized."""
    from assets_core import load_project

    assert "LUMBUNG_TEST_GATES" not in os.environ
    defs = load_project(project)
    try:
        result = defs.materialize(select)
    finally:
        defs.close()
    assert result.success
    return [str(k) for k in result.materialized]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """A clean single run of everything: what every concurrent outcome must equal."""
    project = write_project(tmp_path_factory.mktemp("reference") / "project")
    assert sorted(build(project, None)) == sorted(ALL)
    snap = snapshot(project)
    assert snap.pending == []
    return snap


def check_matches(project: Path, reference: Snapshot) -> None:
    """Everything is fresh, readable, and equal to the clean run; no lock is left."""
    snap = snapshot(project)
    assert snap.pending == []
    assert snap.versions == reference.versions
    assert snap.values == reference.values
    assert state(project, "SELECT * FROM locks") == []


# ---- the tests -----------------------------------------------------------------------------


@pytest.fixture
def gates(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "gates"
    folder.mkdir()
    yield folder
    (folder / "go").touch()  # never leave a gated process waiting


WAITING = re.compile(
    r"waiting: run (?P<run>\S+) \(pid (?P<pid>\d+)\) holds (?P<n>\d+) selected assets? "
    r"\((?P<keys>[^)]*)\); this run starts when they are free\."
)


def overlapping_trial(base: Path, reference: Snapshot, force: bool) -> None:
    """Two runs over overlapping selections (``+left/l14`` and ``+right/r14`` share the ten
    ``shared`` assets) started at once; the one that locks first stops at the shared gate
    until the other has said it waits."""
    project = write_project(base / "project")
    gates = base / "gates"
    gates.mkdir()
    extra = ["--force"] if force else []
    try:
        procs = {
            side: start(
                project,
                ["materialize", "-s", f"+{side}/{side[0]}14", "--json", *extra],
                gates,
                side,
            )
            for side in ("left", "right")
        }
        holder_pid = wait_for(
            marker(gates, "shared"), "a run at the shared gate", list(procs.values())
        )
        holder_side = next(s for s, p in procs.items() if p.pid == holder_pid)
        waiter_side = "right" if holder_side == "left" else "left"
        holder, waiter = procs[holder_side], procs[waiter_side]
        line = wait_for(
            lambda: WAITING.search(waiter.stderr()), "the other run's waiting line", [waiter]
        )
        assert int(line["pid"]) == holder_pid
    finally:
        (gates / "go").touch()
    h_code, h_out, h_err = holder.finish()
    w_code, w_out, w_err = waiter.finish()
    assert (h_code, h_err) == (0, ""), h_err
    assert w_code == 0, w_err
    assert w_err == line.group(0) + "\n"  # told once, nothing else
    h_res, w_res = json.loads(h_out), json.loads(w_out)
    assert line["run"] == h_res["run_id"]
    assert set(line["keys"].replace(" and ", ", ").split(", ")) <= set(SHARED) | {
        f"{n} more" for n in range(1, N_SHARED)
    }

    # One record per (run, asset); each run's materialized records are exactly what it says.
    rows = state(project, "SELECT run_id, key, outcome, started_at, ended_at FROM materializations")
    assert all(n == 1 for n in Counter((r[0], r[1]) for r in rows).values())
    for res in (h_res, w_res):
        built = sorted(r[1] for r in rows if r[0] == res["run_id"] and r[2] == "materialized")
        assert built == sorted(res["materialized"])
        assert res["failed"] == [] and res["skipped"] == []
    holder_keys = set(SHARED) | set(LEFT if holder_side == "left" else RIGHT)
    waiter_keys = set(SHARED) | set(LEFT if waiter_side == "left" else RIGHT)
    assert set(h_res["materialized"]) == holder_keys
    if force:
        assert set(w_res["materialized"]) == waiter_keys
    else:  # nothing the holder built is built again
        assert set(w_res["materialized"]) == waiter_keys - set(SHARED)
        assert set(w_res["up_to_date"]) <= set(SHARED)

    # No asset was materialized by both runs at once; the waiter started after the holder.
    spans: dict[str, list[tuple[float, float]]] = {}
    for _, key, outcome, began, ended in rows:
        if outcome == "materialized":
            spans.setdefault(key, []).append((began, ended))
    for key, intervals in spans.items():
        ordered = sorted(intervals)
        for (_, first_end), (second_start, _) in itertools.pairwise(ordered):
            assert first_end <= second_start, f"{key} materialized twice at once: {ordered}"
    runs = {
        r[0]: r[1:] for r in state(project, "SELECT run_id, status, started_at, ended_at FROM runs")
    }
    assert set(runs) == {h_res["run_id"], w_res["run_id"]}
    assert runs[h_res["run_id"]][0] == runs[w_res["run_id"]][0] == "success"
    assert runs[w_res["run_id"]][1] >= runs[h_res["run_id"]][2]
    check_matches(project, reference)


@pytest.mark.parametrize("trial", range(CI_TRIALS))
def test_overlapping_runs_at_once(tmp_path: Path, reference: Snapshot, trial: int) -> None:
    overlapping_trial(tmp_path, reference, force=trial % 2 == 1)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_overlapping_runs_at_once_trials(tmp_path: Path, reference: Snapshot, trial: int) -> None:
    overlapping_trial(tmp_path, reference, force=trial % 2 == 1)


def test_no_wait_and_lock_timeout_refuse_and_record_nothing(tmp_path: Path, gates: Path) -> None:
    project = write_project(tmp_path / "project")
    holder = start(project, ["materialize", "-s", "+left/l14", "--json"], gates, "holder")
    pid = wait_for(marker(gates, "shared"), "the holder at the shared gate", [holder])
    assert pid == holder.pid
    ((run_id, lock_pid),) = state(project, "SELECT DISTINCT run_id, pid FROM locks")
    assert lock_pid == pid
    # The holder is stopped at the gate, so what it has recorded cannot change meanwhile:
    # the other run's plan holds every shared asset without a success yet.
    done = {r[0] for r in state(project, "SELECT key FROM latest WHERE success_id IS NOT NULL")}
    held = [k for k in SHARED if k not in done]
    assert "shared/s05" in held
    named = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
    noun = "asset" if len(held) == 1 else "assets"
    holds = f"run {run_id} (pid {pid}) holds {len(held)} selected {noun} ({named})"

    refused = {  # at once: none of them records anything that could disturb another
        name: start(project, ["materialize", *args], None, name)
        for name, args in {
            "no-wait": ["-s", "+right/r14", "--no-wait"],
            "timeout": ["-s", "+right/r14", "--lock-timeout", "1"],
            "both": ["--no-wait", "--lock-timeout", "1"],
        }.items()
    }
    outcomes = {name: proc.finish() for name, proc in refused.items()}
    assert outcomes["no-wait"] == (
        1,
        "",
        f"error: {holds}; nothing was run. Try again when it finishes, or let this run wait "
        "for it.\n",
    )
    assert outcomes["timeout"] == (
        1,
        "",
        f"waiting: {holds}; this run starts when they are free.\n"
        f"error: {holds.replace(' holds ', ' still holds ')} after 1s of waiting; nothing was "
        "run. Try again when it finishes.\n",
    )
    assert outcomes["both"] == (
        2,
        "",
        "error: --no-wait and --lock-timeout exclude each other; use one of them.\n",
    )
    # Nothing was recorded for the refused runs.
    assert state(project, "SELECT run_id FROM runs") == [(run_id,)]
    assert {r[0] for r in state(project, "SELECT run_id FROM materializations")} <= {run_id}

    (gates / "go").touch()
    code, out, err = holder.finish()
    assert (code, err) == (0, "")
    assert sorted(json.loads(out)["materialized"]) == sorted(SHARED + LEFT)
    assert state(project, "SELECT run_id, status FROM runs") == [(run_id, "success")]
    assert state(project, "SELECT * FROM locks") == []


def test_a_killed_holders_locks_are_taken_over(
    tmp_path: Path, reference: Snapshot, gates: Path
) -> None:
    project = write_project(tmp_path / "project")
    holder = start(project, ["materialize", "-s", "+left/l14"], gates, "holder")
    pid = wait_for(marker(gates, "shared"), "the holder at the shared gate", [holder])
    ((run_id, lock_pid),) = state(project, "SELECT DISTINCT run_id, pid FROM locks")
    assert lock_pid == pid == holder.pid
    os.kill(pid, signal.SIGKILL)
    assert holder.popen.wait(timeout=TIMEOUT) == -signal.SIGKILL
    before = state(project, "SELECT key, run_id, outcome FROM materializations")
    assert len(state(project, "SELECT key FROM locks")) == len(SHARED) + len(LEFT)

    (gates / "go").touch()
    code, out, err = run(project, ["materialize", "--no-wait", "--json"])
    assert (code, err) == (0, "")  # taken over at once: no waiting, no refusal
    result = json.loads(out)
    # What the killed run recorded stays, and is not built again.
    after = state(project, "SELECT key, run_id, outcome FROM materializations")
    assert after[: len(before)] == before
    killed_built = {k for k, r, o in before if r == run_id and o == "materialized"}
    assert killed_built.isdisjoint(result["materialized"])
    assert set(result["materialized"]) == set(ALL) - killed_built
    status = dict(state(project, "SELECT run_id, status FROM runs"))
    assert status == {run_id: "interrupted", result["run_id"]: "success"}
    check_matches(project, reference)  # and no lock of the killed run is left


#: the line a run prints when it waits over a second for the warehouse another run holds
TURN = re.compile(
    r"waiting up to \d+ s for \S+warehouse\.duckdb, held by (pid \d+|another process)"
)


def test_two_runs_write_one_duckdb_warehouse_at_once(
    tmp_path: Path, reference: Snapshot, gates: Path
) -> None:
    project = write_project(tmp_path / "project")
    assert build(project, "shared/") == SHARED
    procs = [
        start(project, ["materialize", "-s", f"{side}/", "--no-wait", "--json"], gates, side)
        for side in ("left", "right")
    ]
    # Both runs are past their first DuckDB writes and stopped at their gates at once.
    left = wait_for(marker(gates, "left"), "left at its gate", procs)
    right = wait_for(marker(gates, "right"), "right at its gate", procs)
    assert {left, right} == {p.pid for p in procs}
    (gates / "go").touch()
    for proc, keys in zip(procs, (LEFT, RIGHT), strict=True):
        code, out, err = proc.finish()
        # No lock error of any kind. The two take turns on the file: a turn longer than a
        # second (a loaded machine) is said once, naming the other run; nothing else is.
        said = [line for line in err.splitlines() if not TURN.match(line)]
        assert (code, said) == (0, []), err
        assert sorted(json.loads(out)["materialized"]) == keys
    check_matches(project, reference)
