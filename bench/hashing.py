"""Benchmark: the cost of data versions against writing the same data.

Prints, in one run: the time to write a 5-million-row table (int64, float64, string) with
``pyarrow.parquet.write_table`` and the time to hash it with ``hash_arrow``, with their ratio
(target: at most 15%); then ``hash_pandas`` on a 10-row frame against ``pa.Table.from_pandas``
(target: at most 60 µs); then the throughput of XXH3-128 (``xxhash.xxh3_128``, the data
hash) and of the guaranteed hashlib algorithms, SHA-1 among them (format 1's hash).

Run: ``.venv/bin/python bench/hashing.py [rows]``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from assets_core.storage.datahash import hash_arrow, hash_pandas


def best(fn: Callable[[], object], repeat: int) -> float:
    """The best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def per_call(fn: Callable[[], object], number: int = 2000, repeat: int = 7) -> float:
    """The best mean time per call, in microseconds."""
    return min(best(lambda: [fn() for _ in range(number)], 1) for _ in range(repeat)) / number * 1e6


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "i": rng.integers(0, 1 << 40, rows),
            "f": rng.random(rows),
            "s": pc.cast(pa.array(rng.integers(0, 10**9, rows)), pa.string()),
        }
    )
    print(f"table: {rows:,} rows, {table.nbytes / 1e6:.0f} MB in memory, cpus={os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.parquet"
        write = best(lambda: pq.write_table(table, path), 3)
    hashing = best(lambda: hash_arrow(table), 3)
    print(f"pq.write_table : {write * 1e3:8.1f} ms")
    print(f"hash_arrow     : {hashing * 1e3:8.1f} ms")
    print(f"ratio          : {hashing / write:8.1%}  (target <= 15%)")

    df = pd.DataFrame({"a": range(10), "b": np.arange(10) * 1.5, "c": [f"v{i}" for i in range(10)]})
    t_hash = per_call(lambda: hash_pandas(df))
    t_conv = per_call(lambda: pa.Table.from_pandas(df, preserve_index=False))
    print(f"hash_pandas (10 rows x 3)          : {t_hash:7.1f} us  (target <= 60 us)")
    print(f"pa.Table.from_pandas (same frame)  : {t_conv:7.1f} us")

    data = os.urandom(64 << 20)
    x = xxhash.xxh3_128()
    t = best(lambda: x.update(data), 3)
    print(f"xxhash  xxh3_128: {len(data) / t / 1e9:5.2f} GB/s")
    for name in ("sha1", "md5", "blake2b", "sha256", "sha512"):
        h = hashlib.new(name)
        t = best(lambda h=h: h.update(data), 3)  # type: ignore[misc]
        print(f"hashlib {name:8s}: {len(data) / t / 1e9:5.2f} GB/s")


if __name__ == "__main__":
    main()
