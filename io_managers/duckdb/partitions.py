"""Partitions in the warehouse: one table per asset, a text column per dimension first.

Saving a partition (``replace``) runs inside the save's transaction: the first save creates the
table (``CREATE TABLE ... AS SELECT '<value>' AS "<dim>", * ...``); a later one checks that the
partition's columns are the table's (a column added, removed or retyped is refused by name,
never cast or lost), deletes the partition's rows and inserts the new ones.

Which partitions are stored is kept in the registry table ``main."lumbung:partitions"`` (key,
partition), written in the same transaction: a partition with no rows is stored too. No asset
key can name that table (a key's segments hold no ``:``).

A partition's fingerprint is ``<its rows>x<the table's columns>``, so replacing one partition
leaves the others' fingerprints as they were. Planning asks for thousands at once: one
``GROUP BY`` over the dimension columns per table, and one registry query.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey
from assets_core.partitions.columns import dimension_names, join_values
from assets_core.partitions.space import PartitionsDefinition
from assets_core.storage.partitioned import schema_changed, schema_difference
from io_managers.duckdb.catalog import table_fingerprint
from io_managers.duckdb.sql import quote_ident, quote_literal

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from io_managers.duckdb.warehouse import _Warehouse

__all__ = ["REGISTRY", "registered", "replace"]

#: the table listing the stored partitions of every asset (see the module docstring)
REGISTRY = 'main."lumbung:partitions"'
_CREATE_REGISTRY = f"CREATE TABLE IF NOT EXISTS {REGISTRY} (key VARCHAR, partition VARCHAR)"
#: the column that orders the partitions asked for when they are read
_ORDER = "lumbung_order"


def ensure_registry(cur: duckdb.DuckDBPyConnection, warehouse: _Warehouse) -> None:
    """Create the registry table unless it exists, once per opening of the file (in its own
    statement, before a save's transaction: two transactions creating one table conflict)."""
    warehouse.ensure(cur, REGISTRY, _CREATE_REGISTRY)


def registered(cur: duckdb.DuckDBPyConnection, keys: Sequence[AssetKey]) -> dict[str, set[str]]:
    """The stored partitions of each of ``keys`` (by key text), as the registry lists them."""
    import duckdb

    wanted = sorted({str(k) for k in keys})
    out: dict[str, set[str]] = {k: set() for k in wanted}
    if not wanted:
        return out
    try:
        rows = cur.execute(
            f"SELECT key, partition FROM {REGISTRY} WHERE list_contains(?, key)", [wanted]
        ).fetchall()
    except duckdb.CatalogException:  # no partition was ever stored in this warehouse
        return out
    for key, partition in rows:
        out[key].add(partition)
    return out


def _literals(names: Sequence[str], values: Sequence[str]) -> str:
    return ", ".join(
        f"{quote_literal(v)}::VARCHAR AS {quote_ident(n)}"
        for n, v in zip(names, values, strict=True)
    )


def _where(names: Sequence[str], values: Sequence[str]) -> str:
    return " AND ".join(
        f"{quote_ident(n)} = {quote_literal(v)}" for n, v in zip(names, values, strict=True)
    )


def rows_of(qname: str, names: Sequence[str], values: Sequence[str]) -> str:
    """SQL reading one partition's rows of ``qname`` as they were given (no dimensions)."""
    dims = ", ".join(quote_ident(n) for n in names)
    return f"(SELECT * EXCLUDE ({dims}) FROM {qname} WHERE {_where(names, values)})"


def replace(
    cur: duckdb.DuckDBPyConnection,
    key: AssetKey,
    partition: str,
    qname: str,
    view: str,
    names: Sequence[str],
    values: Sequence[str],
    exists: bool,
) -> None:
    """Store ``view`` as ``partition`` of ``key``'s table ``qname`` (inside the caller's
    transaction): create the table, or check its columns and replace the partition's rows."""
    source = quote_ident(view)
    if not exists:
        cur.execute(f"CREATE TABLE {qname} AS SELECT {_literals(names, values)}, * FROM {source}")
    else:
        have = [(r[0], r[1]) for r in cur.execute(f"DESCRIBE {qname}").fetchall()]
        new = [(r[0], r[1]) for r in cur.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        want = [*((n, "VARCHAR") for n in names), *new]
        if have != want:
            old = cur.execute(
                f"SELECT partition FROM {REGISTRY} WHERE key = ? AND partition <> ? "
                "ORDER BY partition LIMIT 1",
                [str(key), partition],
            ).fetchall()
            what = f"partition {old[0][0]}" if old else "the stored table"
            raise IOManagerError(
                schema_changed(key, what, partition, schema_difference(have, want))
            )
        cur.execute(f"DELETE FROM {qname} WHERE {_where(names, values)}")
        cur.execute(f"INSERT INTO {qname} SELECT {_literals(names, values)}, * FROM {source}")
    cur.execute(f"DELETE FROM {REGISTRY} WHERE key = ? AND partition = ?", [str(key), partition])
    cur.execute(f"INSERT INTO {REGISTRY} VALUES (?, ?)", [str(key), partition])


def remove(
    cur: duckdb.DuckDBPyConnection,
    key: AssetKey,
    partition: str,
    qname: str | None,
    names: Sequence[str],
    values: Sequence[str],
) -> None:
    """Delete ``partition``'s rows from ``qname`` (when there is a table) and its registry
    entry (inside the caller's transaction)."""
    if qname is not None:
        cur.execute(f"DELETE FROM {qname} WHERE {_where(names, values)}")
    cur.execute(f"DELETE FROM {REGISTRY} WHERE key = ? AND partition = ?", [str(key), partition])


def forget(cur: duckdb.DuckDBPyConnection, key: AssetKey) -> None:
    """Delete every registry entry of ``key`` (its table was dropped)."""
    import duckdb

    with contextlib.suppress(duckdb.CatalogException):  # no registry: nothing to forget
        cur.execute(f"DELETE FROM {REGISTRY} WHERE key = ?", [str(key)])


def read(
    cur: duckdb.DuckDBPyConnection,
    qname: str,
    definition: PartitionsDefinition,
    partitions: Sequence[tuple[str, Sequence[str]]],
) -> pa.Table:
    """The rows of ``partitions`` (key, dimension values) of ``qname`` as one Arrow table: the
    partitions in the order given, each partition's rows in the order inserted. The filter is
    a join with the keys asked for, which DuckDB pushes into the scan."""
    import pyarrow as pa

    names = dimension_names(definition)
    keys = pa.table(
        {
            _ORDER: pa.array(range(len(partitions)), pa.int64()),
            **{
                n: pa.array([v[i] for _, v in partitions], pa.string()) for i, n in enumerate(names)
            },
        }
    )
    view = f"lumbung_keys_{uuid.uuid4().hex}"
    cur.register(view, keys)
    try:
        on = " AND ".join(f"t.{quote_ident(n)} = k.{quote_ident(n)}" for n in names)
        return cur.sql(
            f"SELECT t.* FROM {qname} t JOIN {view} k ON {on} ORDER BY k.{_ORDER}, t.rowid"
        ).to_arrow_table()
    finally:
        cur.unregister(view)


def fingerprints(
    cur: duckdb.DuckDBPyConnection,
    qname: str,
    definition: PartitionsDefinition,
    stored: set[str],
    wanted: Sequence[str],
) -> list[str | None]:
    """For each partition in ``wanted``: ``<rows>x<columns>`` when it is ``stored``, else
    ``None``. One query over the dimension columns."""
    names = dimension_names(definition)
    dims = ", ".join(quote_ident(n) for n in names)
    counts = {
        join_values(definition, row[:-1]): row[-1]
        for row in cur.execute(f"SELECT {dims}, count(*) FROM {qname} GROUP BY ALL").fetchall()
    }
    columns = len(cur.execute(f"DESCRIBE {qname}").fetchall())
    return [table_fingerprint(counts.get(p, 0), columns) if p in stored else None for p in wanted]
