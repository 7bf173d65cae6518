"""Generate benchmark projects: N real asset modules on disk, in chain, wide or diamond shape.

Every asset turns its inputs into a 10-row DataFrame through one shared helper, so the work per
asset is trivial and what a benchmark measures is the framework's own overhead.

    python bench/generate.py OUT_DIR --shape wide --n 1000
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

PER_MODULE = 500

HELPERS = '''"""Shared helper for the generated assets."""
import pandas as pd


def step(*frames: pd.DataFrame) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({"v": list(range(10))})
    total = frames[0]["v"].to_numpy()
    for f in frames[1:]:
        total = total + f["v"].to_numpy()
    return pd.DataFrame({"v": (total + 1) % 1000})
'''


def edges(shape: str, n: int, seed: int = 7) -> list[list[int]]:
    """For each asset i (in topological order), the indices of its upstream assets."""
    rng = random.Random(seed)
    ups: list[list[int]] = []
    if shape == "chain":
        return [[] if i == 0 else [i - 1] for i in range(n)]
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
                ups.append([base] if base < n else [])
            else:
                ups.append([base + 1, base + 2, base + 3, base + 4])
        return ups
    raise ValueError(f"unknown shape {shape!r}; use chain, wide or diamond")


def name(i: int) -> str:
    return f"a{i:06d}"


def generate(out: Path, shape: str, n: int, seed: int = 7) -> list[str]:
    """Write the project into ``out`` (a lumbung.toml project, package ``bench_assets``);
    return the asset names in topological order."""
    ups = edges(shape, n, seed)
    pkg = out / "bench_assets"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text(HELPERS)
    modules = []
    for m, start in enumerate(range(0, n, PER_MODULE)):
        lines = [
            "import pandas as pd",
            "",
            "from assets_core import asset",
            "from bench_assets.helpers import step",
        ]
        imported: set[int] = set()
        body: list[str] = []
        for i in range(start, min(n, start + PER_MODULE)):
            params = ", ".join(f"{name(u)}: pd.DataFrame" for u in ups[i])
            args = ", ".join(name(u) for u in ups[i])
            for u in ups[i]:
                if u < start:
                    imported.add(u)
            body += ["", "", "@asset", f"def {name(i)}({params}) -> pd.DataFrame:"]
            body += [f"    return step({args})"]
        del imported  # parameters name upstream assets by key; no import needed
        mod = f"m{m:04d}"
        (pkg / f"{mod}.py").write_text("\n".join(lines + body) + "\n")
        modules.append(f"bench_assets.{mod}")
    (out / "lumbung.toml").write_text(
        "modules = [" + ", ".join(f'"{m}"' for m in modules) + ']\nstorage = ".lumbung"\n'
    )
    return [name(i) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--shape", default="wide", choices=["chain", "wide", "diamond"])
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    generate(args.out, args.shape, args.n)


if __name__ == "__main__":
    main()
