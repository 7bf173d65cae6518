"""A run that dies leaves nothing running and nothing held (issue 14, items 1, 3 and 12).

Real ``lumbung materialize`` processes on a small project whose first asset is a gate: it
writes ``<gates>/first.<pid>`` and waits until ``<gates>/go`` exists, so the tests kill a
run while it certainly holds its locks and runs a step, never by timing.

- ``lumbung materialize -e processes`` killed with SIGKILL or SIGTERM, sent to its process
  alone (as ``timeout`` and ``docker stop`` do) or to its whole process group (as a terminal
  or systemd does): every process it started (the fork server, the workers, the resource
  tracker) ends, and a new run's output is never overwritten by the old run's worker. With
  SIGTERM the run says what finished in one line, records it, releases its locks and exits
  143, whatever the executor.
- A worker killed in the middle of a Parquet write leaves a temporary file; the run that saw
  it die removes it before it ends (its workers reaped first, and a zombie is not a writer).
- A run started as PID 1 of its own PID namespace (``unshare --pid --fork --mount-proc``, as
  in a container), killed with SIGKILL and started again the same way, takes over the dead
  run's locks at once (its pid, 1, is alive in every namespace; its OS lock is not held).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from assets_core.storage.liveness import Holder, holder_of, is_running
from tests.reliability.harness import LUMBUNG

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
LINUX = Path("/proc/self/stat").exists()

TIMEOUT = 240.0  # seconds for anything to happen on a loaded machine
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]

ASSETS = '''"""Generated for tests/reliability/test_dead_runs.py."""
import os
import time
from pathlib import Path

import pandas as pd

from assets_core import asset


def _gate(name: str) -> None:
    folder = os.environ.get("DEAD_RUNS_GATES")
    if not folder:
        return
    (Path(folder) / f"{name}.{os.getpid()}").write_text("")
    while not (Path(folder) / "go").exists():
        time.sleep(0.02)


@asset
def first() -> pd.DataFrame:
    _gate("first")
    return pd.DataFrame({"v": [int(os.environ.get("DEAD_RUNS_VALUE", "1"))]})


@asset
def second(first: pd.DataFrame) -> pd.DataFrame:
    return first * 2
'''


#: An asset whose Parquet write stops half-way at a gate: DuckDB pulls the rows through a
#: function that waits, while the manager streams them into its temporary file.
WRITER = '''"""Generated for tests/reliability/test_dead_runs.py."""
import os
import time
from pathlib import Path

from assets_core import asset


def _gate(i: int) -> int:
    if i == 150_000:
        folder = Path(os.environ["DEAD_RUNS_GATES"])
        (folder / f"writing.{os.getpid()}").write_text("")
        while not (folder / "go").exists():
            time.sleep(0.02)
    return i


@asset
def big(context):
    con = context.duckdb
    con.create_function("gate", _gate, ["BIGINT"], "BIGINT", side_effects=True)
    return con.sql("SELECT gate(i) AS i FROM range(200000) t(i)")
'''


def write_project(root: Path, assets: str = ASSETS) -> Path:
    pkg = root / "dead_assets"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "assets.py").write_text(assets)
    (root / "lumbung.toml").write_text('modules = ["dead_assets.assets"]\nstorage = ".lumbung"\n')
    return root


def env(gates: Path | None = None, value: int = 1) -> dict[str, str]:
    out = dict(os.environ)
    out.update({"COLUMNS": "200", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    out["DEAD_RUNS_VALUE"] = str(value)
    out.pop("DEAD_RUNS_GATES", None)
    if gates is not None:
        out["DEAD_RUNS_GATES"] = str(gates)
    return out


def start(project: Path, argv: list[str], gates: Path | None = None) -> subprocess.Popen[str]:
    """``argv`` in the project folder, in a session of its own (so its whole process group
    can be signalled, as a terminal or a service manager does)."""
    return subprocess.Popen(
        argv,
        cwd=project,
        env=env(gates),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run(project: Path, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=project,
        env=env(**kw),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


T = TypeVar("T")


def wait_for(found: Callable[[], T | None], what: str, proc: subprocess.Popen[str]) -> T:
    """Poll until ``found()`` returns something; fail if ``proc`` ends first."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = found()
        if value is not None:
            return value
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"{what}: the run ended first (exit {proc.returncode}):\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: nothing after {TIMEOUT:.0f}s")
        time.sleep(0.02)


def marker(gates: Path, name: str) -> Callable[[], int | None]:
    def found() -> int | None:
        for path in gates.glob(f"{name}.*"):
            return int(path.suffix[1:])
        return None

    return found


def state(project: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{project / '.lumbung' / 'state.db'}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _children() -> dict[int, list[int]]:
    """Every process's children, from ``/proc``."""
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_bytes()
        except OSError:
            continue
        ppid = int(text[text.rfind(b")") + 2 :].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def family(pid: int) -> dict[int, Holder]:
    """``pid``'s descendants, each named by its identity (so a reused pid is not them)."""
    children = _children()
    found: dict[int, Holder] = {}
    todo = list(children.get(pid, []))
    while todo:
        p = todo.pop()
        if p not in found:
            found[p] = holder_of(p)
            todo.extend(children.get(p, []))
    return found


def wait_gone(processes: dict[int, Holder], what: str) -> None:
    """Wait until every one of ``processes`` has ended (a zombie has)."""
    deadline = time.monotonic() + 60
    while True:
        alive = [p for p, holder in processes.items() if is_running(holder)]
        if not alive:
            return
        if time.monotonic() > deadline:
            lines = []
            for p in alive:
                try:
                    lines.append(Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" "))
                except OSError:
                    lines.append(b"?")
            pytest.fail(f"{what}: still running: {alive} {lines}")
        time.sleep(0.05)


def stored_value(project: Path) -> list[int]:
    import pyarrow.parquet as pq

    table = pq.read_table(project / ".lumbung" / "parquet" / "first.parquet")
    return [int(v) for v in table.column("v").to_pylist()]


TERMINATED = (
    "terminated: 0 of 2 assets finished and are recorded; 2 did not (1 was running); run the "
    "same command again to finish them.\n"
)


@pytest.mark.skipif(not LINUX, reason="finds a run's processes through /proc")
@pytest.mark.parametrize(
    ("signame", "target"),
    [
        ("SIGKILL", "process"),  # the case that left orphans: nothing signals the workers
        ("SIGTERM", "group"),  # systemd: every process gets it, the run stops them
        pytest.param("SIGTERM", "process", marks=pytest.mark.slow),
        pytest.param("SIGKILL", "group", marks=pytest.mark.slow),
    ],
)
def test_a_processes_run_that_is_killed_leaves_no_process_and_no_late_write(
    tmp_path: Path, gates: Path, signame: str, target: str
) -> None:
    project = write_project(tmp_path / "p")
    first = start(project, [*LUMBUNG, "materialize", "-e", "processes"], gates)
    try:
        worker = wait_for(marker(gates, "first"), "the first run's gate", first)
        started = family(first.pid)
        assert worker in started  # the fork server's child, running the gate
        signum = getattr(signal, signame)
        if target == "group":
            os.killpg(first.pid, signum)
        else:
            os.kill(first.pid, signum)
        _, err = first.communicate(timeout=TIMEOUT)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate()
    if signame == "SIGTERM":
        assert (first.returncode, err) == (143, TERMINATED)
        assert state(project, "SELECT status FROM runs") == [("interrupted",)]
        assert state(project, "SELECT * FROM locks") == []
    else:
        assert first.returncode == -signal.SIGKILL
    wait_gone(started, f"after {signame} to the run's {target}")
    # A new run builds with another value; then the old gate opens. No worker of the old run
    # is left to go on and publish its value over the new one.
    again = run(project, [*LUMBUNG, "materialize", "--no-wait", "-e", "processes"], value=2)
    assert again.returncode == 0, again.stderr
    (gates / "go").touch()
    assert stored_value(project) == [2]
    plan = run(project, [*LUMBUNG, "plan"])
    assert plan.returncode == 0 and "Nothing to do" in plan.stdout, plan.stdout


@pytest.mark.parametrize(
    "executor", ["threads", pytest.param("in-process", marks=pytest.mark.slow)]
)
def test_sigterm_is_handled_like_ctrl_c(tmp_path: Path, gates: Path, executor: str) -> None:
    project = write_project(tmp_path / "p")
    first = start(project, [*LUMBUNG, "materialize", "-e", executor], gates)
    try:
        wait_for(marker(gates, "first"), "the first run's gate", first)
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=TIMEOUT)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate()
    assert (first.returncode, err) == (143, TERMINATED)
    assert state(project, "SELECT status FROM runs") == [("interrupted",)]
    assert state(project, "SELECT * FROM locks") == []
    (gates / "go").touch()
    again = run(project, [*LUMBUNG, "materialize", "--no-wait"])
    assert again.returncode == 0, again.stderr


def test_a_writer_killed_mid_write_leaves_no_temporary_file_after_the_run(
    tmp_path: Path, gates: Path
) -> None:
    project = write_project(tmp_path / "p", WRITER)
    staging = project / ".lumbung" / "parquet" / ".tmp"
    proc = start(project, [*LUMBUNG, "materialize", "-e", "processes"], gates)
    try:
        writer = wait_for(marker(gates, "writing"), "the write's gate", proc)
        assert [p.name.split("-")[1] for p in staging.iterdir()] == [str(writer)]
        os.kill(writer, signal.SIGKILL)
        (gates / "go").touch()
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 1, err  # the step failed: its worker was killed
    assert list(staging.iterdir()) == []


def _can_unshare() -> bool:
    try:
        done = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.fixture
def gates(tmp_path: Path) -> Path:
    folder = tmp_path / "gates"
    folder.mkdir()
    return folder


def test_a_run_killed_as_pid_1_of_its_pid_namespace_is_taken_over(
    tmp_path: Path, gates: Path
) -> None:
    if not _can_unshare():
        pytest.skip(
            "`unshare --pid --fork --mount-proc` is not permitted on this machine (it needs "
            "root or unprivileged user namespaces)"
        )
    project = write_project(tmp_path / "p")
    first = start(project, [*UNSHARE, *LUMBUNG, "materialize"], gates)
    try:
        wait_for(marker(gates, "first"), "the first run's gate", first)
        assert state(project, "SELECT DISTINCT pid FROM locks") == [(1,)]
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=TIMEOUT)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate()
    (gates / "go").touch()
    again = run(project, [*UNSHARE, *LUMBUNG, "materialize", "--no-wait"])
    assert again.returncode == 0, again.stderr
    assert "2 materialized" in again.stdout
    statuses = [s for (s,) in state(project, "SELECT status FROM runs ORDER BY started_at")]
    assert statuses == ["interrupted", "success"]
    assert state(project, "SELECT * FROM locks") == []
    assert not list((project / ".lumbung" / "locks").iterdir())
