"""Engine overhead: Lumbung against plain Python calling the same functions, in one run.

    python bench/engine.py [--n 1000] [--plan-n 10000]

1. Materialize N trivial assets (10-row frames) in chain and wide shapes with the memory IO
   manager and the SQLite state store on disk, against a baseline that calls the same
   functions in topological order and keeps results in a dict. Reports the overhead per asset.
2. Plan a project of PLAN_N assets that are all fresh (after one materialize), in a new
   ``Session`` as a new process would, with the code-version cache on disk warm.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import edges, generate

from assets_core.model.definitions import Definitions
from assets_core.model.project import find_project, import_assets
from assets_core.session import Session
from assets_core.storage.io import MemoryIOManager


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def load(root: Path, storage: Path, memory: MemoryIOManager | None = None) -> Session:
    config = find_project(root)
    defs = Definitions(import_assets(config, fresh=False), root=root, default_io_manager="memory")
    return Session(
        defs, storage=storage, io_managers={"memory": memory or MemoryIOManager()}, config=config
    )


def bench_materialize(tmp: Path, shape: str, n: int, repeat: int) -> dict[str, float]:
    """Median seconds: the baseline; per executor, a first run into empty storage (code
    versions computed from source) and a forced rerun (code versions from the cache)."""
    root = tmp / f"{shape}_{n}"
    order = generate(root, shape, n)
    ups = edges(shape, n)
    session = load(root, root / ".lumbung")
    fns = {name: session.get(name).fn for name in order}  # type: ignore[attr-defined]

    def baseline() -> None:
        results: dict[str, object] = {}
        for i, nm in enumerate(order):
            results[nm] = fns[nm](*(results[order[u]] for u in ups[i]))

    runs: dict[str, list[float]] = {"baseline": []}
    for r in range(repeat):
        runs["baseline"].append(best(baseline, 1))
        for executor in ("in-process", "threads"):
            storage = root / f".lumbung-{executor}-{r}"
            for label, force in (("first", False), ("forced", True)):
                d = load(root, storage)
                gc.collect()
                t = time.perf_counter()
                result = d.materialize(executor=executor, force=force)
                runs.setdefault(f"{executor} {label}", []).append(time.perf_counter() - t)
                assert len(result.materialized) == n, result.summary()
                d.close()
    return {k: statistics.median(v) for k, v in runs.items()}


def bench_plan(tmp: Path, n: int) -> dict[str, float]:
    root = tmp / f"plan_{n}"
    generate(root, "wide", n)
    memory = MemoryIOManager()
    t = time.perf_counter()
    session = load(root, root / ".lumbung", memory)
    load_s = time.perf_counter() - t
    session.materialize(executor="in-process")
    session.close()
    fresh = load(root, root / ".lumbung", memory)
    t = time.perf_counter()
    plan = fresh.plan()
    cold = time.perf_counter() - t
    assert not plan.steps, f"{len(plan.steps)} steps in a fresh plan"
    warm = best(fresh.plan, 3)
    return {"load": load_s, "plan_new_session": cold, "plan_again": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--plan-n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sys.path.insert(0, str(tmp))
        print(f"materialize {args.n} trivial assets, memory IO, SQLite state on disk")
        print(f"(medians of {args.repeat}, baseline interleaved; 'first' = empty storage,")
        print("'forced' = every asset rerun with code versions cached)")
        head = f"{'shape':6} {'baseline':>9} {'executor':>11} {'run':>7} {'lumbung':>9}"
        print(f"{head} {'overhead/asset':>15}")
        for shape in ("chain", "wide"):
            for m in [m for m in sys.modules if m.startswith("bench_assets")]:
                del sys.modules[m]
            r = bench_materialize(tmp / shape, shape, args.n, args.repeat)
            for executor in ("in-process", "threads"):
                for label in ("first", "forced"):
                    t = r[f"{executor} {label}"]
                    per = (t - r["baseline"]) / args.n * 1000
                    print(
                        f"{shape:6} {r['baseline']:8.3f}s {executor:>11} {label:>7} {t:8.3f}s "
                        f"{per:12.3f} ms"
                    )
        for m in [m for m in sys.modules if m.startswith("bench_assets")]:
            del sys.modules[m]
        p = bench_plan(tmp, args.plan_n)
        print(
            f"\nplan {args.plan_n} fresh assets (wide): load {p['load']:.2f}s, "
            f"plan in a new Session {p['plan_new_session']:.3f}s, plan again {p['plan_again']:.3f}s"
        )


if __name__ == "__main__":
    main()
