"""``DuckDBIOManager``: save, load, exists and delete, one table per asset in the warehouse
file (``warehouse``), named by ``sql.table_for`` and owned by key (``catalog``).

Writes
    The value reaches DuckDB as Arrow. A pandas or polars frame is converted once
    (``values.to_arrow``) and registered as a table, which DuckDB scans in parallel while a
    second thread hashes the same batches (``datahash.TableHasher``). A DuckDB relation is
    streamed through its own Arrow record batch reader, never through pandas. A generator
    between the reader and DuckDB hands each batch to the hashing thread as DuckDB pulls it.
    The data version therefore covers exactly the rows DuckDB ingested, and it is complete
    before the commit.

    The table is replaced inside one transaction (``BEGIN; CREATE SCHEMA IF NOT EXISTS;
    CREATE OR REPLACE TABLE ... AS SELECT ...; COMMENT ON TABLE; COMMIT``). Any error rolls it
    back. A crash leaves the last committed table, which DuckDB's write-ahead log keeps
    intact. A schema change is an ordinary replace. A transaction conflict is retried.

Relations as inputs (DESIGN §7: "read from the warehouse attached read-only")
    Attaching the warehouse read-only on the consumer's connection does not work inside the
    process that writes it. DuckDB refuses to attach a file that another database instance
    of the same process has open ("Unique file handle conflict"). The reverse also holds: a
    read-only attachment, which lives as long as the consumer's connection, would stop this
    manager, and the consumer's own save, from reopening the file. Releasing the manager's
    handle for each read would serialize the threads executor behind every running consumer.
    So ``load`` reads the table through the manager's own instance into an Arrow table and
    binds it on the consumer's connection with ``from_arrow``. DuckDB then scans that Arrow
    data in place, without a further copy. The cost is that the input is held in memory for
    the life of the consuming asset.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions.columns import dimension_values, sort_keys
from assets_core.storage.io import (
    InputContext,
    OutputContext,
    OutputsUnchecked,
    Staged,
    StoredOutput,
)
from assets_core.storage.partitioned import definition_of, dimensions, not_stored, strip
from io_managers.duckdb import partitions
from io_managers.duckdb.catalog import _OWNER_PREFIX, _Catalog, table_fingerprint
from io_managers.duckdb.holder import unchecked_note
from io_managers.duckdb.ingest import (
    _BATCH_ROWS,
    _as_arrow,
    _BackgroundHasher,
    _IngestPlans,
    _SourceFailed,
    _utc_schema,
)
from io_managers.duckdb.sql import (
    _CONFLICT_RETRIES,
    _as_duckdb_error,
    _first_line,
    _in_transaction,
    _retry_conflicts,
    _rollback,
    _write_failed,
    quote_ident,
    quote_literal,
    schema_problem,
    table_for,
)
from io_managers.duckdb.warehouse import (
    WarehouseLocked,
    _is_damage,
    _Warehouse,
    damaged_message,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from assets_core.partitions.space import PartitionsDefinition

__all__ = ["DuckDBIOManager", "from_storage"]


class DuckDBIOManager:
    """Stores each asset as a table in the DuckDB database file ``path``.

    ``lock_timeout``: seconds to wait for another process to release the file.
    ``idle_close``: seconds the file stays open after the last operation (0 closes at once).
    ``read_only``: open the file read-only (beside other readers, such as a notebook), never
    create it, and refuse ``save`` and ``delete`` (``open_read_only``).
    """

    #: loading what ``save`` stored gives back an equal value (for the plain types of
    #: ``values.round_trips``), so a run may hand a stored value over in memory
    round_trips = True
    #: ``save`` runs ``ctx.audit`` on the new rows inside its transaction, before ``COMMIT``
    stages = True

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = 30.0,
        idle_close: float = 0.5,
        read_only: bool = False,
    ) -> None:
        self._warehouse = _Warehouse(
            Path(path), lock_timeout=lock_timeout, idle_close=idle_close, read_only=read_only
        )
        self._plans = _IngestPlans()
        # one writer at a time per partitioned table in this process: partitions of one asset
        # saved from several threads must not both find no table and both create it
        self._tables: dict[tuple[str, str], threading.Lock] = {}
        self._tables_lock = threading.Lock()
        #: the cursors lent to steps running a query inside the warehouse (``native``)
        self._lent: set[int] = set()

    # The settings live on the warehouse handle, which reads them at each use.

    @property
    def path(self) -> Path:
        """The database file."""
        return self._warehouse.path

    @path.setter
    def path(self, value: Path) -> None:
        self._warehouse.path = value

    @property
    def lock_timeout(self) -> float:
        """Seconds to wait for another process to release the file."""
        return self._warehouse.lock_timeout

    @lock_timeout.setter
    def lock_timeout(self, value: float) -> None:
        self._warehouse.lock_timeout = value

    @property
    def idle_close(self) -> float:
        """Seconds the file stays open after the last operation (0 closes at once)."""
        return self._warehouse.idle_close

    @idle_close.setter
    def idle_close(self, value: float) -> None:
        self._warehouse.idle_close = value

    @property
    def read_only(self) -> bool:
        """Whether the file is opened read-only (and ``save`` and ``delete`` refused)."""
        return self._warehouse.read_only

    def open_read_only(self) -> None:
        """Open the file read-only from now on (``assets_core.storage.io.open_read_only``: a
        session that never writes asks it); a handle open read-write is released first."""
        if not self._warehouse.read_only:
            self._warehouse.close()
            self._warehouse.read_only = True

    def _writable(self, key: AssetKey) -> None:
        if self._warehouse.read_only:
            raise IOManagerError(
                f"{key}: the duckdb IO manager of {self.path} was opened read-only (by a "
                "session that only plans and reads); open a session that writes to change it."
            )

    def __repr__(self) -> str:
        return f"DuckDBIOManager({str(self.path)!r})"

    def close(self) -> None:
        """Release the database file now (it is reopened on the next operation)."""
        self._warehouse.close()

    # ---- naming -----------------------------------------------------------------------------

    def location(
        self,
        key: AssetKey,
        partition: str | None = None,
        definition: PartitionsDefinition | None = None,
    ) -> str:
        """``<db path>::<schema>.<table>``, as recorded with a materialization, with
        ``[<partition>]`` after it for a partition (``definition`` is not needed here)."""
        schema, table = table_for(key)
        where = f"{self.path}::{schema}.{table}"
        return where if partition is None else f"{where}[{partition}]"

    def check_key(self, key: AssetKey) -> str | None:
        """Why ``key`` cannot be stored here (a schema name DuckDB reserves), or ``None``."""
        schema, table = table_for(key)
        return schema_problem(schema, table, self.path.stem)

    # ---- save -------------------------------------------------------------------------------

    def save(self, ctx: OutputContext, value: object) -> StoredOutput:
        """Replace the asset's table with ``value`` in one transaction; return its version."""
        import duckdb

        from assets_core.storage.values import kind_of, unstorable_message

        self._writable(ctx.key)
        kind = kind_of(value)
        if kind is None:
            raise IOManagerError(unstorable_message(str(ctx.key), "duckdb", value))
        schema, table = table_for(ctx.key)
        location = self.location(ctx.key, ctx.partition)
        dims = None if ctx.partition is None else dimensions(ctx.key, ctx.spec, ctx.partition)
        arrow = None if kind == "duckdb" else _as_arrow(value)
        if dims is not None and arrow is not None:
            assert ctx.partition is not None
            arrow = strip(ctx.key, ctx.partition, *dims, arrow)
        with self._warehouse.cursor() as cur:
            assert cur is not None
            attempt = 0
            while True:
                source: pa.Table | pa.RecordBatchReader
                if arrow is None:
                    source = value.to_arrow_reader(_BATCH_ROWS)  # type: ignore[attr-defined]
                    if dims is not None:
                        source = _stripped(ctx, dims, source)
                else:
                    source = arrow
                try:
                    self._warehouse.ensure_schema(cur, schema)
                    if dims is not None:
                        partitions.ensure_registry(cur, self._warehouse)
                    return self._write(cur, ctx, schema, table, location, source, dims)
                except _SourceFailed as failed:  # the value's own error (a relation's SQL)
                    if arrow is None:
                        raise _as_duckdb_error(failed.error) from failed.error
                    raise failed.error from None
                except duckdb.TransactionException as exc:
                    attempt += 1
                    if attempt > _CONFLICT_RETRIES:
                        raise IOManagerError(_write_failed(ctx.key, location, exc)) from exc
                    time.sleep(0.005 * attempt)
                except duckdb.Error as exc:
                    raise IOManagerError(_write_failed(ctx.key, location, exc)) from exc

    def _write(
        self,
        cur: duckdb.DuckDBPyConnection,
        ctx: OutputContext,
        schema: str,
        table: str,
        location: str,
        source: pa.Table | pa.RecordBatchReader,
        dims: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    ) -> StoredOutput:
        """Replace the table with ``source`` in one transaction, hashing what DuckDB ingests;
        with ``dims`` (a partition's dimension names and values), replace that partition's
        rows instead (``partitions.replace``).

        An Arrow table is registered as it is, so DuckDB scans its batches in parallel, while
        a second thread hashes the very same batches. A stream (a relation's reader) is
        wrapped in a generator that hands each batch to the hashing thread as DuckDB pulls it.
        The hash is complete before ``COMMIT``, which runs in ``ctx.publishing()`` (a step
        whose run is gone, or lost its lock, rolls back instead). Partitions of one table are
        written one at a time in this process.
        """
        if dims is None:
            return self._write_now(cur, ctx, schema, table, location, source, dims)
        with self._tables_lock:
            lock = self._tables.setdefault((schema, table), threading.Lock())
        with lock:
            return self._write_now(cur, ctx, schema, table, location, source, dims)

    def _write_now(
        self,
        cur: duckdb.DuckDBPyConnection,
        ctx: OutputContext,
        schema: str,
        table: str,
        location: str,
        source: pa.Table | pa.RecordBatchReader,
        dims: tuple[tuple[str, ...], tuple[str, ...]] | None,
    ) -> StoredOutput:
        import pyarrow as pa

        key = ctx.key
        catalog = self._check_owner(cur, key, schema, table)  # before BEGIN: a fresh snapshot
        had_table = dims is not None and catalog.holds(cur, schema, table, str(key))
        plan = self._plans.get(cur, source.schema)
        conv: duckdb.DuckDBPyConnection | None = None
        cast = plan.cast
        if not plan.exact:
            # Types DuckDB does not store as given (date64, time32, fixed-size binary,
            # durations, intervals...): let DuckDB convert them first and hash what it hands
            # back, which is what it stores.
            db = self._warehouse.db
            assert db is not None
            conv = db.cursor()
            if cast is not None:  # what DuckDB must not see as it is (see _ingest_schema)
                source = _cast(source, cast)
            conv.register("lumbung_raw", source)
            source = conv.sql("SELECT * FROM lumbung_raw").to_arrow_reader(_BATCH_ROWS)
            given = source.schema  # a new object at every read of the property
            utc = _utc_schema(given)
            cast = None if utc is given else utc
        out_schema = source.schema if cast is None else cast
        hasher = _BackgroundHasher(out_schema)
        failure: list[BaseException] = []
        ingest: pa.Table | pa.RecordBatchReader
        if isinstance(source, pa.Table):
            ingest = source if cast is None else source.cast(cast)
            hasher.put(ingest)
        else:
            stream = source

            def hashed() -> Iterator[pa.RecordBatch]:
                it = iter(stream)
                while True:
                    try:
                        batch = next(it)
                    except StopIteration:
                        return
                    except BaseException as exc:
                        failure.append(exc)
                        raise
                    if cast is not None:
                        batch = batch.cast(cast)
                    hasher.put(batch)
                    yield batch

            ingest = pa.RecordBatchReader.from_batches(out_schema, hashed())
        view = f"lumbung_src_{uuid.uuid4().hex}"
        qname = f"{quote_ident(schema)}.{quote_ident(table)}"
        try:
            cur.register(view, ingest)
            cur.execute("BEGIN TRANSACTION")
            try:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
                if dims is None:
                    cur.execute(
                        f"CREATE OR REPLACE TABLE {qname} AS SELECT * FROM {quote_ident(view)}"
                    )
                else:
                    assert ctx.partition is not None
                    partitions.replace(
                        cur, key, ctx.partition, qname, view, *dims, exists=had_table
                    )
                if dims is None or not had_table:
                    owner = quote_literal(_OWNER_PREFIX + str(key))
                    cur.execute(f"COMMENT ON TABLE {qname} IS {owner}")
                digest = hasher.finish()
                if ctx.audit is not None:  # write-audit-publish: the open transaction stages
                    rows = qname if dims is None else partitions.rows_of(qname, *dims)
                    ctx.audited(Staged(rows, digest, cur))
                with ctx.publishing():
                    cur.execute("COMMIT")
                columns = len(out_schema) + (0 if dims is None else len(dims[0]))
                fingerprint = table_fingerprint(hasher.rows, columns)
                # a partitioned table's own fingerprint is not its partition's
                whole = fingerprint if dims is None else table_fingerprint(None, columns)
                catalog.put(schema, table, str(key), whole)
            except BaseException as exc:
                _rollback(cur)
                if failure:
                    raise _SourceFailed(failure[0]) from exc
                raise
        finally:
            hasher.close()
            cur.unregister(view)
            if conv is not None:
                conv.close()
        return StoredOutput(
            location=location,
            data_version=digest,
            rows=hasher.rows,
            bytes=hasher.nbytes,
            schema=hasher.schema,
            memory=hasher.nbytes,
            fingerprint=fingerprint,
        )

    def _check_owner(
        self, cur: duckdb.DuckDBPyConnection, key: AssetKey, schema: str, table: str
    ) -> _Catalog:
        catalog = self._warehouse.catalog
        assert catalog is not None
        owner = catalog.owner(cur, schema, table)
        if owner is not None and owner != str(key):
            raise IOManagerError(
                f"{key}: table {schema}.{table} in {self.path} already holds asset {owner}; "
                "rename one of the two keys."
            )
        return catalog

    def _holds(self, cur: duckdb.DuckDBPyConnection, key: AssetKey) -> bool:
        """Whether the warehouse holds ``key``'s table (not another key's of the same name)."""
        catalog = self._warehouse.catalog
        assert catalog is not None
        schema, table = table_for(key)
        return catalog.holds(cur, schema, table, str(key))

    def set_aside_damaged(self) -> str | None:
        """When the warehouse file is damaged (``lumbung wipe --io duckdb``, with every asset
        of this manager wiped), move it and its write-ahead log aside, never deleting them:
        a line saying where they went; ``None`` when the file is absent or opens."""
        aside = self._warehouse.set_aside_if_damaged()
        return None if aside is None else _set_aside_note(self.path, aside)

    def save_query(
        self,
        ctx: OutputContext,
        build: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyRelation],
    ) -> StoredOutput:
        """Create the asset's table inside the warehouse from the relation ``build`` makes on a
        cursor lent on it (``native.save_query``): no value passes through Python."""
        from io_managers.duckdb.native import save_query

        return save_query(self, ctx, build)

    # ---- load / exists / delete ---------------------------------------------------------------

    def load(self, ctx: InputContext) -> object:
        """The asset's table as ``ctx.expected_type``; a relation is bound on ``ctx.duckdb``
        (through Arrow: see the module docstring)."""
        import duckdb

        from assets_core.storage.values import convert, target_of

        target = target_of(ctx.expected_type)
        schema, table = table_for(ctx.key)
        location = f"{self.path}::{schema}.{table}"
        missing = f"{ctx.key}: no stored output at {location}; materialize it first."
        qname = f"{quote_ident(schema)}.{quote_ident(table)}"
        definition = None
        if ctx.spec.partitions is not None or ctx.partitions is not None:
            definition = definition_of(ctx.key, ctx.spec, (ctx.partitions or ("",))[0])
        elif target == "duckdb" and self._lent and id(ctx.duckdb) in self._lent:
            return self._in_place(ctx, qname, missing)
        with self._warehouse.cursor(create=False) as cur:
            if cur is None or not self._holds(cur, ctx.key):
                if definition is not None and ctx.partitions:
                    first = ctx.partitions[0]
                    raise IOManagerError(not_stored(ctx.key, first, self.location(ctx.key, first)))
                raise IOManagerError(missing)
            try:
                if definition is None:
                    data = cur.sql(f"SELECT * FROM {qname}").to_arrow_table()
                else:
                    data = self._read_partitions(cur, ctx, definition, qname)
            except duckdb.CatalogException:
                raise IOManagerError(missing) from None
            except duckdb.Error as exc:
                if _is_damage(exc):  # a table's own blocks are read only now
                    raise IOManagerError(f"{ctx.key}: {damaged_message(self.path, exc)}") from exc
                raise IOManagerError(
                    f"{ctx.key}: could not read {location}: {_first_line(exc)}"
                ) from exc
        given = data.schema  # a new object at every read of the property
        utc = _utc_schema(given)
        if utc is not given:
            data = data.cast(utc)
        if target == "duckdb":
            return ctx.duckdb.from_arrow(data)
        if target == "arrow":
            return data
        return convert(data, ctx.expected_type)

    def _in_place(self, ctx: InputContext, qname: str, missing: str) -> object:
        """The table as a relation on the warehouse cursor lent to the consumer (``native``):
        read where it is, never copied."""
        con = ctx.duckdb
        with self._warehouse.cursor(create=False) as cur:
            if cur is None or not self._holds(cur, ctx.key):
                raise IOManagerError(missing)
            home = self._warehouse.home
        return con.sql(f"SELECT * FROM {quote_ident(home)}.{qname}")

    def _read_partitions(
        self,
        cur: duckdb.DuckDBPyConnection,
        ctx: InputContext,
        definition: PartitionsDefinition,
        qname: str,
    ) -> pa.Table:
        """The partitions ``ctx`` asks for (``None``: every stored one) as one Arrow table."""
        stored = partitions.registered(cur, [ctx.key])[str(ctx.key)]
        if ctx.partitions is None:
            keys = sort_keys(definition, stored)
            if not keys:
                where = self.location(ctx.key)
                raise IOManagerError(not_stored(ctx.key, None, where))
        else:
            keys = list(ctx.partitions)
            for k in keys:
                if k not in stored:
                    raise IOManagerError(not_stored(ctx.key, k, self.location(ctx.key, k)))
        wanted = [(k, dimension_values(definition, k)) for k in keys]
        return partitions.read(cur, qname, definition, wanted)

    def exists(self, ctx: OutputContext) -> bool:
        """Whether the asset's table exists (for a partition: and lists it). Never creates the
        file; at most one catalog query per opening of the file, then a dictionary lookup (a
        partition: one registry query)."""
        with self._warehouse.cursor(create=False) as cur:
            if cur is None or not self._holds(cur, ctx.key):
                return False
            if ctx.partition is None:
                return True
            return ctx.partition in partitions.registered(cur, [ctx.key])[str(ctx.key)]

    def fingerprints(
        self, asked: Mapping[AssetKey, Sequence[str | None]], specs: Mapping[AssetKey, AssetSpec]
    ) -> dict[AssetKey, dict[str | None, str]]:
        """Of each asset's partitions ``asked``, those stored, each with its table's
        fingerprint, ``<rows>x<columns>`` as DuckDB's catalog has them (read once when the
        file opens); for a partition, its own rows (``partitions.fingerprints``: one query per
        table). Never creates the file.

        Opened read-only, it never waits: while another process writes the file (a run, a
        notebook's read-write connection), it raises ``OutputsUnchecked`` at once, naming
        that process, and planning takes the tables as last recorded."""
        out: dict[AssetKey, dict[str | None, str]] = {}
        if not asked:
            return out
        by_key: dict[AssetKey, list[str]] = {}
        read_only = self._warehouse.read_only
        try:
            with self._warehouse.cursor(create=False, wait=0 if read_only else None) as cur:
                if cur is None:
                    return out
                catalog = self._warehouse.catalog
                assert catalog is not None
                for key, parts in asked.items():
                    for partition in parts:
                        if partition is not None:
                            by_key.setdefault(key, []).append(partition)
                            continue
                        schema, table = table_for(key)
                        fp = catalog.fingerprint(cur, schema, table, str(key))
                        if fp is not None:
                            out.setdefault(key, {})[None] = fp
                if not by_key:
                    return out
                stored = partitions.registered(cur, list(by_key))
                for key, wanted in by_key.items():
                    if not stored[str(key)] or not self._holds(cur, key):
                        continue
                    definition = definition_of(key, specs[key], wanted[0])
                    schema, table = table_for(key)
                    qname = f"{quote_ident(schema)}.{quote_ident(table)}"
                    found = partitions.fingerprints(
                        cur, qname, definition, stored[str(key)], wanted
                    )
                    held = {p: fp for p, fp in zip(wanted, found, strict=True) if fp is not None}
                    if held:
                        out.setdefault(key, {}).update(held)
        except WarehouseLocked as exc:
            if not read_only:
                raise
            raise OutputsUnchecked(unchecked_note(self.path, exc.holder)) from None
        return out

    def delete(self, ctx: OutputContext) -> None:
        """Drop the asset's table, if it holds one, in a transaction; for a partition,
        delete its rows and its registry entry instead."""
        self._writable(ctx.key)
        schema, table = table_for(ctx.key)
        qname = f"{quote_ident(schema)}.{quote_ident(table)}"
        with self._warehouse.cursor(create=False) as cur:
            if cur is None:
                return
            if ctx.partition is not None:
                self._delete_partition(cur, ctx, ctx.partition, qname)
                return
            if not self._holds(cur, ctx.key):
                return
            _retry_conflicts(lambda: _in_transaction(cur, f"DROP TABLE IF EXISTS {qname}"))
            catalog = self._warehouse.catalog
            assert catalog is not None
            catalog.drop(schema, table)
            if ctx.spec.partitions is not None:
                _retry_conflicts(lambda: partitions.forget(cur, ctx.key))

    def _delete_partition(
        self, cur: duckdb.DuckDBPyConnection, ctx: OutputContext, partition: str, qname: str
    ) -> None:
        if partition not in partitions.registered(cur, [ctx.key])[str(ctx.key)]:
            return
        names, values = dimensions(ctx.key, ctx.spec, partition)
        table = qname if self._holds(cur, ctx.key) else None

        def run() -> None:
            cur.execute("BEGIN TRANSACTION")
            try:
                partitions.remove(cur, ctx.key, partition, table, names, values)
                cur.execute("COMMIT")
            except BaseException:
                _rollback(cur)
                raise

        _retry_conflicts(run)


def _stripped(
    ctx: OutputContext, dims: tuple[tuple[str, ...], tuple[str, ...]], source: pa.RecordBatchReader
) -> pa.RecordBatchReader:
    """A relation's stream without its columns named like a dimension, each checked batch by
    batch (``storage.partitioned.strip``)."""
    import pyarrow as pa

    names, values = dims
    present = [n for n in names if n in source.schema.names]
    if not present:
        return source
    assert ctx.partition is not None
    partition = ctx.partition
    schema = source.schema
    for n in present:
        schema = schema.remove(schema.get_field_index(n))
    return pa.RecordBatchReader.from_batches(
        schema, (strip(ctx.key, partition, names, values, b) for b in source)
    )


def _cast(
    source: pa.Table | pa.RecordBatchReader, schema: pa.Schema
) -> pa.Table | pa.RecordBatchReader:
    """``source`` with ``schema``'s types: a table at once, a stream batch by batch."""
    import pyarrow as pa

    if isinstance(source, pa.Table):
        return source.cast(schema)
    return pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in source))


def _set_aside_note(path: Path, aside: Path) -> str:
    return f"{path} was damaged: moved it to {aside}; the next materialize writes a new warehouse."


def from_storage(storage: Path) -> DuckDBIOManager:
    """The manager for a project's storage folder: ``<storage>/warehouse.duckdb``."""
    return DuckDBIOManager(Path(storage) / "warehouse.duckdb")
