"""``DuckDBIOManager``: one table per asset in a DuckDB database file (the warehouse).

Naming
    Key ``a/b/c`` is table ``c`` in schema ``a__b``; a root-level key ``c`` is ``main.c``.
    Identifiers are always quoted (``quote_ident``), although the key rule already keeps them
    harmless. DuckDB matches identifiers without regard to case, and ``a__b/c`` names the same
    table as ``a/b/c``. So every table carries its key in its comment (``lumbung:<key>``). A
    save into a table owned by another key is refused, and that table does not count as the
    other key's output (``exists``, ``load``, ``delete``). Collisions are never silent. The
    owners are read with one catalog query when the file is opened (``_Catalog``).

Writes
    The value reaches DuckDB as Arrow. A pandas or polars frame is converted once
    (``values.to_arrow``) and registered as a table, which DuckDB scans in parallel while a
    second thread hashes the same batches (``datahash.TableHasher``). A DuckDB relation is
    streamed through its own Arrow record batch reader, never through pandas. A generator
    between the reader and DuckDB hands each batch to the hashing thread as DuckDB pulls it.
    The data version therefore covers exactly the rows DuckDB ingested, and it is complete
    before the commit.

    Reading a table back gives the same data version. DuckDB labels zoned timestamps with its
    session zone, which varies by machine, so zoned timestamps are relabelled UTC both ways
    (the instants are unchanged). A few Arrow types are not stored as given: date64, time32,
    fixed-size binary, durations and intervals. For those, DuckDB converts the rows first,
    and its output is hashed and stored.

    The table is replaced inside one transaction (``BEGIN; CREATE SCHEMA IF NOT EXISTS;
    CREATE OR REPLACE TABLE ... AS SELECT ...; COMMENT ON TABLE; COMMIT``). Any error rolls it
    back. A crash leaves the last committed table, which DuckDB's write-ahead log keeps
    intact. A schema change is an ordinary replace.

Concurrency
    One DuckDB database instance per manager. Every operation uses its own cursor (a
    connection to that instance), so the threads executor can save many assets at once.
    Schemas are created under a lock, because two transactions creating the same schema
    conflict. Any other transaction conflict is retried. DuckDB lets one process at a time
    open a file read-write. When another process holds the file, opening waits with backoff
    (``lock_timeout``, default 30 s) and then raises a one-line ``IOManagerError``. The file
    is released ``idle_close`` seconds after the last operation finishes, and at once by
    ``close()``, so other tools and a second run can open it between runs. Managers in
    several processes (the processes executor) take turns. A manager waiting for the file
    touches ``<file>.wait``, and a manager that sees a fresh touch releases the file as soon
    as none of its operations is running.
    ``exists``, ``load`` and ``delete`` never create the file.

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

import atexit
import contextlib
import os
import queue
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from assets_core.errors import IOManagerError
from assets_core.model.keys import AssetKey
from assets_core.storage.io import InputContext, OutputContext, StoredOutput

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["DuckDBIOManager", "from_storage", "quote_ident", "quote_literal", "table_for"]

_BATCH_ROWS = 1 << 17  # rows per record batch streamed into DuckDB
_CONFLICT_RETRIES = 8
_WAIT_FRESH = 2.0  # seconds a touch of the wait file counts as a process still waiting
_OWNER_PREFIX = "lumbung:"
_OPEN: weakref.WeakSet[DuckDBIOManager] = weakref.WeakSet()  # closed at interpreter exit


_reaper_lock = threading.Lock()
_reaper: threading.Thread | None = None
_REAP_EVERY = 0.1  # seconds between checks for idle managers


@atexit.register
def _close_all() -> None:
    with _reaper_lock:
        managers = list(_OPEN)
    for manager in managers:
        manager.close()


def _track(manager: DuckDBIOManager) -> None:
    """Note an open manager, and start the thread that closes idle files unless it runs."""
    global _reaper
    with _reaper_lock:
        _OPEN.add(manager)
        if _reaper is None or not _reaper.is_alive():  # not alive: inherited through fork
            _reaper = threading.Thread(target=_reap, name="lumbung-duckdb-idle", daemon=True)
            _reaper.start()


def _reap() -> None:
    """Close managers' files once idle; stop when none is open (``_track`` restarts it)."""
    global _reaper
    while True:
        time.sleep(_REAP_EVERY)
        with _reaper_lock:
            managers = list(_OPEN)
        now = time.monotonic()
        still_open = [m for m in managers if m._close_if_idle(now)]  # checks every one
        if still_open:
            continue
        with _reaper_lock:  # a manager opened meanwhile sets _db before calling _track
            if not any(m._db is not None for m in _OPEN):
                _reaper = None
                return


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier: in double quotes, embedded quotes doubled."""
    if "\x00" in name:
        raise ValueError(f"identifier {name!r} contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a SQL string literal: in single quotes, embedded quotes doubled."""
    if "\x00" in text:
        raise ValueError(f"literal {text!r} contains a NUL character")
    return "'" + text.replace("'", "''") + "'"


def table_for(key: AssetKey) -> tuple[str, str]:
    """``(schema, table)`` for a key: ``a/b/c`` -> ``("a__b", "c")``, ``c`` -> ``("main", "c")``."""
    path = key.path
    return ("__".join(path[:-1]) if len(path) > 1 else "main"), path[-1]


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


class DuckDBIOManager:
    """Stores each asset as a table in the DuckDB database file ``path``.

    ``lock_timeout``: seconds to wait for another process to release the file.
    ``idle_close``: seconds the file stays open after the last operation (0 closes at once).
    """

    def __init__(self, path: Path, *, lock_timeout: float = 30.0, idle_close: float = 0.5) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.idle_close = idle_close
        self._lock = threading.Lock()  # guards the fields below
        self._schema_lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._pid = 0
        self._users = 0
        self._idle_since = 0.0
        self._schemas: set[str] = set()
        self._catalog: _Catalog | None = None
        self._plans: dict[pa.Schema, _Plan] = {}
        self._wait_file = self.path.with_name(self.path.name + ".wait")

    def __repr__(self) -> str:
        return f"DuckDBIOManager({str(self.path)!r})"

    # ---- the database handle --------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        waited = False
        while True:
            try:
                db = duckdb.connect(str(self.path))
                if waited:
                    with contextlib.suppress(OSError):
                        self._wait_file.unlink()
                return db
            except duckdb.IOException as exc:
                if not _is_lock_error(exc):
                    raise IOManagerError(
                        f"{self.path}: cannot open the DuckDB warehouse ({exc}); "
                        "check the file, or use another storage folder."
                    ) from exc
                left = deadline - time.monotonic()
                if left <= 0:
                    if waited:
                        with contextlib.suppress(OSError):
                            self._wait_file.unlink()
                    raise IOManagerError(
                        f"{self.path} is locked by another process; wait for it to finish, "
                        "or use another storage folder."
                    ) from None
                waited = True
                self._signal_waiting()
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.5)

    def _signal_waiting(self) -> None:
        """Tell the process holding the file that we wait: touch ``<file>.wait``."""
        with contextlib.suppress(OSError):
            self._wait_file.touch()

    def _someone_waits(self) -> bool:
        """Whether another process touched the wait file lately (one ``stat``)."""
        try:
            touched = self._wait_file.stat().st_mtime
        except OSError:
            return False
        return time.time() - touched < _WAIT_FRESH

    @contextmanager
    def _cursor(self, create: bool = True) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A cursor on the warehouse for one operation; ``None`` if the file does not exist
        and ``create`` is false."""
        with self._lock:
            if self._db is not None and self._pid != os.getpid():
                self._db = None  # inherited through fork: never use or close the parent's
                self._catalog = None
                self._users = 0
                self._schemas.clear()
            cur = None
            if self._db is None and (create or self.path.exists()):
                self._db = self._open()
                self._pid = os.getpid()
                self._catalog = _Catalog.acquire(self.path)
                _track(self)
            if self._db is not None:
                cur = self._db.cursor()
                self._users += 1
        if cur is None:
            yield None
            return
        try:
            yield cur
        finally:
            cur.close()
            self._release()

    def _release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._db is None:
                return
            if self.idle_close <= 0 or self._someone_waits():
                self._close_locked()
            else:
                self._idle_since = time.monotonic()  # the reaper closes it when idle long

    def _close_if_idle(self, now: float) -> bool:
        """Close the file if no operation has run for ``idle_close``, or at once when idle and
        another process waits for it; whether it is open."""
        with self._lock:
            if self._db is None:
                return False
            if self._users == 0 and (
                now - self._idle_since >= self.idle_close or self._someone_waits()
            ):
                self._close_locked()
                return False
            return True

    def _close_locked(self) -> None:
        db, self._db = self._db, None
        self._schemas.clear()
        if self._catalog is not None:
            self._catalog.release()
            self._catalog = None
        if db is not None and self._pid == os.getpid():
            db.close()

    def close(self) -> None:
        """Release the database file now (it is reopened on the next operation)."""
        with self._lock:
            self._close_locked()

    # ---- naming -----------------------------------------------------------------------------

    def location(self, key: AssetKey) -> str:
        """``<db path>::<schema>.<table>``, as recorded with a materialization."""
        schema, table = table_for(key)
        return f"{self.path}::{schema}.{table}"

    @staticmethod
    def _unpartitioned(ctx: OutputContext | InputContext) -> None:
        if ctx.partition is not None:
            raise IOManagerError(
                f"{ctx.key}: the duckdb IO manager does not store partitions yet; "
                "use io_manager='parquet' for partitioned assets."
            )

    # ---- save -------------------------------------------------------------------------------

    def save(self, ctx: OutputContext, value: object) -> StoredOutput:
        """Replace the asset's table with ``value`` in one transaction; return its version."""
        import duckdb

        from assets_core.storage.values import kind_of, unstorable_message

        self._unpartitioned(ctx)
        kind = kind_of(value)
        if kind is None:
            raise IOManagerError(unstorable_message(str(ctx.key), "duckdb", value))
        schema, table = table_for(ctx.key)
        location = f"{self.path}::{schema}.{table}"
        arrow = None if kind == "duckdb" else _as_arrow(value)
        with self._cursor() as cur:
            assert cur is not None
            attempt = 0
            while True:
                source: pa.Table | pa.RecordBatchReader
                if arrow is None:
                    source = value.to_arrow_reader(_BATCH_ROWS)  # type: ignore[attr-defined]
                else:
                    source = arrow
                try:
                    self._ensure_schema(cur, schema)
                    return self._write(cur, ctx.key, schema, table, location, source)
                except _SourceFailed as failed:  # the value's own error (a relation's SQL)
                    if arrow is None:
                        raise _as_duckdb_error(failed.error) from failed.error
                    raise failed.error from None
                except duckdb.TransactionException as exc:
                    attempt += 1
                    if attempt > _CONFLICT_RETRIES:
                        raise IOManagerError(
                            f"{ctx.key}: could not write {location}: {_first_line(exc)}"
                        ) from exc
                    time.sleep(0.005 * attempt)
                except duckdb.Error as exc:
                    raise IOManagerError(
                        f"{ctx.key}: could not write {location}: {_first_line(exc)}"
                    ) from exc

    def _ensure_schema(self, cur: duckdb.DuckDBPyConnection, schema: str) -> None:
        """Create the schema in its own transaction, once per open database, under a lock:
        two transactions creating one schema conflict."""
        if schema in self._schemas:
            return
        with self._schema_lock:
            if schema not in self._schemas:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
                self._schemas.add(schema)

    def _ingest_plan(self, cur: duckdb.DuckDBPyConnection, schema: pa.Schema) -> _Plan:
        """How to ingest rows of ``schema`` so that reading them back hashes the same."""
        key = schema.remove_metadata() if schema.metadata else schema
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        import pyarrow as pa

        from assets_core.storage.datahash import canonical_schema

        utc = _utc_schema(key)
        empty = pa.Table.from_batches([], utc)
        probe = _utc_schema(cur.from_arrow(empty).to_arrow_table().schema)
        exact = canonical_schema(probe) == canonical_schema(utc) and not any(
            _has_interval(f.type) for f in utc
        )
        plan = _Plan(None if utc.equals(key) else utc, exact)
        with self._lock:
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _write(
        self,
        cur: duckdb.DuckDBPyConnection,
        key: AssetKey,
        schema: str,
        table: str,
        location: str,
        source: pa.Table | pa.RecordBatchReader,
    ) -> StoredOutput:
        """Replace the table with ``source`` in one transaction, hashing what DuckDB ingests.

        An Arrow table is registered as it is, so DuckDB scans its batches in parallel, while
        a second thread hashes the very same batches. A stream (a relation's reader) is
        wrapped in a generator that hands each batch to the hashing thread as DuckDB pulls it.
        The hash is complete before ``COMMIT``.
        """
        import pyarrow as pa

        catalog = self._check_owner(cur, key, schema, table)  # before BEGIN: a fresh snapshot
        plan = self._ingest_plan(cur, source.schema)
        conv: duckdb.DuckDBPyConnection | None = None
        cast = plan.cast
        if not plan.exact:
            # Types DuckDB does not store as given (date64, time32, fixed-size binary,
            # durations, intervals...): let DuckDB convert them first and hash what it hands
            # back, which is what it stores.
            assert self._db is not None
            conv = self._db.cursor()
            conv.register("lumbung_raw", source)
            source = conv.sql("SELECT * FROM lumbung_raw").to_arrow_reader(_BATCH_ROWS)
            utc = _utc_schema(source.schema)
            cast = None if utc is source.schema else utc
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
                cur.execute(f"CREATE OR REPLACE TABLE {qname} AS SELECT * FROM {quote_ident(view)}")
                owner = quote_literal(_OWNER_PREFIX + str(key))
                cur.execute(f"COMMENT ON TABLE {qname} IS {owner}")
                digest = hasher.finish()
                cur.execute("COMMIT")
                catalog.put(schema, table, str(key))
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
        )

    def _check_owner(
        self, cur: duckdb.DuckDBPyConnection, key: AssetKey, schema: str, table: str
    ) -> _Catalog:
        catalog = self._catalog
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
        catalog = self._catalog
        assert catalog is not None
        schema, table = table_for(key)
        return catalog.holds(cur, schema, table, str(key))

    # ---- load / exists / delete ---------------------------------------------------------------

    def load(self, ctx: InputContext) -> object:
        """The asset's table as ``ctx.expected_type``; a relation is bound on ``ctx.duckdb``
        (through Arrow: see the module docstring)."""
        import duckdb

        from assets_core.storage.values import convert, target_of

        self._unpartitioned(ctx)
        target = target_of(ctx.expected_type)
        schema, table = table_for(ctx.key)
        location = f"{self.path}::{schema}.{table}"
        missing = f"{ctx.key}: no stored output at {location}; materialize it first."
        qname = f"{quote_ident(schema)}.{quote_ident(table)}"
        with self._cursor(create=False) as cur:
            if cur is None or not self._holds(cur, ctx.key):
                raise IOManagerError(missing)
            try:
                data = cur.sql(f"SELECT * FROM {qname}").to_arrow_table()
            except duckdb.CatalogException:
                raise IOManagerError(missing) from None
            except duckdb.Error as exc:
                raise IOManagerError(
                    f"{ctx.key}: could not read {location}: {_first_line(exc)}"
                ) from exc
        utc = _utc_schema(data.schema)
        if utc is not data.schema:
            data = data.cast(utc)
        if target == "duckdb":
            return ctx.duckdb.from_arrow(data)
        if target == "arrow":
            return data
        return convert(data, ctx.expected_type)

    def exists(self, ctx: OutputContext) -> bool:
        """Whether the asset's table exists. Never creates the file; at most one catalog
        query per opening of the file, then a dictionary lookup."""
        if ctx.partition is not None:
            return False
        with self._cursor(create=False) as cur:
            return cur is not None and self._holds(cur, ctx.key)

    def delete(self, ctx: OutputContext) -> None:
        """Drop the asset's table, if it holds one, in a transaction."""
        self._unpartitioned(ctx)
        schema, table = table_for(ctx.key)
        with self._cursor(create=False) as cur:
            if cur is None or not self._holds(cur, ctx.key):
                return
            _retry_conflicts(
                lambda: _in_transaction(
                    cur, f"DROP TABLE IF EXISTS {quote_ident(schema)}.{quote_ident(table)}"
                )
            )
            assert self._catalog is not None
            self._catalog.drop(schema, table)


class _Catalog:
    """The tables of one warehouse file, for every manager of it in this process.

    While any manager here has the file open, no other process can write it. So one scan of
    ``duckdb_tables()`` is enough, and the saves and deletes keep the result up to date after
    that. Keys are lower-cased ``(schema, table)``, because DuckDB matches names without
    regard to case. Values are the stored names and the owning key, or ``None`` for a table
    that no Lumbung manager wrote.
    """

    __slots__ = ("key", "lock", "pid", "tables", "users")
    _all: ClassVar[dict[str, _Catalog]] = {}
    _all_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.tables: dict[tuple[str, str], tuple[str, str, str | None]] | None = None
        self.users = 0

    @classmethod
    def acquire(cls, path: Path) -> _Catalog:
        """The catalog of ``path``, shared with the other open managers of it."""
        key = os.path.realpath(path)
        with cls._all_lock:
            catalog = cls._all.get(key)
            if catalog is None or catalog.pid != os.getpid():
                catalog = cls._all[key] = _Catalog(key)
            catalog.users += 1
            return catalog

    def release(self) -> None:
        """One manager closed the file; forget the catalog when none has it open."""
        with self._all_lock:
            self.users -= 1
            if self.users <= 0 and self._all.get(self.key) is self:
                del self._all[self.key]

    def _load(
        self, cur: duckdb.DuckDBPyConnection
    ) -> dict[tuple[str, str], tuple[str, str, str | None]]:
        if self.tables is None:
            rows = cur.execute(
                "SELECT schema_name, table_name, comment FROM duckdb_tables() "
                "WHERE database_name = current_database()"
            ).fetchall()
            tables = {}
            for schema, table, comment in rows:
                owner = None
                if isinstance(comment, str) and comment.startswith(_OWNER_PREFIX):
                    owner = comment[len(_OWNER_PREFIX) :]
                tables[(schema.lower(), table.lower())] = (schema, table, owner)
            self.tables = tables
        return self.tables

    def owner(self, cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> str | None:
        """The key owning the table DuckDB resolves ``schema.table`` to, if any."""
        with self.lock:
            entry = self._load(cur).get((schema.lower(), table.lower()))
        return None if entry is None else entry[2]

    def holds(self, cur: duckdb.DuckDBPyConnection, schema: str, table: str, key: str) -> bool:
        """Whether ``schema.table`` is ``key``'s table (or, unowned, has exactly that name)."""
        with self.lock:
            entry = self._load(cur).get((schema.lower(), table.lower()))
        if entry is None:
            return False
        return entry[2] == key or (entry[2] is None and entry[:2] == (schema, table))

    def put(self, schema: str, table: str, key: str) -> None:
        with self.lock:
            if self.tables is not None:
                self.tables[(schema.lower(), table.lower())] = (schema, table, key)

    def drop(self, schema: str, table: str) -> None:
        with self.lock:
            if self.tables is not None:
                self.tables.pop((schema.lower(), table.lower()), None)


class _BackgroundHasher:
    """A ``TableHasher`` fed on its own thread, in order, from a bounded queue."""

    def __init__(self, schema: pa.Schema) -> None:
        from assets_core.storage.datahash import TableHasher

        self._hasher = TableHasher(schema)
        self._queue: queue.Queue[pa.Table | pa.RecordBatch | None] = queue.Queue(maxsize=16)
        self._error: BaseException | None = None
        self._done = False
        self.nbytes = 0
        self._thread = threading.Thread(target=self._run, name="lumbung-duckdb-hash", daemon=True)
        self._thread.start()

    @property
    def rows(self) -> int:
        return self._hasher.rows

    @property
    def schema(self) -> tuple[tuple[str, str], ...]:
        return self._hasher.schema

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:  # after an error keep draining, so producers never block
                try:
                    self._hasher.update(item)
                    self.nbytes += item.nbytes
                except BaseException as exc:
                    self._error = exc

    def put(self, data: pa.Table | pa.RecordBatch) -> None:
        """Hash ``data`` after everything put before it."""
        self._queue.put(data)

    def close(self) -> None:
        """Stop the thread (idempotent)."""
        if not self._done:
            self._done = True
            self._queue.put(None)
            self._thread.join()

    def finish(self) -> str:
        """Wait for everything put so far and return the digest."""
        self.close()
        if self._error is not None:
            raise self._error
        return self._hasher.hexdigest()


class _SourceFailed(Exception):
    """The value failed while being streamed (for example a relation's SQL raised)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to ingest one Arrow schema: cast to ``cast`` (if any) batch by batch, and whether
    DuckDB gives those rows back with the same canonical types and values (``exact``)."""

    cast: pa.Schema | None
    exact: bool


def _utc_type(t: pa.DataType) -> pa.DataType:
    """``t`` with every zoned timestamp in it labelled UTC (the same instants). DuckDB keeps
    instants, not zones, and labels them with its session zone, which varies by machine."""
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return pa.timestamp(t.unit, "UTC") if t.tz is not None and t.tz != "UTC" else t
    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        new = [f.with_type(_utc_type(f.type)) for f in fields]
        return (
            t if all(a.type == b.type for a, b in zip(fields, new, strict=True)) else pa.struct(new)
        )
    if pa.types.is_map(t):
        key, item = _utc_type(t.key_type), _utc_type(t.item_type)
        if key == t.key_type and item == t.item_type:
            return t
        return pa.map_(t.key_field.with_type(key), t.item_field.with_type(item))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        inner = _utc_type(t.value_type)
        if inner == t.value_type:
            return t
        field = t.value_field.with_type(inner)
        if pa.types.is_large_list(t):
            return pa.large_list(field)
        if pa.types.is_fixed_size_list(t):
            return pa.list_(field, t.list_size)
        return pa.list_(field)
    return t


def _utc_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with ``_utc_type`` applied to every field (itself when nothing changes)."""
    fields = list(schema)
    new = [f.with_type(_utc_type(f.type)) for f in fields]
    if all(a.type == b.type for a, b in zip(fields, new, strict=True)):
        return schema
    import pyarrow as pa

    return pa.schema(new, metadata=schema.metadata)


def _has_interval(t: pa.DataType) -> bool:
    """Whether ``t`` holds durations or intervals (DuckDB stores both at microseconds)."""
    import pyarrow as pa

    if pa.types.is_duration(t) or pa.types.is_interval(t):
        return True
    return any(_has_interval(t.field(i).type) for i in range(t.num_fields))


def _as_duckdb_error(exc: BaseException) -> BaseException:
    """A relation's error as DuckDB raises it: pyarrow's stream reader hands DuckDB errors on
    as ``OSError("Invalid Input Error: ...")``; give back ``duckdb.InvalidInputException``."""
    import duckdb

    if isinstance(exc, duckdb.Error) or not isinstance(exc, OSError):
        return exc
    text = str(exc)
    head = text.split(":", 1)[0]
    if not head.endswith(" Error"):
        return exc
    name = head[: -len(" Error")].title().replace(" ", "") + "Exception"
    cls = getattr(duckdb, name, None)
    if not (isinstance(cls, type) and issubclass(cls, duckdb.Error)):
        cls = duckdb.Error
    return cls(text)


def _as_arrow(value: object) -> pa.Table:
    from assets_core.storage.values import kind_of, to_arrow

    if kind_of(value) == "polars":
        return value.to_arrow()  # type: ignore[attr-defined]
    return to_arrow(value)


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    # No transaction may be left to roll back (DuckDB aborted it already).
    with contextlib.suppress(Exception):
        cur.execute("ROLLBACK")


def _in_transaction(cur: duckdb.DuckDBPyConnection, sql: str) -> None:
    cur.execute("BEGIN TRANSACTION")
    try:
        cur.execute(sql)
        cur.execute("COMMIT")
    except BaseException:
        _rollback(cur)
        raise


def _retry_conflicts(fn: Callable[[], Any]) -> Any:
    import duckdb

    for attempt in range(_CONFLICT_RETRIES):
        try:
            return fn()
        except duckdb.TransactionException:
            time.sleep(0.005 * (attempt + 1))
    return fn()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def from_storage(storage: Path) -> DuckDBIOManager:
    """The manager for a project's storage folder: ``<storage>/warehouse.duckdb``."""
    return DuckDBIOManager(Path(storage) / "warehouse.duckdb")
