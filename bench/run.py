"""The whole-process benchmark suite: one table of wall-clock medians, ratios and targets.

Every figure is the wall-clock time of a whole process (``lumbung ...`` as a user runs it, or
the plain-Python baseline ``bench/baseline.py``), the median of ``--repeat`` runs after one
warm-up run, all measured in this one run so the ratios compare like with like. Notes add the
median CPU time (user + system, children included), steadier than wall clock on a busy
machine. The rows:

- startup: ``python -c pass`` (for reference), ``lumbung --version``, ``lumbung --help``;
- for each size in ``--fresh-sizes`` and each shape: ``lumbung materialize`` of N never
  materialized trivial assets (Parquet IO, SQLite store, fresh storage for every run) against
  the plain-Python baseline writing the same results with ``pyarrow.parquet`` and passing
  values in memory (the ratio), and against the same baseline reading every input back from
  its file (in the note); the outputs are then compared value for value;
- for each size in ``--sizes``: a no-op ``lumbung materialize`` (everything fresh),
  ``lumbung plan``, ``lumbung list``, and planning itself in-process (``bench/plan_probe.py``:
  the first ``defs.plan()`` after the project is loaded);
- planning ``--plan-n`` never-materialized assets in-process (at most 3 repeats), with the
  peak memory;
- ``--workers 2`` against ``--workers 1`` on ``--heavy`` independent CPU-heavy assets, with the
  threads and the processes executor;
- with ``--compare-dagster``, the same projects under Dagster (``bench/dagster_compare.py``,
  at most 3 repeats);
- with ``--also SRC``, another Lumbung source tree (an older checkout, say) beside this one:
  its fresh runs join the same rotation against the same baseline runs, and its no-op and
  planning rows follow this one's, each marked ``[SRC]``.

    python bench/run.py              # the full suite: N = 1,000 and 10,000; 100,000 planned
    python bench/run.py --quick      # about 2-3 minutes: N = 1,000, one repeat
    python bench/run.py --sizes 1000 --repeat 3 --plan-n 0 --heavy 0
    python bench/run.py --compare-dagster --dagster-python /tmp/dagster-venv/bin/python
    python bench/run.py --sizes 1000,10000 --shapes chain,wide --plan-n 0 --heavy 0 --also ../old
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from generate import PACKAGE, generate, read_graph, write_config
from measure import CHILD_ENV, Failed, Row, Runner, attempt, same_outputs, table

HERE = Path(__file__).resolve().parent


#: ``lumbung`` from the source tree given as its first argument
_FROM_SOURCE = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from assets_core.cli import entry; sys.argv[0] = 'lumbung'; entry()"
)


def other_runner(runner: Runner, source: Path) -> Runner:
    """A runner like ``runner`` whose ``lumbung`` (and every Python it starts) imports
    Lumbung from the source tree ``source`` instead of the installed one."""
    env = dict(CHILD_ENV)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    lumbung = [runner.python, "-c", _FROM_SOURCE, str(source)]
    return Runner(runner.timeout, lumbung, runner.python, runner.warmup, env=env)


def lumbung_command() -> list[str]:
    """The installed ``lumbung`` script next to this Python, else ``python -m``."""
    script = Path(sys.executable).parent / "lumbung"
    if script.is_file():
        return [str(script)]
    found = shutil.which("lumbung")
    return [found] if found else [sys.executable, "-m", "assets_core.cli"]


# --------------------------------------------------------------------------- sections


def bench_startup(runner: Runner, repeat: int, tmp: Path) -> list[Row]:
    """Interpreter start, ``lumbung --version`` and ``lumbung --help``."""
    rows: list[Row] = []
    many = max(repeat, 5)
    with attempt(rows, Row("python -c pass (interpreter start, reference)")) as row:
        row.value = runner.median(many, [runner.python, "-c", "pass"], tmp)
        row.note = f"CPU {runner.median_cpu:.2f}s"
    for flag in ("--version", "--help"):
        with attempt(rows, Row(f"lumbung {flag}", kind=flag.strip("-"))) as row:
            row.value = runner.median(many, runner.lumbung_cmd(flag), tmp)
            row.note = f"CPU {runner.median_cpu:.2f}s"
    return rows


def use_storage(project: Path, storage: str) -> None:
    """Point the project's ``lumbung.toml`` at ``storage`` (keeping its modules)."""
    write_config(project, list(read_graph(project)["modules"]), storage=storage)


def fresh_pair(
    runner: Runner, project: Path, n: int, r: int | str, other: Runner | None = None
) -> tuple[float, float, float, float, float, float, float]:
    """One Lumbung run into new storage ``.lumbung-fresh-R``, one in-memory baseline run into
    ``baseline-out-R`` and one read-back baseline run into ``readback-out-R`` (and, given
    ``other``, one run of the other Lumbung into ``.lumbung-other-R``), in rotating order;
    the wall-clock seconds of the three, the CPU seconds of the first two, and the other's
    wall-clock and CPU seconds (0 without it)."""
    script = [runner.python, str(HERE / "baseline.py"), str(project)]
    memory = [*script, f"baseline-out-{r}", "--in-memory"]
    readback = [*script, f"readback-out-{r}"]
    done = f"{n} materialized"
    times: dict[str, tuple[float, float]] = {"other": (0.0, 0.0)}
    order = ["ours", "memory", "readback"] + (["other"] if other is not None else [])
    shift = r % len(order) if isinstance(r, int) else 0
    for which in order[shift:] + order[:shift]:
        if which in ("ours", "other"):
            who = runner if which == "ours" else other
            assert who is not None
            use_storage(project, f".lumbung-{'fresh' if which == 'ours' else 'other'}-{r}")
            times[which] = who.run(who.lumbung_cmd("materialize"), project, done)[0], who.last_cpu
        else:
            cmd = memory if which == "memory" else readback
            times[which] = runner.run(cmd, project)[0], runner.last_cpu
    ours, memory_base, read_base = times["ours"], times["memory"], times["readback"]
    return (ours[0], memory_base[0], read_base[0], ours[1], memory_base[1], *times["other"])


def bench_fresh(
    runner: Runner, project: Path, shape: str, n: int, repeat: int, other: Runner | None = None
) -> list[Row]:
    """``lumbung materialize`` of ``n`` never-materialized assets against the baseline (new
    storage and a new output folder for every run), then their outputs compared; with
    ``other``, a second row for the other Lumbung, timed in the same rotation. Leaves the
    project configured on the last run's storage of this Lumbung."""
    rows: list[Row] = []
    times: list[tuple[float, ...]] = []
    with attempt(rows, Row(f"materialize {n:,} new assets, {shape}", kind="fresh", n=n)) as row:
        if runner.warmup:
            fresh_pair(runner, project, n, "warm", other)
        times = [fresh_pair(runner, project, n, r, other) for r in range(repeat)]
        row.value = statistics.median(t[0] for t in times)
        row.versus = statistics.median(t[1] for t in times)
        row.ratio = statistics.median(t[0] / t[1] for t in times)
        read_back = statistics.median(t[0] / t[2] for t in times)
        cpu = statistics.median(t[3] for t in times)
        cpu_base = statistics.median(t[4] for t in times)
        last = repeat - 1
        ours = project / f".lumbung-fresh-{last}" / "parquet"
        row.note = (
            f"vs: in-memory baseline; {read_back:.2f}x the read-back baseline; "
            f"CPU {cpu:.1f}s vs {cpu_base:.1f}s ({cpu / cpu_base:.2f}x); "
            + same_outputs(project, ours, project / f"baseline-out-{last}")
        )
    if other is not None and times:
        what = f"materialize {n:,} new assets, {shape} [{other_name(other)}]"
        with attempt(rows, Row(what, kind="fresh", n=n)) as row:
            row.value = statistics.median(t[5] for t in times)
            row.versus = statistics.median(t[1] for t in times)
            row.ratio = statistics.median(t[5] / t[1] for t in times)
            cpu = statistics.median(t[6] for t in times)
            cpu_base = statistics.median(t[4] for t in times)
            row.note = (
                f"vs: in-memory baseline (the same runs); "
                f"CPU {cpu:.1f}s vs {cpu_base:.1f}s ({cpu / cpu_base:.2f}x)"
            )
        use_storage(project, f".lumbung-fresh-{repeat - 1}")
    return rows


def other_name(other: Runner) -> str:
    """How the rows of ``--also`` name its source tree."""
    return Path(other.lumbung[-1]).name


def bench_fresh_project(
    runner: Runner, project: Path, shape: str, n: int, repeat: int, with_plan: bool, label: str = ""
) -> list[Row]:
    """With the project materialized: a no-op materialize and, if ``with_plan``, plan, list
    and planning itself in-process; ``label`` ends each row's name."""
    rows: list[Row] = []
    nothing = "Nothing to do"
    what = f"{n:,} fresh assets, {shape}{label}"
    with attempt(rows, Row(f"materialize (no-op), {what}", kind="noop", n=n)) as row:
        row.value = runner.median(repeat, runner.lumbung_cmd("materialize"), project, nothing)
        row.note = f"CPU {runner.median_cpu:.2f}s"
    if not with_plan:
        return rows
    with attempt(rows, Row(f"plan, {what}", kind="plan", n=n)) as row:
        row.value = runner.median(repeat, runner.lumbung_cmd("plan"), project, nothing)
        row.note = f"CPU {runner.median_cpu:.2f}s"
    with attempt(rows, Row(f"list, {what}", kind="list", n=n)) as row:
        row.value = runner.median(repeat, runner.lumbung_cmd("list"), project, "a000000")
        row.note = f"CPU {runner.median_cpu:.2f}s"
    bench_planning(rows, runner, project, n, repeat, f"planning itself (in-process), {what}")
    return rows


def probe(runner: Runner, project: Path) -> dict[str, Any]:
    """One ``plan_probe.py`` process: its JSON report."""
    _, proc = runner.run([runner.python, str(HERE / "plan_probe.py"), str(project)], project)
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def bench_planning(
    rows: list[Row], runner: Runner, project: Path, n: int, repeat: int, what: str
) -> None:
    """The median in-process ``defs.plan()`` time over ``repeat`` new processes, after a
    warm-up process (which also fills the code-version cache); the peak memory in the note."""
    with attempt(rows, Row(what, kind="planning", n=n)) as row:
        warm = probe(runner, project) if runner.warmup else None
        reports = [probe(runner, project) for _ in range(repeat)]
        row.value = statistics.median(float(r["plan_s"]) for r in reports)
        load = statistics.median(float(r["load_s"]) for r in reports)
        rss = max(float(r["maxrss_mb"]) for r in reports)
        cpu = statistics.median(float(r.get("plan_cpu_s", "nan")) for r in reports)
        row.note = (
            f"{reports[0]['steps']} steps; plan CPU {cpu:.3f}s; project load {load:.2f}s; "
            f"peak RSS {rss:,.0f} MB"
        )
        if warm is not None:
            row.note += f"; first plan, cold code-version cache {float(warm['plan_s']):.2f}s"


def bench_parallel(runner: Runner, project: Path, k: int, repeat: int) -> list[Row]:
    """``--workers 2`` against ``--workers 1`` on ``k`` independent heavy assets (forced
    reruns), with the threads and the processes executor; ratio = speedup of whole processes.
    The note adds the speedup of the run alone (the time Lumbung's summary line gives), which
    leaves out what no executor parallelizes: starting Python and importing pandas."""
    rows: list[Row] = []
    done = f"{k} materialized"
    for executor in ("threads", "processes"):
        what = f"speedup --workers 2 vs 1, {k} heavy assets, {executor}"
        with attempt(rows, Row(what, kind="speedup")) as row:
            cmd = runner.lumbung_cmd("materialize", "--force", "--executor", executor)
            if runner.warmup:
                runner.run([*cmd, "--workers", "2"], project, done)
            times: dict[int, list[float]] = {1: [], 2: []}
            runs: dict[int, list[float]] = {1: [], 2: []}
            for r in range(repeat):
                for w in (1, 2) if r % 2 == 0 else (2, 1):
                    wall, proc = runner.run([*cmd, "--workers", str(w)], project, done)
                    times[w].append(wall)
                    runs[w].append(_run_seconds(proc.stdout))
            row.versus = statistics.median(times[1])
            row.value = statistics.median(times[2])
            row.ratio = row.versus / row.value
            alone = statistics.median(runs[1]) / statistics.median(runs[2])
            row.note = (
                f"median: 2 workers; vs: 1 worker; ratio: speedup; the run alone {alone:.2f}x"
            )
    return rows


def _run_seconds(stdout: str) -> float:
    """The seconds of ``... skipped in 4.20s``, the summary line of ``lumbung materialize``."""
    match = re.search(r" skipped in ([0-9.]+)s", stdout)
    if match is None:
        raise Failed("no summary line in the output of materialize")
    return float(match[1])


def machine() -> str:
    """The machine and the versions the figures were measured with."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(
        f"{pkg} {metadata.version(pkg)}" for pkg in ("lumbung", "pandas", "pyarrow", "duckdb")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores ({usable} usable), {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; {versions}; "
        f"load average {load}"
    )


# --------------------------------------------------------------------------- main


def compile_lumbung() -> None:
    """Write the bytecode caches of Lumbung's own packages, as an installed package has them
    (an editable install run under ``PYTHONDONTWRITEBYTECODE`` would otherwise have none)."""
    import assets_core
    import io_managers

    for package in (assets_core, io_managers):
        if package.__file__ is not None:
            compileall.compile_dir(str(Path(package.__file__).parent), quiet=1)


def fresh_dir(path: Path) -> Path:
    """``path``, emptied of anything an earlier run of the suite left there."""
    shutil.rmtree(path, ignore_errors=True)
    return path


def parse_sizes(text: str) -> list[int]:
    """``"1000,10000"`` -> ``[1000, 10000]``; ``""`` -> ``[]``."""
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; ``--quick`` fills in the smaller defaults."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N=1,000 only, one repeat")
    parser.add_argument("--sizes", help="sizes for no-op/plan/list rows (default 1000,10000)")
    parser.add_argument("--fresh-sizes", help="sizes for the fresh-run comparison (default 1000)")
    parser.add_argument("--shapes", default="chain,wide,diamond", help="shapes at fresh sizes")
    parser.add_argument("--big-shape", default="wide", help="the one shape at other sizes")
    parser.add_argument("--plan-n", type=int, help="in-process planning size (default 100000)")
    parser.add_argument("--heavy", type=int, help="heavy assets for the speedup (default 64)")
    parser.add_argument("--heavy-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, help="runs per median (default 5)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per process")
    parser.add_argument("--workdir", type=Path, help="keep the generated projects here")
    parser.add_argument("--no-warmup", action="store_true", help="count every run")
    parser.add_argument("--no-startup", action="store_true", help="skip the startup rows")
    parser.add_argument(
        "--also", type=Path, metavar="SRC", help="also time Lumbung from this source tree"
    )
    parser.add_argument("--compare-dagster", action="store_true", help="also run Dagster")
    parser.add_argument(
        "--dagster-shapes",
        help="shapes Dagster runs (default: --big-shape; at the smallest fresh size)",
    )
    parser.add_argument(
        "--dagster-python",
        default=os.environ.get("DAGSTER_PYTHON", sys.executable),
        help="a Python that can import dagster (default: $DAGSTER_PYTHON, else this one)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = parse_sizes(
        args.sizes if args.sizes is not None else "1000" if quick else "1000,10000"
    )
    args.fresh_sizes = parse_sizes(args.fresh_sizes if args.fresh_sizes is not None else "1000")
    args.shapes = [s for s in args.shapes.split(",") if s]
    dagster_shapes = args.dagster_shapes or args.big_shape
    args.dagster_shapes = [s for s in dagster_shapes.split(",") if s]
    if args.plan_n is None:
        args.plan_n = 20_000 if quick else 100_000
    if args.heavy is None:
        args.heavy = 4 if quick else 64
    if args.repeat is None:
        args.repeat = 1 if quick else 5
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite and print the table; the exit code is 0 even when targets are not met."""
    args = options(argv)
    runner = Runner(timeout=args.timeout, lumbung=lumbung_command(), warmup=not args.no_warmup)
    started = time.perf_counter()
    header = machine()
    compile_lumbung()
    other = None
    if args.also is not None:
        other = other_runner(runner, args.also.resolve())
        for package in ("assets_core", "io_managers"):
            compileall.compile_dir(str(args.also / package), quiet=1)
    with tempfile.TemporaryDirectory(prefix="lumbung-bench-") as scratch:
        tmp = args.workdir or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        rows = [] if args.no_startup else bench_startup(runner, args.repeat, tmp)
        refs: dict[str, Row] = {}  # "kind:shape" -> Lumbung's row at the Dagster size
        projects: dict[str, Path] = {}  # shape -> project at the Dagster size
        dagster_n = min(args.fresh_sizes, default=None)
        for n in sorted(set(args.sizes) | set(args.fresh_sizes)):
            fresh = n in args.fresh_sizes
            shapes = args.shapes if fresh else [args.big_shape]
            for shape in shapes:
                project = fresh_dir(tmp / f"{shape}_{n}")
                print(f"{shape} {n:,}: generating", file=sys.stderr, flush=True)
                generate(project, shape, n)
                compileall.compile_dir(str(project / PACKAGE), quiet=1)
                done: list[Row] = []
                if fresh:
                    done += bench_fresh(runner, project, shape, n, args.repeat, other)
                    if done[0].value is None:
                        rows += done
                        continue  # no materialized storage to measure the rest on
                else:
                    what = f"materialize {n:,} new assets, {shape} (setup, one run)"
                    with attempt(done, Row(what, n=n)) as setup:
                        use_storage(project, ".lumbung")
                        cmd = runner.lumbung_cmd("materialize")
                        setup.value = runner.run(cmd, project, f"{n} materialized")[0]
                    if done[-1].value is None:  # the setup failed
                        rows += done
                        continue
                if n in args.sizes:
                    with_plan = shape == args.big_shape
                    done += bench_fresh_project(runner, project, shape, n, args.repeat, with_plan)
                    if other is not None:  # on the same storage, which this one materialized
                        label = f" [{other_name(other)}]"
                        done += bench_fresh_project(
                            other, project, shape, n, args.repeat, with_plan, label
                        )
                rows += done
                if n == dagster_n and shape in args.dagster_shapes:
                    projects[shape] = project
                    ours = [r for r in done if r.kind and not r.what.endswith("]")]
                    refs.update({f"{r.kind}:{shape}": r for r in ours})
        if args.plan_n:
            n = args.plan_n
            project = fresh_dir(tmp / f"plan_{n}")
            print(f"planning {n:,}: generating", file=sys.stderr, flush=True)
            generate(project, args.big_shape, n)
            compileall.compile_dir(str(project / PACKAGE), quiet=1)
            what = f"planning itself (in-process), {n:,} never materialized, {args.big_shape}"
            bench_planning(rows, runner, project, n, min(args.repeat, 3), what)
            if other is not None:
                what += f" [{other_name(other)}]"
                bench_planning(rows, other, project, n, min(args.repeat, 3), what)
        if args.heavy:
            project = fresh_dir(tmp / f"heavy_{args.heavy}")
            print(f"heavy {args.heavy}: generating", file=sys.stderr, flush=True)
            generate(project, "heavy", args.heavy, heavy_rows=args.heavy_rows)
            rows += bench_parallel(runner, project, args.heavy, args.repeat)
        dagster_note = ""
        if args.compare_dagster:
            from dagster_compare import compare

            dagster_rows, dagster_note = compare(
                runner, args.dagster_python, projects, refs, min(args.repeat, 3), args.big_shape
            )
            rows += dagster_rows
    elapsed = time.perf_counter() - started
    print(f"\nMachine: {header}")
    print(
        f"Whole-process wall clock, median of {args.repeat} runs"
        f"{' after a warm-up run' if runner.warmup else ''}; suite took {elapsed:.0f}s; "
        f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print()
    print(table(rows))
    if dagster_note:
        print(f"\n{dagster_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
