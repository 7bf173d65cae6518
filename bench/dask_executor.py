"""The dask executor against the in-process backends, measured interleaved in one run.

    python bench/dask_executor.py [--n 200] [--heavy 8] [--heavy-rows 1000000] [--repeat 3]
                                  [--dask-defaults] [--ceiling]

Every dask figure is on a cluster of 2 worker processes started by ``local_cluster`` (the
cluster a run with no ``--address`` starts itself), once per measurement and outside its
timing, as a cluster one connects to; the project is loaded on its workers before the timing.
No cluster is left running while another row is timed, so an idle one takes nothing from it.

1. Per-step overhead: N trivial assets (the ``wide`` shape, Parquet storage) materialized with
   ``force`` on the ``threads`` backend and on ``dask``, runs alternating. Reports seconds per
   step on each and the ratio dask / threads.
2. Speedup on CPU-heavy work: HEAVY independent assets each doing about a second of pandas
   work (the ``heavy`` shape), on ``in-process`` (one at a time) and on dask, alternating.
   Reports the ratio in-process / dask (2 cores at best give 2x).
3. What a run with no address pays once to start and stop its own cluster.

Each row also gives the CPU seconds of this process and its child processes (the workers)
during the timing, which a busy machine inflates less than wall-clock time.

``--dask-defaults`` adds a ``dask (defaults)`` row to 1 and 2: a LocalCluster of 2 worker
processes with Dask's default settings (only ``allowed-failures`` 0), the cluster this bench
used before ``local_cluster`` turned Dask's background work down. ``--ceiling`` adds a row to
2: the same heavy function called HEAVY times in a pool of 2 plain processes, what 2 cores
give with no framework at all.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import PACKAGE, generate, name

from assets_core import Session, load_project
from assets_core.execution.backends.dask_cluster import local_cluster

WORKERS = 2
QUIET: dict[str, Any] = {"on_log": None, "force": True}


def cpu_seconds() -> float:
    """User and system CPU seconds of this process and its live child processes so far."""
    import psutil  # a dependency of distributed

    me = psutil.Process()
    total = 0.0
    for p in (me, *me.children(recursive=True)):
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


@contextmanager
def cluster(defaults: bool) -> Iterator[str]:
    """The address of a cluster of 2 worker processes: ``local_cluster``'s, or with Dask's
    default settings; closed on exit."""
    import dask
    import distributed

    if defaults:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            started = distributed.LocalCluster(
                n_workers=WORKERS,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                scheduler_kwargs={"dashboard": False},
                silence_logs=logging.CRITICAL,
            )
    else:
        started = local_cluster(distributed, WORKERS)
    with started:
        yield started.scheduler_address


Row = Callable[[], tuple[float, float]]


def on_dask(session: Session, defaults: bool, warm: list[str]) -> Row:
    """A row timing one forced run on a fresh cluster whose workers loaded the project (by
    running ``warm``) before the timing."""

    def row() -> tuple[float, float]:
        with cluster(defaults) as address:
            session.materialize(warm, executor="dask", address=address, workers=WORKERS, **QUIET)
            return timed(
                lambda: session.materialize(
                    executor="dask", address=address, workers=WORKERS, **QUIET
                )
            )

    return row


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process and its children) of ``fn()``."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def interleaved(runs: dict[str, Row], repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall-clock and CPU seconds of each row, the rows alternating ``repeat`` times."""
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for _ in range(repeat):
        for k, row in runs.items():
            times[k].append(row())
    return {
        k: (statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts))
        for k, ts in times.items()
    }


def load() -> str:
    one, five, _ = (f"{x:.1f}" for x in os.getloadavg())
    return f"load average {one} (1 min), {five} (5 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="trivial assets")
    parser.add_argument("--heavy", type=int, default=8, help="CPU-heavy assets")
    parser.add_argument("--heavy-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dask-defaults", action="store_true", help="add Dask's defaults")
    parser.add_argument("--ceiling", action="store_true", help="add 2 plain processes")
    args = parser.parse_args()
    print(load())
    with tempfile.TemporaryDirectory() as tmp:
        wide, heavy = Path(tmp) / "wide", Path(tmp) / "heavy"
        generate(wide, "wide", args.n)
        generate(heavy, "heavy", args.heavy, heavy_rows=args.heavy_rows)
        trivial(wide, args)
        print(load())
        cpu_heavy(heavy, args)
    print(load())


def trivial(project: Path, args: argparse.Namespace) -> None:
    n, repeat = args.n, args.repeat
    s = load_project(project)
    s.materialize(executor="threads", workers=WORKERS, **QUIET)
    warm = [name(i) for i in range(10)]
    runs: dict[str, Row] = {
        "threads": lambda: timed(
            lambda: s.materialize(executor="threads", workers=WORKERS, **QUIET)
        ),
        "dask": on_dask(s, False, warm),
    }
    if args.dask_defaults:
        runs["dask (defaults)"] = on_dask(s, True, warm)
    t = interleaved(runs, repeat)
    print(f"per-step overhead, {n} trivial assets (wide), 2 workers, median of {repeat}:")
    for k, (wall, cpu) in t.items():
        print(f"  {k:16s} {wall / n * 1000:7.2f} ms/step  ({cpu / n * 1000:6.2f} CPU ms/step)")
    for k in list(t)[1:]:
        print(f"  ratio {k} / threads: {t[k][0] / t['threads'][0]:.1f}x")
    s.close()


def cpu_heavy(project: Path, args: argparse.Namespace) -> None:
    k, repeat = args.heavy, args.repeat
    h = load_project(project)
    warm = [name(0), name(1)]
    runs: dict[str, Row] = {
        "in-process": lambda: timed(lambda: h.materialize(executor="in-process", **QUIET)),
        "dask": on_dask(h, False, warm),
    }
    if args.dask_defaults:
        runs["dask (defaults)"] = on_dask(h, True, warm)
    if args.ceiling:
        runs["2 plain processes"] = plain(project, k, args.heavy_rows)
    t = interleaved(runs, repeat)
    per = t["in-process"][0] / k
    print(f"CPU-heavy, {k} independent assets of {per:.2f} s each, median of {repeat}:")
    for key, (wall, cpu) in t.items():
        speedup = t["in-process"][0] / wall
        print(f"  {key:18s} {wall:6.2f} s  ({cpu:6.2f} CPU s)  speedup {speedup:.2f}x")

    started = timed(lambda: h.materialize(executor="dask", workers=WORKERS, **QUIET))[0]
    print(f"a run starting its own cluster of 2 workers: {started - t['dask'][0]:.1f} s more")
    h.close()


def _heavy(project: str, seed: int, rows: int) -> None:
    """One heavy asset's body, in a plain process."""
    if project not in sys.path:
        sys.path.insert(0, project)
    helpers = __import__(f"{PACKAGE}.helpers", fromlist=["heavy"])
    helpers.heavy(seed, rows)


def plain(project: Path, k: int, rows: int) -> Row:
    """A row calling the heavy assets' function ``k`` times in a pool of 2 processes (started
    and warmed up outside the timing)."""

    def row() -> tuple[float, float]:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(WORKERS) as pool:
            pool.starmap(_heavy, [(str(project), 0, 1000)] * WORKERS)
            work = [(str(project), i, rows) for i in range(k)]
            return timed(lambda: pool.starmap(_heavy, work, chunksize=1))

    return row


if __name__ == "__main__":
    main()
