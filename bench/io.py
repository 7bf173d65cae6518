"""IO throughput: the Parquet and DuckDB managers against raw pyarrow and raw DuckDB.

    python bench/io.py [--rows 5000000] [--assets 10] [--days 365] [--day-rows 1000]

Writes ASSETS tables of ROWS rows (int64, float64 and string columns) through each manager,
data-version hashing included, and the same tables through the raw libraries, alternating
so both see the same machine state; then reads each back. Prints seconds and the ratio of
raw time to manager time (1.0 = as fast as raw; the target is >= 0.9).

Then partitions: DAYS daily partitions of DAY_ROWS rows each, saved one by one through each
manager against a plain loop writing the same hive files with pyarrow (and the same
DELETE + INSERT per day in raw DuckDB), and all of them loaded as one table against pyarrow
reading the files and concatenating them (raw DuckDB: one SELECT ordered by day).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions import daily
from assets_core.storage.io import InputContext, OutputContext
from io_managers.duckdb import DuckDBIOManager
from io_managers.parquet import ParquetIOManager

#: each figure with the raw operation it is compared with: (raw, the manager's)
PAIRS = (
    ("raw pq write", "parquet save"),
    ("raw pq read", "parquet load"),
    ("raw duckdb write", "duckdb save"),
    ("raw duckdb read", "duckdb load"),
)


def make_table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int64)
    words = np.array([f"customer-{i:05d}" for i in range(5000)], dtype=object)
    return pa.table(
        {
            "id": ids,
            "amount": rng.normal(100, 20, rows),
            "qty": rng.integers(0, 50, rows),
            "name": pa.array(words[rng.integers(0, 5000, rows)], pa.string()),
        }
    )


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--assets", type=int, default=10)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--day-rows", type=int, default=1000)
    args = parser.parse_args()
    table = make_table(args.rows, 1)
    mb = table.nbytes / 1e6
    print(f"{args.assets} assets x {args.rows:,} rows ({mb:.0f} MB in memory each)")
    totals = dict.fromkeys([name for pair in PAIRS for name in pair], 0.0)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pm = ParquetIOManager(tmp / "parquet")
        dm = DuckDBIOManager(tmp / "warehouse.duckdb")
        raw_db = duckdb.connect(str(tmp / "raw.duckdb"))
        raw_db.register("src", table)
        for i in range(args.assets):
            key = AssetKey.parse(f"bench/t{i}")
            spec = AssetSpec(key)
            out, inp = OutputContext(key, spec), InputContext(key, spec, expected_type=pa.Table)
            raw_path = tmp / f"raw{i}.parquet"
            totals["raw pq write"] += timed(lambda p=raw_path: pq.write_table(table, p))
            totals["parquet save"] += timed(lambda o=out: pm.save(o, table))
            totals["raw pq read"] += timed(lambda p=raw_path: pq.read_table(p))
            totals["parquet load"] += timed(lambda c=inp: pm.load(c))
            totals["raw duckdb write"] += timed(
                lambda n=i: raw_db.execute(f"create or replace table t{n} as select * from src")
            )
            totals["duckdb save"] += timed(lambda o=out: dm.save(o, table))
            totals["raw duckdb read"] += timed(
                lambda n=i: raw_db.sql(f"select * from t{n}").to_arrow_table()
            )
            totals["duckdb load"] += timed(lambda c=inp: dm.load(c))
        raw_db.close()
        dm.close()
    gb = mb * args.assets / 1e3
    print(f"{'operation':18} {'seconds':>8} {'GB/s':>6}   ratio raw/manager (>= 0.9 is the target)")
    for raw, ours in PAIRS:
        for name in (raw, ours):
            print(f"{name:18} {totals[name]:8.2f} {gb / totals[name]:6.2f}")
        print(f"{'':18} {'':8} {'':6}   {totals[raw] / totals[ours]:.2f}")
    partitions(args.days, args.day_rows)


def partitions(days: int, day_rows: int) -> None:
    """Partition figures (see the module docstring)."""
    definition = daily(start="2024-01-01")
    keys = [f"{d}" for d in definition.keys(datetime(2030, 1, 1, tzinfo=timezone.utc))[:days]]
    tables = [make_table(day_rows, i) for i in range(days)]
    key = AssetKey.parse("bench/events")
    spec = AssetSpec(key, partitions=definition)
    totals = dict.fromkeys([name for pair in PAIRS for name in pair], 0.0)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pm = ParquetIOManager(tmp / "parquet")
        dm = DuckDBIOManager(tmp / "warehouse.duckdb")
        raw_db = duckdb.connect(str(tmp / "raw.duckdb"))
        raw_root = tmp / "raw"

        def raw_pq_write() -> None:
            for k, t in zip(keys, tables, strict=True):
                folder = raw_root / f"partition={k}"
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(t, folder / "part.parquet")

        def raw_pq_read() -> None:
            read = [pq.read_table(raw_root / f"partition={k}" / "part.parquet") for k in keys]
            pa.concat_tables(read)

        def raw_duckdb_write() -> None:
            raw_db.execute(
                "create or replace table events as select ''::varchar as partition, * "
                "from src where false"
            )
            for k, t in zip(keys, tables, strict=True):
                raw_db.register("day", t)
                raw_db.execute("begin")
                raw_db.execute("delete from events where partition = ?", [k])
                raw_db.execute(f"insert into events select '{k}', * from day")
                raw_db.execute("commit")
                raw_db.unregister("day")

        def save_all(manager: ParquetIOManager | DuckDBIOManager) -> None:
            for k, t in zip(keys, tables, strict=True):
                manager.save(OutputContext(key, spec, partition=k), t)

        whole = InputContext(key, spec, expected_type=pa.Table)
        raw_db.register("src", tables[0])
        totals["raw pq write"] = timed(raw_pq_write)
        totals["parquet save"] = timed(lambda: save_all(pm))
        totals["raw pq read"] = timed(raw_pq_read)
        totals["parquet load"] = timed(lambda: pm.load(whole))
        totals["raw duckdb write"] = timed(raw_duckdb_write)
        totals["duckdb save"] = timed(lambda: save_all(dm))
        totals["raw duckdb read"] = timed(
            lambda: raw_db.sql("select * from events order by partition, rowid").to_arrow_table()
        )
        totals["duckdb load"] = timed(lambda: dm.load(whole))
        raw_db.close()
        dm.close()
    print(f"\n{days} daily partitions x {day_rows:,} rows, saved one by one, loaded as one")
    print(f"{'operation':18} {'seconds':>8}   ratio raw/manager")
    for raw, ours in PAIRS:
        for name in (raw, ours):
            print(f"{name:18} {totals[name]:8.2f}")
        print(f"{'':18} {'':8}   {totals[raw] / totals[ours]:.2f}")


if __name__ == "__main__":
    main()
