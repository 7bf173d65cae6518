"""SQL assets against raw DuckDB, in one run.

    python bench/sql.py [--assets 60] [--rows 200000] [--repeat 5]

A project of ASSETS SQL assets (DuckDB IO manager) that each aggregate a slice of one
Parquet source of ROWS rows, and one more that joins them all back, materialized in-process
(``Session.materialize(force=True)``: planning, loading, running, data-version hashing and
recording included), against a plain DuckDB script creating the same tables in a database
file from the same Parquet file. Alternates the two so both see the same machine state and
prints the median seconds of each and their ratio (Lumbung / raw: 1.0 = as fast as raw).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from assets_core.model.project import find_project, load_definitions
from assets_core.session import Session


def _total(n: int) -> str:
    union = " union all ".join(f"select * from s{i}" for i in range(n))
    return f"select g, sum(v) as v, sum(n) as n from ({union}) group by g"


def _query(i: int, n: int) -> str:
    return f"select g, sum(v) as v, count(*) as n from events where k % {n} = {i} group by g"


def make_project(root: Path, assets: int, rows: int) -> None:
    rng = np.random.default_rng(7)
    table = pa.table(
        {
            "k": np.arange(rows, dtype=np.int64),
            "v": rng.random(rows),
            "g": pa.array([f"g{x}" for x in rng.integers(0, 50, rows)]),
        }
    )
    pq.write_table(table, root / "events.parquet")
    (root / "lumbung.toml").write_text('sql = ["models"]\n')
    (root / "assets.py").write_text(
        'from assets_core import source\n\nevents = source("events", path="events.parquet")\n'
    )
    models = root / "models"
    models.mkdir()
    for i in range(assets):
        (models / f"s{i}.sql").write_text(_query(i, assets) + "\n")
    (models / "total.sql").write_text(_total(assets) + "\n")


def raw(root: Path, assets: int) -> None:
    path = root / "raw.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(f"create view events as select * from read_parquet('{root / 'events.parquet'}')")
    for i in range(assets):
        con.execute(f"create table s{i} as {_query(i, assets)}")
    con.execute(f"create table total as {_total(assets)}")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=60)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, args.assets, args.rows)
        config = find_project(root)
        session = Session(load_definitions(config), storage=config.storage)
        session.materialize()  # warm: the warehouse and state exist, as in daily use
        ours, theirs = [], []
        for _ in range(args.repeat):
            gc.collect()
            t = time.perf_counter()
            result = session.materialize(force=True)
            ours.append(time.perf_counter() - t)
            assert not result.failed, result.failed
            gc.collect()
            t = time.perf_counter()
            raw(root, args.assets)
            theirs.append(time.perf_counter() - t)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{args.assets + 1} SQL assets over {args.rows:,} Parquet rows")
        print(f"lumbung {a:6.3f} s   raw duckdb {b:6.3f} s   ratio lumbung/raw {a / b:.2f}")


if __name__ == "__main__":
    main()
