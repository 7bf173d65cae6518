"""Loading a partitioned CSV source: Lumbung against raw DuckDB and a pandas loop.

    python bench/partitioned_sources.py [--days 365] [--day-rows 1000] [--repeat 5]

Writes DAYS daily CSV files of DAY_ROWS rows (int, text, float, timestamp columns), then
reads all of them as one pyarrow table, alternating so every reader sees the same machine
state, and prints the median wall seconds of each, and the median CPU seconds of the process
(every thread; less moved by other processes on a shared machine):

- ``lumbung``: ``load_partitioned_source`` (the header check, one ``read_csv`` over the list
  with ``union_by_name`` and the source's options, the ``partition`` column from each row's
  file);
- ``duckdb``: the same ``read_csv`` over the same list, with no partition column;
- ``pandas``: ``pd.read_csv`` per file, a ``partition`` column added, ``pd.concat``, then
  converted to Arrow;
- also the pandas frame each way (Lumbung's ``pd.DataFrame`` consumer against the loop alone).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from assets_core.model.decorator import source
from assets_core.partitions import daily
from assets_core.storage.csv_read import literal
from assets_core.storage.partitioned_sources import load_partitioned_source


def write_files(root: Path, days: int, rows: int) -> list[str]:
    rng = random.Random(1)
    keys = []
    for i in range(days):
        day = date(2024, 1, 1) + timedelta(days=i)
        keys.append(day.isoformat())
        lines = ["id,user,amount,at"]
        lines += [
            f"{j},u{rng.randint(1, 500)},{rng.random() * 100:.2f},{day}T{j % 24:02d}:00:00"
            for j in range(rows)
        ]
        path = root / "events" / f"{day}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return keys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--day-rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keys = write_files(root, args.days, args.day_rows)
        files = [str(root / "events" / f"{k}.csv") for k in keys]
        src = source("events", path="events/{date}.csv", partitions=daily(start="2024-01-01"))
        con = duckdb.connect()

        def lumbung() -> object:
            return load_partitioned_source(src, root, pa.Table, lambda: con, keys)

        def lumbung_pandas() -> object:
            return load_partitioned_source(src, root, pd.DataFrame, lambda: con, keys)

        def raw_duckdb() -> object:
            c = duckdb.connect()
            sql = (
                f"select * from read_csv({literal(files)}, delim = ',', header = true, "
                "quote = '\"', escape = '\"', union_by_name = true)"
            )
            table = c.sql(sql).to_arrow_table()
            c.close()
            return table

        def pandas_frame() -> pd.DataFrame:
            frames = []
            for key, f in zip(keys, files, strict=True):
                frame = pd.read_csv(f, parse_dates=["at"])
                frame.insert(0, "partition", key)
                frames.append(frame)
            return pd.concat(frames, ignore_index=True)

        def pandas_loop() -> object:
            return pa.Table.from_pandas(pandas_frame(), preserve_index=False)

        runs: dict[str, Callable[[], object]] = {
            "lumbung (pa.Table)": lumbung,
            "raw duckdb read_csv (pa.Table)": raw_duckdb,
            "pandas loop (pa.Table)": pandas_loop,
            "lumbung (pd.DataFrame)": lumbung_pandas,
            "pandas loop (pd.DataFrame)": pandas_frame,
        }
        wall: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, fn in runs.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                fn()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
        print(f"{args.days} files x {args.day_rows} rows, median of {args.repeat}:")
        base = statistics.median(wall["lumbung (pa.Table)"])
        base_cpu = statistics.median(cpu["lumbung (pa.Table)"])
        for name in runs:
            w, c = statistics.median(wall[name]), statistics.median(cpu[name])
            print(
                f"  {name:32s} wall {w:7.3f} s ({w / base:.2f}x)  "
                f"cpu {c:7.3f} s ({c / base_cpu:.2f}x lumbung pa.Table)"
            )


if __name__ == "__main__":
    main()
