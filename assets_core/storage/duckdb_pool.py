"""The DuckDB connections steps compute with: cursors of one in-memory instance per process.

Opening a DuckDB database costs about 13 ms and closing it 7 ms, and every instance has its
own thread pool, so an instance per step both wastes that time and, with steps running side
by side, runs more DuckDB threads than there are cores. Instead each process has one
in-memory instance (its threads: the cores there are) and a step gets a cursor of it
(``step_connection``, about half a millisecond).

Cursors of one instance share its catalog, and a step creates views there (an input bound
under its parameter's name, a SQL asset's ``marts.orders``): two steps running at once must
never see each other's. So each step's cursor attaches an in-memory catalog of its own and
makes it the default (``USE``, which holds per connection); ``release`` detaches it, freeing
whatever the step created.

The instance belongs to the process that opened it: a forked worker opens its own.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

__all__ = ["release", "step_connection"]

_lock = threading.Lock()
_instance: tuple[int, duckdb.DuckDBPyConnection] | None = None  # (pid, connection)
_names = itertools.count()


def _shared() -> duckdb.DuckDBPyConnection:
    """This process's instance, opened on first use."""
    global _instance
    with _lock:
        pid = os.getpid()
        if _instance is None or _instance[0] != pid:
            import duckdb

            _instance = (pid, duckdb.connect(":memory:"))
        return _instance[1]


def step_connection() -> duckdb.DuckDBPyConnection:
    """A cursor of the process's instance with a catalog of its own as its default."""
    cursor = _shared().cursor()
    name = f"lumbung_step_{os.getpid()}_{next(_names)}"
    cursor.execute(f"ATTACH ':memory:' AS {name}")
    cursor.execute(f"USE {name}")
    return cursor


def release(cursor: duckdb.DuckDBPyConnection) -> None:
    """Close a step's cursor and detach its catalog (with everything created in it)."""
    import duckdb

    try:
        (name,) = cursor.sql("SELECT current_database()").fetchall()[0]
        if str(name).startswith("lumbung_step_"):
            cursor.execute("USE memory")
            cursor.execute(f"DETACH {name}")
    except duckdb.Error:
        pass  # the instance is going away, or the step's code closed its cursor
    finally:
        cursor.close()
