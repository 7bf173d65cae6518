"""A query run inside the warehouse, its result created there as the asset's table (DESIGN
§14: "With the DuckDB IO manager the result is created inside the warehouse, never copied
through Python").

``save_query`` lends the step a cursor on the warehouse's own instance whose default catalog
is an in-memory one of its own (attached for the step, detached after): the step binds its
inputs there as views and builds its relation (``build``), or, for a SQL asset, gives its
statement (a ``Query``: no relation is made of it, which would bind it once more). An input
that is a table of this warehouse is read in place (``DuckDBIOManager.load`` on a lent cursor
gives a relation over the table itself, no copy); a Parquet output or a source is scanned
where it lies. Then, inside one transaction, the old table is dropped and the relation creates
the new one itself (``DuckDBPyRelation.create``: one ``CREATE TABLE ... AS`` of the
relation's own query, bound once, with no view in between; a ``Query``: ``CREATE TABLE ...
AS`` of its text), and the table is read back once through Arrow to hash it with the same
canonical hash as every other write (``datahash.TableHasher``, over the types ``load`` gives
back), before ``COMMIT``.

What else ``build`` returns (a relation of another connection, a frame, an Arrow table) is
saved as ``DuckDBIOManager.save`` saves any value, while the step's views are still there.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeGuard

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey
from assets_core.storage.io import OutputContext, Query, Staged, StoredOutput
from io_managers.duckdb.catalog import _OWNER_PREFIX, table_fingerprint
from io_managers.duckdb.ingest import _BATCH_ROWS, _BackgroundHasher, _utc_schema
from io_managers.duckdb.sql import (
    _CONFLICT_RETRIES,
    _rollback,
    _write_failed,
    quote_ident,
    quote_literal,
    table_for,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

    from io_managers.duckdb.catalog import _Catalog
    from io_managers.duckdb.warehouse import _Warehouse

__all__ = ["save_query"]

_names = itertools.count()


class DuckDBIOManager(Protocol):
    """What ``save_query`` uses of ``io_managers.duckdb.manager.DuckDBIOManager`` (which
    imports this module)."""

    _warehouse: _Warehouse
    _lent: set[int]  # the cursors lent to steps, which ``load`` reads tables in place on

    def _writable(self, key: AssetKey) -> None: ...

    def location(self, key: AssetKey) -> str: ...

    def _check_owner(
        self, cur: duckdb.DuckDBPyConnection, key: AssetKey, schema: str, table: str
    ) -> _Catalog: ...

    def save(self, ctx: OutputContext, value: object) -> StoredOutput: ...


@contextlib.contextmanager
def _step_catalog(cur: duckdb.DuckDBPyConnection, home: str) -> Iterator[None]:
    """``cur`` with an in-memory catalog of its own as its default (``home``: the
    warehouse's catalog, the default again after)."""
    name = f"lumbung_step_{next(_names)}"
    cur.execute(f"ATTACH ':memory:' AS {name}")
    cur.execute(f"USE {name}")
    try:
        yield
    finally:
        cur.execute(f"USE {quote_ident(home)}")
        cur.execute(f"DETACH {name}")


def save_query(
    manager: DuckDBIOManager,
    ctx: OutputContext,
    build: Callable[[duckdb.DuckDBPyConnection], object],
) -> StoredOutput:
    """Create ``ctx.key``'s table from the relation ``build`` makes on a lent cursor, or save
    what else it returns (see the module docstring); what ``build`` raises passes through
    unchanged."""
    import duckdb

    _import_pyarrow_meanwhile()
    manager._writable(ctx.key)
    schema, table = table_for(ctx.key)
    location = manager.location(ctx.key)
    warehouse = manager._warehouse
    with warehouse.cursor() as cur:
        assert cur is not None
        # in the warehouse's own catalog, before the step's becomes the default
        warehouse.ensure_schema(cur, schema)
        catalog = manager._check_owner(cur, ctx.key, schema, table)
        manager._lent.add(id(cur))
        try:
            home = warehouse.home
            with _step_catalog(cur, home):
                result = build(cur)
                if not isinstance(result, Query) and not _relation_of(result, cur):
                    return manager.save(ctx, result)
                qname = f"{quote_ident(home)}.{quote_ident(schema)}.{quote_ident(table)}"
                attempt = 0
                while True:
                    try:
                        stored = _create(cur, ctx, qname, location, result)
                        catalog.put(schema, table, str(ctx.key), stored.fingerprint or "")
                        return stored
                    except duckdb.TransactionException as exc:
                        attempt += 1
                        if attempt > _CONFLICT_RETRIES:
                            raise IOManagerError(_write_failed(ctx.key, location, exc)) from exc
                        time.sleep(0.005 * attempt)
        finally:
            manager._lent.discard(id(cur))


_pyarrow_started = threading.Lock()


def _import_pyarrow_meanwhile() -> threading.Thread | None:
    """Start importing pyarrow on a thread of its own (once per process, unless it is in);
    the thread, if one started.

    The table's read-back for its hash is the first thing to need it, right after the first
    query, and importing it (with numpy) takes 0.15 s of wall time on one core, holding the
    GIL: two steps whose queries end together both waited for it while the cores idled.
    DuckDB runs a query without the GIL, so the import is done meanwhile; a read-back that
    comes before it is done waits for it under Python's import lock, never imports it twice.
    A fork (asset code's ``multiprocessing``) waits for the import to end first: a child forked
    in the middle of it would find pyarrow half imported, its lock held by no thread of its.
    """
    if "pyarrow" in sys.modules or not _pyarrow_started.acquire(blocking=False):
        return None

    def run() -> None:
        with contextlib.suppress(Exception):  # said by the read-back's own import
            import pyarrow  # noqa: F401

    thread = threading.Thread(target=run, name="lumbung-import-pyarrow", daemon=True)
    thread.start()
    os.register_at_fork(before=lambda: _join_unless_current(thread))
    return thread


def _join_unless_current(thread: threading.Thread) -> None:
    if thread is not threading.current_thread():
        thread.join()


def _relation_of(
    value: object, cur: duckdb.DuckDBPyConnection
) -> TypeGuard[duckdb.DuckDBPyRelation]:
    """Whether ``value`` is a relation made on ``cur`` (the connection a DuckDB relation keeps
    is not public: a relation whose connection cannot be told is saved as any value is)."""
    return getattr(value, "_con", None) is cur


def _create(
    cur: duckdb.DuckDBPyConnection,
    ctx: OutputContext,
    qname: str,
    location: str,
    result: duckdb.DuckDBPyRelation | Query,
) -> StoredOutput:
    """One transaction: the table made by ``result`` itself (a SQL asset's statement: one
    ``CREATE TABLE ... AS`` of its text), its owner, its hash, the commit."""
    key = ctx.key
    cur.execute("BEGIN TRANSACTION")
    try:
        cur.execute(f"DROP TABLE IF EXISTS {qname}")
        if isinstance(result, Query):
            # the statement on its file's lines: DuckDB's "LINE n" of an error is the file's
            lines = "\n" * (result.line - 1) if result.line > 1 else " "
            cur.execute(f"CREATE TABLE {qname} AS{lines}{result.sql}")
        else:
            result.create(qname)
        cur.execute(f"COMMENT ON TABLE {qname} IS {quote_literal(_OWNER_PREFIX + str(key))}")
        reader = cur.sql(f"SELECT * FROM {qname}").to_arrow_reader(_BATCH_ROWS)
        given = reader.schema  # a new object at every read of the property
        utc = _utc_schema(given)
        relabel = utc is not given
        hasher = _BackgroundHasher(utc)  # hashes a batch while DuckDB hands over the next
        try:
            for batch in reader:
                hasher.put(batch.cast(utc) if relabel else batch)
            digest = hasher.finish()
        finally:
            hasher.close()
        if ctx.audit is not None:  # write-audit-publish: the open transaction stages
            ctx.audited(Staged(qname, digest, cur))
        with ctx.publishing():
            cur.execute("COMMIT")
    except BaseException:
        _rollback(cur)
        raise
    nbytes = hasher.nbytes
    fingerprint = table_fingerprint(hasher.rows, len(utc))
    return StoredOutput(
        location=location,
        data_version=digest,
        rows=hasher.rows,
        bytes=nbytes,
        schema=hasher.schema,
        memory=nbytes,
        fingerprint=fingerprint,
    )
