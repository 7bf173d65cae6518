"""How rows reach DuckDB so that reading a table back gives the data version of its save.

DuckDB labels zoned timestamps with its session zone, which varies by machine, so zoned
timestamps are relabelled UTC both ways (``_utc_schema``; the instants are unchanged). A few
Arrow types are not stored as given: date64, time32, fixed-size binary, durations and
intervals. For those, DuckDB converts the rows first, and its output is hashed and stored.
``_IngestPlans`` works out once per Arrow schema which of these applies (a ``_Plan``), and
``_BackgroundHasher`` hashes the batches on a second thread while DuckDB ingests them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

_BATCH_ROWS = 1 << 17  # rows per record batch streamed into DuckDB


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to ingest one Arrow schema: cast to ``cast`` (if any: ``_ingest_schema``) batch by
    batch, and whether DuckDB gives those rows back with the same canonical types and values
    (``exact``)."""

    cast: pa.Schema | None
    exact: bool


class _IngestPlans:
    """The ingest plan of each Arrow schema seen, computed once (at most 256 are kept)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: dict[pa.Schema, _Plan] = {}

    def get(self, cur: duckdb.DuckDBPyConnection, schema: pa.Schema) -> _Plan:
        """How to ingest rows of ``schema`` so that reading them back hashes the same."""
        key = schema.remove_metadata() if schema.metadata else schema
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        import pyarrow as pa

        from assets_core.storage.datahash import canonical_schema

        utc = _ingest_schema(key)
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


def _utc_leaf(t: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if pa.types.is_timestamp(t) and t.tz is not None and t.tz != "UTC":
        return pa.timestamp(t.unit, "UTC")
    return t


def _ingest_leaf(t: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    if pa.types.is_duration(t) and t.unit in ("s", "ms"):
        return pa.duration("us")
    return _utc_leaf(t)


def _map_type(t: pa.DataType, leaf: Callable[[pa.DataType], pa.DataType]) -> pa.DataType:
    """``t`` with ``leaf`` applied to every type in it that holds no other (itself when
    nothing changes)."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        new = [f.with_type(_map_type(f.type, leaf)) for f in fields]
        return (
            t if all(a.type == b.type for a, b in zip(fields, new, strict=True)) else pa.struct(new)
        )
    if pa.types.is_map(t):
        key, item = _map_type(t.key_type, leaf), _map_type(t.item_type, leaf)
        if key == t.key_type and item == t.item_type:
            return t
        return pa.map_(t.key_field.with_type(key), t.item_field.with_type(item))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        inner = _map_type(t.value_type, leaf)
        if inner == t.value_type:
            return t
        field = t.value_field.with_type(inner)
        if pa.types.is_large_list(t):
            return pa.large_list(field)
        if pa.types.is_fixed_size_list(t):
            return pa.list_(field, t.list_size)
        return pa.list_(field)
    return leaf(t)


def _map_schema(schema: pa.Schema, leaf: Callable[[pa.DataType], pa.DataType]) -> pa.Schema:
    """``schema`` with ``_map_type`` applied to every field (itself when nothing changes)."""
    fields = list(schema)
    new = [f.with_type(_map_type(f.type, leaf)) for f in fields]
    if all(a.type == b.type for a, b in zip(fields, new, strict=True)):
        return schema
    import pyarrow as pa

    return pa.schema(new, metadata=schema.metadata)


def _utc_type(t: pa.DataType) -> pa.DataType:
    """``t`` with every zoned timestamp in it labelled UTC (the same instants). DuckDB keeps
    instants, not zones, and labels them with its session zone, which varies by machine."""
    return _map_type(t, _utc_leaf)


def _utc_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with ``_utc_type`` applied to every field (itself when nothing changes)."""
    return _map_schema(schema, _utc_leaf)


def _ingest_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as it is handed to DuckDB: ``_utc_schema``, and durations in seconds or
    milliseconds in microseconds. DuckDB converts a duration to an interval value by value,
    also where the value is null, and a pandas ``NaT`` leaves the smallest int64 under the
    null, which overflows in that conversion ("Could not convert Interval to Microsecond", a
    DuckDB bug); Arrow's cast writes zero under nulls, and seconds and milliseconds become
    microseconds exactly. DuckDB stores durations at microseconds, so nothing else changes."""
    return _map_schema(schema, _ingest_leaf)


def _has_interval(t: pa.DataType) -> bool:
    """Whether ``t`` holds durations or intervals (DuckDB stores both at microseconds)."""
    import pyarrow as pa

    if pa.types.is_duration(t) or pa.types.is_interval(t):
        return True
    return any(_has_interval(t.field(i).type) for i in range(t.num_fields))


#: below this many bytes a lone batch is hashed on the caller's thread (in about 0.2 ms at most):
#: a thread started and joined for it costs about 1 ms of wall time and 0.3 ms of CPU
_INLINE_BYTES = 1 << 22


class _BackgroundHasher:
    """A ``TableHasher`` fed in order on a thread of its own, from a bounded queue, so a batch
    is hashed while DuckDB hands over (or ingests) the next. A first batch under
    ``_INLINE_BYTES`` waits for a second before the thread starts: alone (a query's result of a
    few rows, the most common write), it is hashed on the caller's thread by ``finish``."""

    def __init__(self, schema: pa.Schema) -> None:
        from assets_core.storage.datahash import TableHasher

        self._hasher = TableHasher(schema)
        self._queue: queue.Queue[pa.Table | pa.RecordBatch | None] = queue.Queue(maxsize=16)
        self._error: BaseException | None = None
        self._done = False
        self._waiting: pa.Table | pa.RecordBatch | None = None  # the small first batch
        self._thread: threading.Thread | None = None
        self.nbytes = 0

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
                self._update(item)

    def _update(self, data: pa.Table | pa.RecordBatch) -> None:
        try:
            self._hasher.update(data)
            self.nbytes += data.nbytes
        except BaseException as exc:
            self._error = exc

    def put(self, data: pa.Table | pa.RecordBatch) -> None:
        """Hash ``data`` after everything put before it."""
        if self._thread is None:
            if self._waiting is None and data.nbytes < _INLINE_BYTES:
                self._waiting = data
                return
            self._thread = threading.Thread(
                target=self._run, name="lumbung-duckdb-hash", daemon=True
            )
            self._thread.start()
            if self._waiting is not None:
                self._queue.put(self._waiting)
                self._waiting = None
        self._queue.put(data)

    def close(self) -> None:
        """Stop the thread, if one started (idempotent)."""
        if not self._done:
            self._done = True
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()

    def finish(self) -> str:
        """Wait for everything put so far and return the digest."""
        self.close()
        if self._waiting is not None:  # a lone small batch: hashed here
            self._update(self._waiting)
            self._waiting = None
        if self._error is not None:
            raise self._error
        return self._hasher.hexdigest()


class _SourceFailed(Exception):
    """The value failed while being streamed (for example a relation's SQL raised)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _as_arrow(value: object) -> pa.Table:
    from assets_core.storage.values import kind_of, to_arrow

    if kind_of(value) == "polars":
        return value.to_arrow()  # type: ignore[attr-defined]
    return to_arrow(value)
