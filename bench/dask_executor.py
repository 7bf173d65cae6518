"""The dask executor against the in-process backends, measured interleaved in one run.

    python bench/dask_executor.py [--n 200] [--heavy 8] [--heavy-rows 1000000] [--repeat 3]

1. Per-step overhead: N trivial assets (the ``wide`` shape, Parquet storage) materialized with
   ``force`` on the ``threads`` backend and on ``dask`` (a LocalCluster of 2 worker processes
   started once, outside the timing, as a cluster one connects to with ``--address``), runs
   alternating. Reports seconds per step on each and the ratio dask / threads.
2. Speedup on CPU-heavy work: HEAVY independent assets each doing about a second of pandas
   work (the ``heavy`` shape), on ``in-process`` (one at a time) and on dask with 2 worker
   processes, alternating. Reports the ratio in-process / dask (2 cores at best give 2x).
3. What a run with no address pays once to start and stop its own LocalCluster.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

from assets_core import load_project


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def interleaved(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each run, the runs alternating ``repeat`` times."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="trivial assets")
    parser.add_argument("--heavy", type=int, default=8, help="CPU-heavy assets")
    parser.add_argument("--heavy-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import dask
    import distributed

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # its HTTP server on any free port, no dashboard
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.CRITICAL,
        )
    address = cluster.scheduler_address
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wide, heavy = Path(tmp) / "wide", Path(tmp) / "heavy"
            generate(wide, "wide", args.n)
            generate(heavy, "heavy", args.heavy, heavy_rows=args.heavy_rows)
            report(wide, heavy, address, args.n, args.heavy, args.repeat)
    finally:
        cluster.close()


def report(wide: Path, heavy: Path, address: str, n: int, k: int, repeat: int) -> None:
    quiet = {"on_log": None, "force": True}
    s = load_project(wide)
    s.materialize(executor="dask", address=address, workers=2, **quiet)  # workers load it
    t = interleaved(
        {
            "threads": lambda: s.materialize(executor="threads", workers=2, **quiet),
            "dask": lambda: s.materialize(executor="dask", address=address, workers=2, **quiet),
        },
        repeat,
    )
    print(f"per-step overhead, {n} trivial assets (wide), 2 workers, median of {repeat}:")
    print(f"  threads  {t['threads'] / n * 1000:7.2f} ms/step")
    print(f"  dask     {t['dask'] / n * 1000:7.2f} ms/step")
    print(f"  ratio dask / threads: {t['dask'] / t['threads']:.1f}x")
    s.close()

    h = load_project(heavy)
    h.materialize(executor="dask", address=address, workers=2, **quiet)
    t = interleaved(
        {
            "in-process": lambda: h.materialize(executor="in-process", **quiet),
            "dask": lambda: h.materialize(executor="dask", address=address, workers=2, **quiet),
        },
        repeat,
    )
    per = t["in-process"] / k
    print(f"CPU-heavy, {k} independent assets of {per:.2f} s each, median of {repeat}:")
    print(f"  in-process {t['in-process']:6.2f} s   dask (2 workers) {t['dask']:6.2f} s")
    print(f"  speedup in-process / dask: {t['in-process'] / t['dask']:.2f}x")

    started = timed(lambda: h.materialize(executor="dask", workers=2, **quiet))
    print(f"a run starting its own cluster of 2 workers: {started - t['dask']:.1f} s more")
    h.close()


if __name__ == "__main__":
    main()
