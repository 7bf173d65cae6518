"""Data checks: five built-in checks on a big Parquet output, against writing that output.

    python bench/checks.py [--rows 10000000] [--rounds 3] [--shuffled]

Writes a table of ROWS rows (id, status, customer_id, amount) through the Parquet manager
three ways, interleaved round by round (each going first in turn) so all see the same
machine state:

- ``plain``: ``save`` as an asset without checks does it;
- ``staged``: ``save`` with write-audit-publish and an audit that checks nothing (what
  staging and publishing cost beyond a plain write; target: at most 5% more);
- ``checked``: ``save`` with the five checks below run on the staged file before the rename;

and, on the stored file, ``checks``: the five checks alone (``not_null``, ``unique``,
``accepted_values``, ``row_count``, ``expect``), as ``lumbung check --force`` runs them
(target: at most 0.3x the plain write). ``unique`` proves a column of increasing values
unique in one streaming pass; ``--shuffled`` puts the ids in random order, where it reads
them into memory and marks each in a table of one byte per id instead. Then the same for
the DuckDB manager, whose checks run on the new rows inside its write transaction. Prints
the median seconds of each and the ratios to ``plain``, on the clock and in CPU seconds of
the whole process (every thread: steadier than the clock on a shared machine).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from assets_core.checks import accepted_values, expect, not_null, row_count, unique
from assets_core.execution.checks import Audit
from assets_core.model.decorator import asset
from assets_core.model.definitions import Definitions
from assets_core.model.keys import StepKey
from assets_core.storage.checks import CheckOutcome, run_builtin
from assets_core.storage.io import DuckDBHolder, OutputContext, Staged
from assets_core.storage.registry import IOManagers
from io_managers.duckdb import DuckDBIOManager
from io_managers.parquet import ParquetIOManager

STATUSES = ["placed", "shipped", "completed", "returned"]
CHECKS = [
    not_null("id"),
    unique("id"),
    accepted_values("status", STATUSES),
    row_count(min=1),
    expect("amount >= 0"),
]


@asset(checks=CHECKS)
def orders() -> pa.Table:
    raise NotImplementedError  # never run: the bench saves a table it made itself


def make_table(rows: int, shuffled: bool) -> pa.Table:
    rng = np.random.default_rng(1)
    ids = np.arange(rows, dtype=np.int64)
    if shuffled:
        rng.shuffle(ids)
    status = pa.array(np.array(STATUSES, dtype=object)[rng.integers(0, 4, rows)], pa.string())
    return pa.table(
        {
            "id": ids,
            "status": status,
            "customer_id": rng.integers(0, 100_000, rows),
            "amount": np.abs(rng.normal(100, 20, rows)),
        }
    )


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Seconds on the clock and CPU seconds of the process (every thread) that ``fn`` took."""
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def nothing(staged: Staged) -> None:
    """An audit that checks nothing: what staging alone costs."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--shuffled", action="store_true", help="ids in random order (unique cannot stream)"
    )
    args = parser.parse_args()
    table = make_table(args.rows, args.shuffled)
    order = "shuffled" if args.shuffled else "increasing"
    print(f"{args.rows:,} rows ({table.nbytes / 1e6:.0f} MB in memory), ids {order}")
    defs = Definitions([orders])
    spec = defs.assets[orders.key].spec
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        io = IOManagers(root)
        for name, manager in (
            ("parquet", ParquetIOManager(root / "parquet")),
            ("duckdb", DuckDBIOManager(root / "warehouse.duckdb")),
        ):
            times: dict[str, list[tuple[float, float]]] = {"plain": [], "staged": [], "checked": []}
            if name == "parquet":
                times["checks"] = []
            failed: list[tuple[StepKey, CheckOutcome]] = []
            for _ in range(args.rounds):
                holder = DuckDBHolder()
                audit = Audit(defs, io, StepKey(orders.key), "bench", holder, failed)
                plain = OutputContext(orders.key, spec, "bench")
                staged = OutputContext(orders.key, spec, "bench", audit=nothing)
                checked = OutputContext(orders.key, spec, "bench", audit=audit)
                ways = [("plain", plain), ("staged", staged), ("checked", checked)]
                turn = len(times["plain"]) % len(ways)  # each goes first in turn
                for what, ctx in ways[turn:] + ways[:turn]:
                    times[what].append(timed(partial(manager.save, ctx, table)))
                if name == "parquet":
                    file = root / "parquet" / "orders.parquet"
                    con = duckdb.connect()
                    source = f"read_parquet('{file}')"

                    def alone(con: duckdb.DuckDBPyConnection = con, source: str = source) -> None:
                        for c in CHECKS:
                            assert run_builtin(con, source, c, lambda k: pa.table({})).passed

                    times["checks"].append(timed(alone))
                    con.close()
                holder.close()
            assert all(o.passed for _, o in failed), failed
            base = statistics.median(w for w, _ in times["plain"])
            base_cpu = statistics.median(c for _, c in times["plain"])
            print(f"\n{name} manager (median of {args.rounds}; wall clock, then CPU):")
            for what, values in times.items():
                m = statistics.median(w for w, _ in values)
                cpu = statistics.median(c for _, c in values)
                print(
                    f"  {what:<8} {m:7.3f} s {m / base:5.2f}x plain   "
                    f"{cpu:7.3f} CPU s {cpu / base_cpu:5.2f}x plain"
                )
            if isinstance(manager, DuckDBIOManager):
                manager.close()


if __name__ == "__main__":
    main()
