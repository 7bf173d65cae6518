"""Benchmark: partitions. Planning 100 daily-partitioned assets x 1,096 partitions (109,600
steps), all fresh; a backfill of 365 daily partitions against a plain-Python loop writing the
same 365 Parquet files; ``lumbung partitions ASSET`` on 4 years of hourly partitions (35,064).

Builds a project in a temporary folder (or ``--dir``): 100 assets partitioned by day over three
years (2022-01-01 to 2024-12-31, "now" pinned at 2025-01-01), ``p000`` reading nothing and each
next one reading the one before (every tenth through ``window(-6, 0)``, a 7-day lookback). Its
state is made fresh without running anything (running 109,600 steps would take minutes and is
not what is measured): every step is recorded through the state store API as the recorder
would record it, and an empty file is put where the Parquet IO manager keeps each partition,
so that the plan asks the real manager about 109,600 stored outputs and finds them all.

Then, in one run, it measures:

- in-process: ``Session.plan(as_of=...)`` after the project is loaded (best of 3), split into
  the IO manager's check of the stored outputs and the rest (state read, rules);
- the peak memory the plan allocates (``tracemalloc``, one more plan) and the process's peak
  resident memory;
- the whole command: ``lumbung plan --as-of 2025-01-01`` in a fresh process (best of 3).

Targets (issue 16, 2 cores): in-process <= 1.0 s, whole command <= 3 s.

The backfill: one asset partitioned by day (365 days of 2023) returning a 10-row frame, run by
``lumbung materialize --as-of 2024-01-01`` (Parquet IO, SQLite state, threads) in a fresh
process, against a fresh process running the plain loop that builds the same frames and writes
them with ``pyarrow.parquet`` into the same hive layout (5 pairs, interleaved: the median of
the pairs' ratios, of wall-clock and of CPU seconds, which a busy machine moves less; also
in-process: ``Session.materialize`` against the loop after imports). Target <= 1.3x.

The partitions page: one hourly asset over 2021-2024 (35,064 partitions), made fresh the same
way as the plan benchmark, with a few partitions stale, missing and failed;
``Session.partition_counts`` in-process (best of 3) and the whole ``lumbung partitions ASSET``
command (median of 5), interleaved with its floor: a fresh Python importing pandas, as the
project's module does (the command cannot take less). Target <= 0.5 s.

    .venv/bin/python bench/partitions.py [--dir DIR] [--only plan,backfill,hourly]
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assets_core.model.keys import AssetKey, StepKey

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


def by_asset(steps: list[StepKey]) -> dict[AssetKey, list[str | None]]:
    """Steps as the output check asks about them: each asset's partitions."""
    out: dict[AssetKey, list[str | None]] = {}
    for key, partition in steps:
        out.setdefault(key, []).append(partition)
    return out


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
            definition = plan.partitions.get(s.key)
            path = manager.path(s.key, s.partition, definition)  # type: ignore[attr-defined]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            inputs = {u: versions.get(u) for u in plan.upstream.get(step, ())}
            data = hashlib.sha256(str(step).encode()).hexdigest()[:32]
            versions[step] = data
            records.append((step, s.key, inputs, data, str(path)))
        code = {k: v.version for k, v in plan.code_versions.items()}
        found = session._stored(by_asset([r[0] for r in records]))
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


BACKFILL_MODULE = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import daily

@asset(partitions=daily(start="2023-01-01"))
def events(context) -> pd.DataFrame:
    return pd.DataFrame({"day": [context.partition] * 10, "v": range(10)})
"""

PLAIN_LOOP = """
import datetime as dt, os, sys, time
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

root = sys.argv[1]
day = dt.date(2023, 1, 1)
for n in range(365):
    key = (day + dt.timedelta(n)).isoformat()
    frame = pd.DataFrame({"day": [key] * 10, "v": range(10)})
    folder = os.path.join(root, "events", f"partition={key}")
    os.makedirs(folder, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    tmp = os.path.join(folder, ".part.parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, os.path.join(folder, "part.parquet"))
"""


def backfill(root: Path) -> dict[str, float]:
    """The backfill of 365 partitions against the plain loop, whole processes (see above)."""
    import shutil
    import statistics

    project = root / "backfill"
    (project / "bench_backfill").mkdir(parents=True, exist_ok=True)
    (project / "bench_backfill" / "__init__.py").write_text("")
    (project / "bench_backfill" / "assets.py").write_text(BACKFILL_MODULE)
    (project / "lumbung.toml").write_text('modules = ["bench_backfill.assets"]\n')
    lumbung = Path(sys.executable).parent / "lumbung"
    ours, plain, ours_cpu, plain_cpu = [], [], [], []
    for _ in range(5):
        shutil.rmtree(project / ".lumbung", ignore_errors=True)
        wall, cpu, done = timed_run(
            [str(lumbung), "materialize", "--as-of", "2024-01-01", "--json"], project
        )
        ours.append(wall)
        ours_cpu.append(cpu)
        assert done.returncode == 0, done.stderr[-2000:]
        assert '"events[2023-12-31]"' in done.stdout
        out = root / "plain"
        shutil.rmtree(out, ignore_errors=True)
        wall, cpu, done = timed_run([sys.executable, "-c", PLAIN_LOOP, str(out)], root)
        assert done.returncode == 0, done.stderr[-2000:]
        plain.append(wall)
        plain_cpu.append(cpu)
    files = len(list((project / ".lumbung").rglob("part.parquet")))
    assert files == 365, files
    median = statistics.median
    return {
        "ours_s": median(ours),
        "plain_s": median(plain),
        "ratio": median(a / b for a, b in zip(ours, plain, strict=True)),
        "cpu_ratio": median(a / b for a, b in zip(ours_cpu, plain_cpu, strict=True)),
    }


def timed_run(args: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run a command to its end: its wall-clock seconds, its CPU seconds (user + system of the
    process and what it waited for), and what it returned."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done


def backfill_in_process(root: Path) -> dict[str, float]:
    """The same backfill in one process, after imports: ``Session.materialize`` against the
    loop (best of 3 each)."""
    import shutil

    from assets_core import load_project

    project = root / "backfill"
    ours, plain = [], []
    namespace: dict[str, object] = {}
    code = compile(PLAIN_LOOP, "plain_loop", "exec")
    for _ in range(3):
        shutil.rmtree(project / ".lumbung", ignore_errors=True)
        with load_project(project) as session:
            t = time.perf_counter()
            result = session.materialize(as_of="2024-01-01", on_log=None)
            ours.append(time.perf_counter() - t)
            assert len(result.materialized) == 365 and not result.failed
        out = root / "plain"
        shutil.rmtree(out, ignore_errors=True)
        sys.argv[1:] = [str(out)]
        t = time.perf_counter()
        exec(code, namespace)
        plain.append(time.perf_counter() - t)
    return {"ours_s": min(ours), "plain_s": min(plain)}


HOURLY_MODULE = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import hourly

@asset(partitions=hourly(start="2021-01-01T00:00"))
def clicks() -> pd.DataFrame:
    return pd.DataFrame({"v": [0]})
"""
HOURLY_AS_OF = "2025-01-01"


def build_hourly(root: Path) -> Path:
    """One hourly asset over 2021-2024, recorded fresh (as ``build`` does), then a few
    partitions made stale (a changed record), missing (a deleted file) and failed."""
    from assets_core import load_project
    from assets_core.storage.state import MaterializationRecord, RunRecord

    project = root / "hourly"
    if (project / "lumbung.toml").exists():
        return project
    (project / "bench_hourly").mkdir(parents=True)
    (project / "bench_hourly" / "__init__.py").write_text("")
    (project / "bench_hourly" / "assets.py").write_text(HOURLY_MODULE)
    (project / "lumbung.toml").write_text('modules = ["bench_hourly.assets"]\n')
    with load_project(project) as session:
        plan = session.plan(as_of=HOURLY_AS_OF)
        manager = session.io.get("parquet")
        session.state.start_run(RunRecord("bench", 1.0))
        rows = []
        for s in plan.steps:
            definition = plan.partitions.get(s.key)
            path = manager.path(s.key, s.partition, definition)  # type: ignore[attr-defined]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            rows.append((s.step, str(path)))
        code = plan.code_versions[plan.steps[0].key].version
        found = session._stored(by_asset([r[0] for r in rows]))
        records = []
        for i, (step, location) in enumerate(rows):
            data = hashlib.sha256(str(step).encode()).hexdigest()[:32]
            outcome = "failed" if i % 5000 == 7 else "materialized"
            records.append(
                MaterializationRecord(
                    step,
                    "bench",
                    outcome,
                    code if i % 7000 != 3 else "old",
                    data if outcome == "materialized" else None,
                    {},
                    location=location,
                    fingerprint=found[step] or None,
                )
            )
            if i % 9000 == 5:
                Path(location).unlink()
        session.state.record(records)
        session.state.finish_run("bench", "success", 2.0)
    return project


def hourly_page(root: Path) -> dict[str, float]:
    gc.disable()
    from assets_core import load_project
    from assets_core.model.keys import AssetKey

    project = build_hourly(root)
    key = AssetKey.parse("clicks")
    times = []
    with load_project(project) as session:
        for _ in range(3):
            t = time.perf_counter()
            counts = session.partition_counts([key], HOURLY_AS_OF)[key]
            times.append(time.perf_counter() - t)
    import statistics

    lumbung = Path(sys.executable).parent / "lumbung"
    whole, floor, whole_cpu, floor_cpu = [], [], [], []
    for _ in range(5):  # the command, and its floor: a Python importing what the project does
        wall, cpu, done = timed_run(
            [str(lumbung), "partitions", "clicks", "--as-of", HOURLY_AS_OF], project
        )
        assert done.returncode == 0, done.stderr
        whole.append(wall)
        whole_cpu.append(cpu)
        wall, cpu, _ = timed_run([sys.executable, "-c", "import pandas"], project)
        floor.append(wall)
        floor_cpu.append(cpu)
    print(done.stdout.rstrip())
    median = statistics.median
    return {
        "in_process_s": min(times),
        "command_s": median(whole),
        "floor_s": median(floor),
        "command_cpu": median(whole_cpu),
        "floor_cpu": median(floor_cpu),
        "total": counts.total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="where to build the project (default: a temp)")
    parser.add_argument("--only", default="plan,backfill,hourly", help="which parts to run")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        base = (args.dir or Path(tmp)).resolve()
        os.environ.pop("LUMBUNG_NOW", None)
        if "backfill" in parts:
            whole = backfill(base)
            inside = backfill_in_process(base)
            ratio, ratio_in = whole["ratio"], inside["ours_s"] / inside["plain_s"]
            print(f"backfill 365 partitions, lumbung materialize {whole['ours_s']:>8.3f} s")
            print(f"  plain-Python loop, whole process          {whole['plain_s']:>8.3f} s")
            print(f"  ratio (median of 5 pairs)                 {ratio:>8.2f} x  (target <= 1.3)")
            print(f"  ratio of CPU seconds                      {whole['cpu_ratio']:>8.2f} x")
            print(f"  in-process: Session.materialize           {inside['ours_s']:>8.3f} s")
            print(f"  in-process: the loop                      {inside['plain_s']:>8.3f} s")
            print(f"  ratio in-process                          {ratio_in:>8.2f} x")
        if "hourly" in parts:
            page = hourly_page(base)
            print(f"partitions of {page['total']:,} hourly partitions")
            print(f"  Session.partition_counts (best of 3)      {page['in_process_s']:>8.3f} s")
            print(
                f"  lumbung partitions ASSET, whole command   {page['command_s']:>8.3f} s"
                "  (target <= 0.5; median of 5)"
            )
            print(f"  floor: python -c 'import pandas'          {page['floor_s']:>8.3f} s")
            print(
                f"  CPU seconds: the command, its floor       {page['command_cpu']:>8.3f} s"
                f" {page['floor_cpu']:.3f} s"
            )
            print(
                f"  the command less its floor                "
                f"{page['command_s'] - page['floor_s']:>8.3f} s"
            )
        if "plan" not in parts:
            return
        root = base / "project"
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
