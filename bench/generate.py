"""Generate benchmark projects: N real asset modules on disk in chain, wide, diamond or heavy shape.

Every trivial asset turns its inputs into a 10-row DataFrame through one shared helper,
``step``, so the work per asset is trivial and what a benchmark measures is the framework's own
overhead. The ``heavy`` shape is N independent assets that each do real pandas work on a
million-row frame (``heavy``), for measuring parallel speedup.

Shapes (edges are fixed by ``seed``, so every tool benchmarked reads the same graph):

- ``chain``: a0 <- a1 <- a2 ...
- ``wide``: layers of ``max(10, sqrt(N))`` assets; each asset reads 2 or 3 random assets of the
  layer before it.
- ``diamond``: repeated diamonds: one asset fans out to four that join back into one.
- ``heavy``: N independent CPU-heavy assets (no edges).

Besides the package ``bench_assets`` and ``lumbung.toml``, the generator writes
``bench_graph.json``: each asset's name, module and upstream names in topological order, which
the plain-Python baseline (``bench/baseline.py``) and the Dagster comparison read.

    python bench/generate.py OUT_DIR --shape wide --n 1000 [--io-manager duckdb]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

PER_MODULE = 500
SHAPES = ("chain", "wide", "diamond", "heavy")
PACKAGE = "bench_assets"
GRAPH_FILE = "bench_graph.json"
HEAVY_ROWS = 1_000_000

HELPERS = '''"""Shared helpers for the generated assets."""

import numpy as np
import pandas as pd


def step(*frames: pd.DataFrame) -> pd.DataFrame:
    """The trivial asset body: sum the inputs' ``v`` columns (or start from 0..9), plus one."""
    if not frames:
        return pd.DataFrame({"v": list(range(10))})
    total = frames[0]["v"].to_numpy()
    for f in frames[1:]:
        total = total + f["v"].to_numpy()
    return pd.DataFrame({"v": (total + 1) % 1000})


def heavy(seed: int, rows: int) -> pd.DataFrame:
    """CPU-heavy pandas work on a ``rows``-row frame, summarised into 10 rows."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "k": rng.integers(0, 10, rows),
            "g": rng.integers(0, 5000, rows),
            "x": rng.random(rows),
            "y": rng.normal(size=rows),
        }
    )
    df["z"] = np.sqrt(df["x"]) * np.sin(df["y"]) + df["x"] ** 2
    df = df.sort_values("z")
    per_g = df.groupby(["k", "g"], as_index=False).agg(z=("z", "sum"), y=("y", "max"))
    out = per_g.groupby("k", as_index=False).agg(v=("z", "sum"), w=("y", "mean"))
    return out.sort_values("k").reset_index(drop=True)
'''


def edges(shape: str, n: int, seed: int = 7) -> list[list[int]]:
    """For each asset i (in topological order), the indices of its upstream assets."""
    rng = random.Random(seed)
    ups: list[list[int]] = []
    if shape == "chain":
        return [[] if i == 0 else [i - 1] for i in range(n)]
    if shape == "heavy":
        return [[] for _ in range(n)]
    if shape == "wide":
        width = max(10, int(n**0.5))
        for i in range(n):
            layer = i // width
            if layer == 0:
                ups.append([])
                continue
            prev = range((layer - 1) * width, layer * width)
            ups.append(sorted(rng.sample(prev, k=rng.choice((2, 3)))))
        return ups
    if shape == "diamond":
        # repeated diamonds: a fan-out of 4 that joins back into one
        for i in range(n):
            pos = i % 6
            base = i - pos
            if i == 0:
                ups.append([])
            elif pos == 0:
                ups.append([base - 1])
            elif pos in (1, 2, 3, 4):
                ups.append([base])
            else:
                ups.append([base + 1, base + 2, base + 3, base + 4])
        return ups
    raise ValueError(f"unknown shape {shape!r}; use one of {', '.join(SHAPES)}")


def name(i: int) -> str:
    """The key of asset ``i``."""
    return f"a{i:06d}"


def module_name(i: int) -> str:
    """The module (under ``bench_assets``) that defines asset ``i``."""
    return f"{PACKAGE}.m{i // PER_MODULE:04d}"


def write_config(
    out: Path, modules: list[str], storage: str = ".lumbung", io_manager: str = "parquet"
) -> None:
    """Write ``out/lumbung.toml``: the modules to scan, the storage folder, the IO manager."""
    (out / "lumbung.toml").write_text(
        "modules = ["
        + ", ".join(f'"{m}"' for m in modules)
        + f']\nstorage = "{storage}"\ndefault_io_manager = "{io_manager}"\n'
    )


def read_graph(project: Path) -> dict[str, Any]:
    """The ``bench_graph.json`` of a generated project."""
    data: dict[str, Any] = json.loads((project / GRAPH_FILE).read_text())
    return data


def generate(
    out: Path,
    shape: str,
    n: int,
    seed: int = 7,
    *,
    io_manager: str = "parquet",
    storage: str = ".lumbung",
    heavy_rows: int = HEAVY_ROWS,
) -> list[str]:
    """Write the project into ``out`` (a lumbung.toml project, package ``bench_assets``, and
    ``bench_graph.json``); return the asset names in topological order."""
    ups = edges(shape, n, seed)
    pkg = out / PACKAGE
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text(HELPERS)
    modules = []
    for start in range(0, n, PER_MODULE):
        helper = "heavy" if shape == "heavy" else "step"
        lines = [
            "import pandas as pd",
            "",
            "from assets_core import asset",
            f"from {PACKAGE}.helpers import {helper}",
        ]
        for i in range(start, min(n, start + PER_MODULE)):
            # parameters name upstream assets by key; no import of upstream modules needed
            params = ", ".join(f"{name(u)}: pd.DataFrame" for u in ups[i])
            if shape == "heavy":
                call = f"heavy({i}, {heavy_rows})"
            else:
                call = "step(" + ", ".join(name(u) for u in ups[i]) + ")"
            lines += ["", "", "@asset", f"def {name(i)}({params}) -> pd.DataFrame:"]
            lines += [f"    return {call}"]
        mod = module_name(start)
        (out / Path(*mod.split("."))).with_suffix(".py").write_text("\n".join(lines) + "\n")
        modules.append(mod)
    write_config(out, modules, storage=storage, io_manager=io_manager)
    graph = {
        "shape": shape,
        "n": n,
        "seed": seed,
        "modules": modules,
        "assets": [[name(i), module_name(i), [name(u) for u in ups[i]]] for i in range(n)],
    }
    (out / GRAPH_FILE).write_text(json.dumps(graph, separators=(",", ":")))
    return [name(i) for i in range(n)]


def main() -> None:
    """Command line: write one project."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--shape", default="wide", choices=SHAPES)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--io-manager", default="parquet", choices=["parquet", "duckdb"])
    parser.add_argument("--storage", default=".lumbung")
    parser.add_argument("--heavy-rows", type=int, default=HEAVY_ROWS)
    args = parser.parse_args()
    generate(
        args.out,
        args.shape,
        args.n,
        args.seed,
        io_manager=args.io_manager,
        storage=args.storage,
        heavy_rows=args.heavy_rows,
    )


if __name__ == "__main__":
    main()
