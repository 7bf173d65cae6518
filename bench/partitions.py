"""Benchmark: planning 100 daily-partitioned assets x 1,096 partitions (109,600 steps), all fresh.

Builds a project in a temporary folder (or ``--dir``): 100 assets partitioned by day over three
years (2022-01-01 to 2024-12-31, "now" pinned at 2025-01-01), ``p000`` reading nothing and each
next one reading the one before (every tenth through ``window(-6, 0)``, a 7-day lookback). Its
state is made fresh without running anything (running partitions is not built yet in this
branch): every step is recorded through the state store API as the recorder would record it,
and an empty file is put where the Parquet IO manager keeps each partition, so that the plan
asks the real manager about 109,600 stored outputs and finds them all.

Then, in one run, it measures:

- in-process: ``Session.plan(as_of=...)`` after the project is loaded (best of 3), split into
  the IO manager's check of the stored outputs and the rest (state read, rules);
- the peak memory the plan allocates (``tracemalloc``, one more plan) and the process's peak
  resident memory;
- the whole command: ``lumbung plan --as-of 2025-01-01`` in a fresh process (best of 3).

Targets (issue 16, 2 cores): in-process <= 1.0 s, whole command <= 3 s.

    .venv/bin/python bench/partitions.py [--dir DIR]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ASSETS = 100
START, AS_OF = "2022-01-01", "2025-01-01"


def module_text() -> str:
    out = [
        "import pandas as pd",
        "from assets_core import asset",
        "from assets_core.partitions import daily, window",
        "",
        f'DAYS = daily(start="{START}")',
        "",
        "@asset(partitions=DAYS)",
        "def p000() -> pd.DataFrame:",
        "    return pd.DataFrame({'v': [0]})",
    ]
    for i in range(1, ASSETS):
        prev = f"p{i - 1:03d}"
        ins = f', ins={{"{prev}": window(-6, 0)}}' if i % 10 == 0 else ""
        out += [
            "",
            f"@asset(partitions=DAYS{ins})",
            f"def p{i:03d}({prev}: pd.DataFrame) -> pd.DataFrame:",
            f"    return {prev}",
        ]
    return "\n".join(out) + "\n"


def build(root: Path) -> None:
    """The project, and its state made fresh (see the module)."""
    from assets_core import load_project
    from assets_core.storage.state import MaterializationRecord, RunRecord

    (root / "bench_parts").mkdir(parents=True)
    (root / "bench_parts" / "__init__.py").write_text("")
    (root / "bench_parts" / "assets.py").write_text(module_text())
    (root / "lumbung.toml").write_text('modules = ["bench_parts.assets"]\n')
    with load_project(root) as session:
        plan = session.plan(as_of=AS_OF)
        manager = session.io.get("parquet")
        versions = dict(plan.current)
        records = []
        session.state.start_run(RunRecord("bench", 1.0))
        for s in plan.steps:
            step = s.step
            path = manager.path(s.key, s.partition)  # type: ignore[attr-defined]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            inputs = {u: versions.get(u) for u in plan.upstream.get(step, ())}
            data = hashlib.sha256(str(step).encode()).hexdigest()[:32]
            versions[step] = data
            records.append((step, s.key, inputs, data, str(path)))
        code = {k: v.version for k, v in plan.code_versions.items()}
        found = session._stored([r[0] for r in records])
        session.state.record(
            [
                MaterializationRecord(
                    step,
                    "bench",
                    "materialized",
                    code[key],
                    data,
                    inputs,
                    location=location,
                    fingerprint=found[step] or None,
                )
                for step, key, inputs, data, location in records
            ]
        )
        session.state.finish_run("bench", "success", 2.0)


def in_process(root: Path) -> dict[str, float]:
    gc.disable()  # as every lumbung command does
    from assets_core import load_project

    t0 = time.perf_counter()
    session = load_project(root)
    load_s = time.perf_counter() - t0
    times, stored_times = [], []
    real_stored = session._stored

    def timed_stored(steps):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return real_stored(steps)
        finally:
            stored_times.append(time.perf_counter() - t)

    session._stored = timed_stored  # type: ignore[method-assign]
    for _ in range(3):
        t = time.perf_counter()
        plan = session.plan(as_of=AS_OF)
        times.append(time.perf_counter() - t)
        assert not plan.steps, [str(s.step) for s in plan.steps[:5]]
    steps = len(plan.statuses)
    del plan
    tracemalloc.start()
    plan = session.plan(as_of=AS_OF)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(plan.statuses) == steps
    session.close()
    best = min(range(3), key=lambda i: times[i])
    return {
        "load_s": load_s,
        "plan_s": times[best],
        "stored_s": stored_times[best],
        "steps": steps,
        "plan_peak_mb": peak / 2**20,
        "plan_held_mb": held / 2**20,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def whole_command(root: Path) -> float:
    lumbung = Path(sys.executable).parent / "lumbung"
    times = []
    for _ in range(3):
        t = time.perf_counter()
        done = subprocess.run(
            [str(lumbung), "plan", "--as-of", AS_OF],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - t)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Nothing to do"), done.stdout[:300]
    return min(times)


COLD = """
import gc, sys, time
gc.disable()
t0 = time.perf_counter()
from assets_core import load_project
session = load_project(sys.argv[1])
t1 = time.perf_counter()
spent = []
real = session._stored
def timed(steps):
    t = time.perf_counter()
    try:
        return real(steps)
    finally:
        spent.append(time.perf_counter() - t)
session._stored = timed
plan = session.plan(as_of=sys.argv[2])
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, spent[0])
"""


def cold(root: Path) -> tuple[float, float, float]:
    """In a fresh process as a command starts: import and load, the first plan, and the IO
    manager's part of it (its caches are empty)."""
    done = subprocess.run(
        [sys.executable, "-c", COLD, str(root), AS_OF],
        capture_output=True,
        text=True,
        check=True,
    )
    load, plan, stored = (float(x) for x in done.stdout.split())
    return load, plan, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to build the project (default: a temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = (args.dir or Path(tmp) / "project").resolve()
        if not (root / "lumbung.toml").exists():
            t = time.perf_counter()
            build(root)
            print(f"built {ASSETS} x 1,096 fresh steps in {time.perf_counter() - t:.1f} s")
        os.environ.pop("LUMBUNG_NOW", None)
        found = in_process(root)
        command = whole_command(root)
        first = min((cold(root) for _ in range(2)), key=lambda t: t[1])
    print(f"steps planned                      {found['steps']:>10,}")
    print(f"load (import the project)          {found['load_s']:>10.3f} s")
    print(f"plan, in-process (best of 3)       {found['plan_s']:>10.3f} s  (target <= 1.0)")
    print(f"  of which the IO manager's check  {found['stored_s']:>10.3f} s")
    print(f"  of which the rest                {found['plan_s'] - found['stored_s']:>10.3f} s")
    print(f"plan's peak allocation (tracemalloc) {found['plan_peak_mb']:>8.1f} MB")
    print(f"  held by the plan afterwards      {found['plan_held_mb']:>10.1f} MB")
    print(f"process peak RSS                   {found['maxrss_mb']:>10.1f} MB")
    print(f"lumbung plan, whole command        {command:>10.3f} s  (target <= 3.0)")
    print(f"  a fresh process: import and load {first[0]:>10.3f} s")
    print(f"  its first plan                   {first[1]:>10.3f} s")
    print(f"    of which the IO manager's check{first[2]:>10.3f} s")
    print(f"    of which the rest              {first[1] - first[2]:>10.3f} s")


if __name__ == "__main__":
    main()
