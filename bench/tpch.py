"""TPC-H through Lumbung against a plain DuckDB script, whole process, in one run.

    python bench/tpch.py [--scale 1] [--repeat 5] [--data DIR] [--variants raw,relation,sql]
                         [--before DIR]

The eight TPC-H tables are written as Parquet by a real generator (``tpchgen-cli``, the
``bench`` extra; it works offline), once per scale into DATA (default: a folder beside the
other bench caches in the system's temporary folder, reused by later runs). Then three ways of
computing the 22 query answers as 22 tables in one DuckDB file are timed as whole processes,
interleaved round by round (each round in a rotated order) so all see the same machine state:

- ``raw``: a Python script that opens ``raw.duckdb``, makes a view over each Parquet file and
  runs ``CREATE OR REPLACE TABLE qNN AS <query>`` for each query in turn;
- ``relation``: a Lumbung project of 8 Parquet sources and 22 Python assets, each taking the
  tables it reads as ``duckdb.DuckDBPyRelation`` inputs and returning
  ``context.duckdb.sql(<query>)``, stored by the DuckDB IO manager;
- ``sql``: the same as 22 SQL assets (``models/qNN.sql``) with the sources in Python;

each Lumbung run being ``lumbung materialize --force`` (sources observed, data versions
computed and recorded, as in any run). Prints each variant's median wall and CPU seconds and
the medians of its per-round ratios to ``raw`` (1.00 = as fast as the raw script; CPU time
is steadier than wall time on a shared machine), then checks that all 22 tables of every
variant equal the raw script's.

``--before DIR`` names another checkout of Lumbung (a ``git worktree`` of an earlier commit,
say): its ``relation`` and ``sql`` variants run too, as ``relation@before`` and ``sql@before``
(the same projects in a folder of their own, ``DIR`` first on ``PYTHONPATH``), in the same
rotation, so a change is measured against the code before it under the same machine state.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tpch_queries import QUERIES, TABLES, query, tables_of

VARIANTS = ("raw", "relation", "sql")


def generator() -> str:
    """The ``tpchgen-cli`` command: beside this Python (its virtual environment), else on PATH."""
    beside = Path(sys.executable).parent / "tpchgen-cli"
    found = str(beside) if beside.exists() else shutil.which("tpchgen-cli")
    if found is None:
        raise SystemExit("tpchgen-cli is not installed: pip install -e '.[bench]'")
    return found


def generate(scale: float, data: Path) -> Path:
    """The folder of the eight tables' Parquet files at ``scale``, generated if missing."""
    folder = data / f"sf{scale:g}"
    if all((folder / f"{t}.parquet").exists() for t in TABLES):
        return folder
    part = folder.with_name(folder.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    cmd = [generator(), "parquet", "-s", f"{scale:g}", f"--output-dir={part}"]
    subprocess.run(cmd, check=True, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
    part.rename(folder)
    return folder


def name(n: int) -> str:
    return f"q{n:02d}"


def write_raw(work: Path, parquet: Path, scale: float) -> Path:
    """The plain DuckDB script: views over the Parquet files, one table per query."""
    script = work / "raw.py"
    views = [
        f"create or replace view {t} as select * from read_parquet('{parquet / t}.parquet')"
        for t in TABLES
    ]
    tables = [f"create or replace table {name(n)} as {query(n, scale)}" for n in QUERIES]
    lines = [
        "import duckdb",
        f"con = duckdb.connect({str(work / 'raw.duckdb')!r})",
        *(f"con.execute({sql!r})" for sql in views + tables),
        "con.close()",
    ]
    script.write_text("\n".join(lines) + "\n")
    return script


def _sources(parquet: Path) -> str:
    return "from assets_core import source\n\n" + "".join(
        f"{t} = source({t!r}, path={str(parquet / f'{t}.parquet')!r})\n" for t in TABLES
    )


def write_relation_project(work: Path, parquet: Path, scale: float) -> Path:
    """22 Python assets returning relations built on their relation inputs."""
    root = work / "relation"
    root.mkdir(parents=True, exist_ok=True)
    (root / "lumbung.toml").write_text('modules = ["sources", "queries"]\nstorage = ".lumbung"\n')
    (root / "sources.py").write_text(_sources(parquet))
    body = ["import duckdb", "", "from assets_core import asset", ""]
    for n in QUERIES:
        params = ", ".join(f"{t}: duckdb.DuckDBPyRelation" for t in tables_of(n))
        body += [
            "",
            '@asset(io_manager="duckdb")',
            f"def {name(n)}(context, {params}) -> duckdb.DuckDBPyRelation:",
            f"    return context.duckdb.sql({query(n, scale)!r})",
            "",
        ]
    (root / "queries.py").write_text("\n".join(body))
    return root


def write_sql_project(work: Path, parquet: Path, scale: float) -> Path:
    """22 SQL assets (``models/qNN.sql``) over the same sources, declared in Python."""
    root = work / "sql"
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "lumbung.toml").write_text(
        'modules = ["sources"]\nsql = ["models"]\nstorage = ".lumbung"\n'
    )
    (root / "sources.py").write_text(_sources(parquet))
    for n in QUERIES:
        (root / "models" / f"{name(n)}.sql").write_text(
            f"-- TPC-H query {n}\n-- io_manager: duckdb\n{query(n, scale)}"
        )
    return root


#: the suffix of a variant run by the checkout ``--before`` names
BEFORE = "@before"


def commands(
    work: Path, parquet: Path, scale: float, variants: Sequence[str], before: bool = False
) -> dict[str, list[str]]:
    """Each variant's command; with ``before``, each Lumbung variant's again, as
    ``<variant>@before``, on projects of its own (run with ``environment``)."""
    out: dict[str, list[str]] = {}
    for v in variants:
        if v == "raw":
            out[v] = [sys.executable, str(write_raw(work, parquet, scale))]
            continue
        write = write_relation_project if v == "relation" else write_sql_project
        for name, folder in ((v, work), (v + BEFORE, work / "before"))[: 2 if before else 1]:
            root = write(folder, parquet, scale)
            out[name] = [sys.executable, "-m", "assets_core.cli", "--project", str(root)]
            out[name] += ["materialize", "--force"]
    return out


def warehouse(work: Path, variant: str) -> Path:
    if variant == "raw":
        return work / "raw.duckdb"
    if variant.endswith(BEFORE):
        return work / "before" / variant.removesuffix(BEFORE) / ".lumbung/warehouse.duckdb"
    return work / variant / ".lumbung/warehouse.duckdb"


#: the variants' environment: Python keeps its bytecode (``__pycache__``), as in an ordinary
#: installation, even where this process was told not to (``PYTHONDONTWRITEBYTECODE``):
#: otherwise every Lumbung run compiles its ~130 modules again (~0.23 s of CPU) and the raw
#: script, importing duckdb only, a handful
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def environment(variant: str, before: Path | None) -> dict[str, str]:
    """``ENV``, with the checkout ``before`` first on the import path for its variants."""
    if before is None or not variant.endswith(BEFORE):
        return ENV
    path = [str(before), *([ENV["PYTHONPATH"]] if ENV.get("PYTHONPATH") else [])]
    return {**ENV, "PYTHONPATH": os.pathsep.join(path)}


def timed(cmd: list[str], env: dict[str, str] = ENV) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        # sums and averages of doubles depend on the order DuckDB's threads add them in
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    return a == b


def answers(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Each query's table in ``path``, its rows sorted (ties of an ordered query may come in
    either order)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {name(n): sorted(con.table(name(n)).fetchall(), key=repr) for n in QUERIES}
    finally:
        con.close()


def differences(
    raw: dict[str, list[tuple[object, ...]]], got: dict[str, list[tuple[object, ...]]]
) -> list[str]:
    """The queries whose answers differ, each with a short reason."""
    out = []
    for q, rows in raw.items():
        other = got[q]
        if len(rows) != len(other):
            out.append(f"{q}: {len(other)} rows, the raw script's {len(rows)}")
        elif not all(
            len(r) == len(o) and all(_same(x, y) for x, y in zip(r, o, strict=True))
            for r, o in zip(rows, other, strict=True)
        ):
            out.append(f"{q}: different values")
    return out


def measure(
    cmds: dict[str, list[str]], repeat: int, warm: bool = True, before: Path | None = None
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per variant and round; with ``warm``, each variant runs once first
    to warm the page cache and the source observations, unmeasured. ``before``: the checkout
    the ``@before`` variants run."""
    for v, cmd in cmds.items() if warm else ():
        timed(cmd, environment(v, before))
    runs: dict[str, list[tuple[float, float]]] = {v: [] for v in cmds}
    order = list(cmds)
    for r in range(repeat):
        for v in order[r % len(order) :] + order[: r % len(order)]:
            runs[v].append(timed(cmds[v], environment(v, before)))
    return runs


def report(runs: dict[str, list[tuple[float, float]]]) -> list[str]:
    """Per variant: median wall and CPU seconds, and the medians of the per-round ratios to
    raw (CPU time is steadier than wall time on a shared machine)."""
    lines = [
        f"{'variant':<16} {'wall s':>8} {'cpu s':>8} {'wall ratio':>11} {'cpu ratio':>10}"
        "  (per-round wall ratios)"
    ]
    for v, times in runs.items():
        wall = [t / b for (t, _), (b, _) in zip(times, runs["raw"], strict=True)]
        cpu = [c / b for (_, c), (_, b) in zip(times, runs["raw"], strict=True)]
        lines.append(
            f"{v:<16} {statistics.median(t for t, _ in times):>8.3f} "
            f"{statistics.median(c for _, c in times):>8.3f} {statistics.median(wall):>11.3f} "
            f"{statistics.median(cpu):>10.3f}  ({', '.join(f'{x:.2f}' for x in wall)})"
        )
    return lines


def run(
    scale: float,
    repeat: int,
    data: Path,
    work: Path,
    variants: Sequence[str],
    warm: bool = True,
    before: Path | None = None,
) -> list[str]:
    """Generate, measure (``warm``: after a first unmeasured run of each) and check; the
    printed lines. ``before``: another checkout whose Lumbung variants run too. Raises
    SystemExit on a wrong answer."""
    parquet = generate(scale, data)
    work.mkdir(parents=True, exist_ok=True)
    lumbung = [v for v in variants if v != "raw"]
    cmds = commands(work, parquet, scale, ["raw", *lumbung], before is not None)
    runs = measure(cmds, repeat, warm, before)
    lines = [f"TPC-H scale {scale:g}, {repeat} rounds, whole process", *report(runs)]
    raw = answers(warehouse(work, "raw"))
    for v in cmds:
        if v != "raw" and (bad := differences(raw, answers(warehouse(work, v)))):
            raise SystemExit(f"{v}: answers differ from the raw script's: " + "; ".join(bad))
    lines.append(f"all {len(QUERIES)} answers of every variant equal the raw script's")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "lumbung-bench-tpch")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--before", type=Path, help="another checkout of Lumbung to measure beside")
    args = p.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if unknown := sorted(set(variants) - set(VARIANTS)):
        p.error(f"unknown variants {unknown}; use some of {', '.join(VARIANTS)}")
    if args.before is not None and not (args.before / "assets_core").is_dir():
        p.error(f"--before {args.before}: no Lumbung checkout there (no assets_core folder)")
    before = None if args.before is None else args.before.resolve()
    with tempfile.TemporaryDirectory(prefix="lumbung-tpch-") as tmp:
        for line in run(args.scale, args.repeat, args.data, Path(tmp), variants, before=before):
            print(line)


if __name__ == "__main__":
    main()
