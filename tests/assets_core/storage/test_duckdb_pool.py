"""Steps compute on cursors of one in-memory DuckDB instance per process, each with a catalog
of its own: what one step binds is never seen by another running beside it, and is gone
once the step releases its cursor."""

from __future__ import annotations

import threading

from assets_core.storage.duckdb_pool import release, step_connection
from assets_core.storage.io import DuckDBHolder


def test_steps_bind_the_same_names_apart() -> None:
    one, two = step_connection(), step_connection()
    try:
        one.sql("SELECT 1 AS n").create_view("raw")
        one.execute("CREATE SCHEMA marts")
        one.execute("CREATE VIEW marts.orders AS SELECT n * 10 AS n FROM main.raw")
        two.sql("SELECT 2 AS n").create_view("raw")
        two.execute("CREATE SCHEMA marts")
        two.execute("CREATE VIEW marts.orders AS SELECT n * 10 AS n FROM main.raw")
        assert one.sql("SELECT n FROM marts.orders").fetchall() == [(10,)]
        assert two.sql("SELECT n FROM marts.orders").fetchall() == [(20,)]
    finally:
        release(one)
    assert two.sql("SELECT n FROM raw").fetchall() == [(2,)]  # untouched by one's release
    catalogs = {r[0] for r in two.sql("SELECT database_name FROM duckdb_databases()").fetchall()}
    mine = two.sql("SELECT current_database()").fetchall()[0][0]
    release(two)
    probe = step_connection()
    try:
        now = {r[0] for r in probe.sql("SELECT database_name FROM duckdb_databases()").fetchall()}
    finally:
        release(probe)
    assert mine in catalogs and mine not in now  # detached with what the step created


def test_holders_in_threads_share_one_instance() -> None:
    seen: list[object] = []

    def step(n: int) -> None:
        holder = DuckDBHolder()
        con = holder.get()
        con.sql(f"SELECT {n} AS n").create_view("x")
        seen.append(con.sql("SELECT n FROM x").fetchall())
        holder.close()

    threads = [threading.Thread(target=step, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == [[(n,)] for n in range(8)]  # type: ignore[type-var]
