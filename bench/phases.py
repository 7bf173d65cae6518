"""Where a fresh run's time goes, phase by phase, against the plain-Python in-memory baseline.

Runs ``lumbung materialize`` of a project into new storage and ``bench/baseline.py
--in-memory`` into a new folder as whole processes, in turn, ``--repeat`` times (after one
warm-up pair). Each process notes the wall-clock and CPU time at the seams of its work (a
small bootstrap wraps a few functions of Lumbung; the baseline takes a ``note`` callback), and
this process notes when it started and ended. The medians per phase:

- **start, imports**: up to the import of the project's modules (Lumbung: the interpreter,
  the CLI and typer, the engine; the baseline: the interpreter and pyarrow);
- **project**: importing the project's modules (pandas with them), and for Lumbung the
  ``Definitions`` and the session;
- **plan**: Lumbung's plan (code versions, state, output checks); none for the baseline;
- **run**: the steps (the baseline: its loop);
- **after the run**: Lumbung's summary and the CLI's exit hooks;
- **exit**: from the last exit hook to the end of the process (the interpreter's teardown).

Wall-clock and CPU (user + system of the whole process, threads included) are both shown: on
a shared machine the CPU column is the steadier. The last lines divide the run's difference
by the number of steps, and split the run's CPU into user and system time: on a disk other
processes write to, the system time of creating 1,000 new files moves between runs far more
than the code's own work does. With ``--also SRC`` a second Lumbung (an older source tree)
joins the rotation and gets its own columns.

    python bench/phases.py PROJECT_DIR [--repeat 5] [--also SRC]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generate import read_graph, write_config
from measure import CHILD_ENV, rotation

MARKS_ENV = "BENCH_PHASES_MARKS"

#: what both bootstraps begin with: ``note(name)`` marks a moment; the marks are saved at exit
_MARKS = r"""
import atexit, json, os, sys, time
def now():
    t = os.times()
    return (time.perf_counter(), time.process_time(), t.user, t.system)
marks = {"start": now()}
def note(name):
    marks[name] = now()
def save():
    note("exit")
    with open(os.environ["BENCH_PHASES_MARKS"], "w") as fh:
        json.dump(marks, fh)
atexit.register(save)
"""

#: the bootstrap of a Lumbung process: wraps the seams, then runs the CLI as the script does
_LUMBUNG = (
    _MARKS
    + r"""
if len(sys.argv) > 1 and sys.argv[1] != "materialize":
    sys.path.insert(0, sys.argv.pop(1))
def around(owner, name, before, after):
    fn = getattr(owner, name)
    def wrapper(*args, **kwargs):
        note(before)
        try:
            return fn(*args, **kwargs)
        finally:
            note(after)
    setattr(owner, name, wrapper)
from assets_core.cli import entry
import assets_core.model.project as project
import assets_core.session as session
import assets_core.execution.run as run
around(project, "import_project", "project", "project imported")
around(session.Session, "plan", "plan", "planned")
around(run, "execute", "run", "ran")
sys.argv[0] = "lumbung"
entry()
"""
)

#: the bootstrap of a baseline process
_BASELINE = (
    _MARKS
    + r"""
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import baseline
baseline.run(Path(sys.argv[2]), Path(sys.argv[3]), in_memory=True, note=note)
"""
)

#: each phase: (name, Lumbung's mark that opens it, the baseline's); a phase ends at the next
PHASES = (
    ("start, imports", "spawn", "spawn"),
    ("project", "project", "project"),
    ("plan", "plan", None),
    ("run", "run", "run"),
    ("after the run", "ran", "ran"),
    ("exit", "exit", "exit"),
)


#: what each mark and phase holds: wall-clock, CPU, user and system seconds
Times = tuple[float, float, float, float]


def timed(cmd: list[str], cwd: Path, marks: Path) -> dict[str, Times]:
    """Run ``cmd``; its marks (wall, CPU, user, system), with ``spawn`` and ``end`` from this
    side."""
    env = dict(CHILD_ENV, **{MARKS_ENV: str(marks)})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawn = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    end = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{cmd[:3]} failed: {(proc.stderr or proc.stdout)[-400:]}")
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    got: dict[str, Times] = {
        k: (float(v[0]), float(v[1]), float(v[2]), float(v[3]))
        for k, v in json.loads(marks.read_text()).items()
    }
    got["spawn"] = (spawn, 0.0, 0.0, 0.0)
    got["end"] = (end, user + system, user, system)
    return got


def phases(marks: dict[str, Times], lumbung: bool) -> dict[str, Times]:
    """Each phase's (wall, CPU, user, system) seconds from one process's marks."""
    opened = [(name, m if lumbung else b) for name, m, b in PHASES]
    seams = [(name, mark) for name, mark in opened if mark is not None]
    out: dict[str, Times] = {name: (0.0, 0.0, 0.0, 0.0) for name, _ in opened}
    for (name, mark), (_, nxt) in zip(seams, [*seams[1:], ("", "end")], strict=True):
        a, b = marks[mark], marks[nxt]
        out[name] = (b[0] - a[0], b[1] - a[1], b[2] - a[2], b[3] - a[3])
    return out


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("project", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--also", type=Path, metavar="SRC", help="another Lumbung source tree")
    args = parser.parse_args()
    project = args.project.resolve()
    graph = read_graph(project)
    n = len(graph["assets"])
    who = rotation(_LUMBUNG, _BASELINE, project, args.also)
    found: dict[str, list[dict[str, Times]]] = {k: [] for k in who}
    with tempfile.TemporaryDirectory(prefix="lumbung-phases-") as scratch:
        tmp = Path(scratch)
        for r in range(args.repeat + 1):  # the first round warms up
            order = list(who)
            order = order[r % len(order) :] + order[: r % len(order)]
            for name in order:
                out = tmp / f"{name.strip('[]')}-{r}"
                if name == "baseline":
                    cmd = [*who[name], str(out)]
                else:
                    write_config(project, list(graph["modules"]), storage=str(out))
                    cmd = [*who[name], "materialize"]
                marks = timed(cmd, project, tmp / "marks.json")
                shutil.rmtree(out, ignore_errors=True)
                if r:
                    found[name].append(phases(marks, lumbung=name != "baseline"))
    write_config(project, list(graph["modules"]))
    medians = {
        k: {
            p: tuple(statistics.median(run[p][i] for run in runs) for i in range(4))
            for p, _, _ in PHASES
        }
        for k, runs in found.items()
    }
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{n:,} assets, {args.repeat} runs each, medians in seconds; load average {load}")
    names = list(who)
    print("| phase | " + " | ".join(f"{k} wall | {k} CPU" for k in names) + " |")
    print("|---" * (1 + 2 * len(names)) + "|")
    for p, _, _ in PHASES:
        cells = " | ".join(f"{medians[k][p][0]:.3f} | {medians[k][p][1]:.3f}" for k in names)
        print(f"| {p} | {cells} |")
    totals = {k: [sum(run[p][0] for p, _, _ in PHASES) for run in found[k]] for k in names}
    for k in names:
        if k == "baseline":
            continue
        ratio = statistics.median(a / b for a, b in zip(totals[k], totals["baseline"], strict=True))
        run_diff = [medians[k]["run"][i] - medians["baseline"]["run"][i] for i in range(4)]
        print(
            f"{k}: whole process {ratio:.2f}x the baseline (median of pairs); the run "
            f"{run_diff[0] / n * 1e6:+.0f} us wall, {run_diff[1] / n * 1e6:+.0f} us CPU per step "
            f"({run_diff[2] / n * 1e6:+.0f} us user, {run_diff[3] / n * 1e6:+.0f} us system)"
        )
    for k in names:
        user, system = medians[k]["run"][2], medians[k]["run"][3]
        spread = [round(run["run"][3], 2) for run in found[k]]
        print(
            f"{k}: the run's user {user:.3f} s, system {system:.3f} s (each run's system: {spread})"
        )


if __name__ == "__main__":
    main()
