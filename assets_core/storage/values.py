"""Value kinds and the conversions between them: pandas, Arrow, DuckDB relations, polars.

An asset returns one of these kinds, and each consuming parameter's annotation names the kind it
wants. ``target_of`` reads an annotation, ``kind_of`` tells a value's kind without importing
anything new, and ``convert`` moves a value from one kind to another. Where the data needs a
common form, it goes through Arrow (``to_arrow``). pandas, pyarrow, duckdb and polars are
imported lazily, so importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assets_core.errors import IOManagerError
from assets_core.model.annotations import INPUTS, Kind, input_kind

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


__all__ = [
    "Kind",
    "column_names",
    "convert",
    "kind_of",
    "memory_size",
    "round_trips",
    "target_of",
    "to_arrow",
    "unstorable_message",
]


def target_of(annotation: object) -> Kind:
    """The value kind a parameter annotation asks for; no annotation means pandas
    (``assets_core.model.annotations``). Anything else raises ``IOManagerError``; the caller
    adds the asset and parameter name in front of the message."""
    kind = input_kind(annotation)
    if kind is None:
        raise IOManagerError(f"unsupported annotation {annotation!r}; annotate inputs as {INPUTS}")
    return kind


def kind_of(value: object) -> Kind | None:
    """The kind of a value, or ``None`` when Lumbung cannot store it. Imports nothing."""
    t = type(value)
    module = t.__module__
    top = module.split(".", 1)[0]
    name = t.__name__
    if top == "pandas":
        return "pandas" if name == "DataFrame" else None
    if top == "pyarrow":
        return "arrow" if name in ("Table", "RecordBatch") else None
    if top in ("duckdb", "_duckdb"):
        return "duckdb" if name == "DuckDBPyRelation" else None
    if top == "polars":
        return "polars" if name == "DataFrame" else None
    # subclasses (rare): check against the real classes of already imported libraries
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        return "pandas"
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(value, pa.Table | pa.RecordBatch):
        return "arrow"
    return None


def to_arrow(value: object) -> pa.Table:
    """Any supported value as a ``pyarrow.Table``.

    For pandas, an index whose names are all ``None`` (a positional index) is dropped. A
    named index is kept as columns with pandas metadata, so it round-trips. A frame Arrow
    refuses raises ``ConversionError`` naming the column at fault and the fix.
    """
    import pyarrow as pa

    kind = kind_of(value)
    v: Any = value
    if kind == "arrow":
        return pa.Table.from_batches([v]) if isinstance(v, pa.RecordBatch) else v
    if kind == "pandas":
        columns = plain_columns(v)
        if columns is not None:
            return _plain_to_arrow(v, columns)
        keep = any(n is not None for n in v.index.names)
        try:
            return pa.Table.from_pandas(v, preserve_index=keep)
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            from assets_core.storage.unstorable import pandas_problem

            raise pandas_problem(v, exc) from exc
    if kind == "duckdb":
        return v.to_arrow_table()
    if kind == "polars":
        return v.to_arrow()
    raise IOManagerError(
        f"cannot convert a value of type {_qualname(value)} to a pyarrow.Table; "
        "use a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
    )


def convert(
    value: object, annotation: object, con: duckdb.DuckDBPyConnection | None = None
) -> object:
    """``value`` as the kind ``annotation`` asks for (see ``target_of``).

    A relation target needs ``con``, the consumer's connection, and nothing is registered on
    it. DuckDB does not tell which connection a relation belongs to, so a relation given
    together with ``con`` is always re-bound on ``con`` through Arrow (a copy). Callers that
    know the relation is already on ``con`` should not call ``convert`` at all. Without
    ``con``, a relation is returned unchanged.
    """
    target = target_of(annotation)
    kind = kind_of(value)
    if kind is None:
        raise IOManagerError(
            f"cannot convert a value of type {_qualname(value)}; "
            "use a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
        )
    if target == kind:
        if target == "arrow":
            return to_arrow(value)  # a RecordBatch becomes a Table
        if target != "duckdb" or con is None:
            return value
    if target == "pandas":
        return to_arrow(value).to_pandas()
    if target == "arrow":
        return to_arrow(value)
    if target == "duckdb":
        if con is None:
            raise IOManagerError(
                "a duckdb.DuckDBPyRelation input needs the asset's DuckDB connection; "
                "pass con= (context.duckdb)."
            )
        return con.from_arrow(to_arrow(value))
    import polars as pl

    return pl.from_arrow(to_arrow(value))


def _qualname(value: object) -> str:
    t = type(value)
    if t.__module__ == "builtins":
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"


def unstorable_message(asset: str, manager: str, value: object) -> str:
    """The one-line error for a value an IO manager cannot store."""
    if value is None:
        return (
            f"{asset} returned None; return the asset's data "
            "(a pandas.DataFrame, pyarrow.Table or duckdb relation)."
        )
    return (
        f"{asset}: the {manager} IO manager cannot store a value of type {_qualname(value)}; "
        "return a pandas.DataFrame, pyarrow.Table or duckdb.DuckDBPyRelation."
    )


# ---- handing values over in memory ---------------------------------------------------------
# A run hands a value it has just stored to the assets that read it, instead of reading it back,
# when reading it back would give an equal value of the same kind. These types come back from
# Parquet and DuckDB exactly as they went in; anything else is read back.

_PANDAS_SAFE_NAMES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "float32",
    "float64",
    "datetime64[ns]",
    "datetime64[us]",
)
_pandas_safe: frozenset[object] | None = None  # the dtype objects, made on first use


def _pandas_dtypes(pd: Any) -> frozenset[object] | None:
    """The pandas dtypes that come back from Parquet and DuckDB as they went in (numpy
    numbers, booleans, naive timestamps, and pandas' default string dtype); ``None`` when
    pandas runs without copy-on-write, under which a shared frame is not safe to hand over."""
    global _pandas_safe
    if _pandas_safe is None:
        import numpy as np

        major = int(pd.__version__.split(".", 1)[0])
        if major < 3 and pd.options.mode.copy_on_write is not True:
            return None
        found: set[object] = {np.dtype(name) for name in _PANDAS_SAFE_NAMES}
        found.add(pd.DataFrame({"s": ["x"]}).dtypes.iloc[0])  # the default string dtype
        _pandas_safe = frozenset(found)
    return _pandas_safe


def _arrow_safe(t: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_boolean(t)
        or (pa.types.is_integer(t) and t != pa.uint64())
        or pa.types.is_float32(t)
        or pa.types.is_float64(t)
        or pa.types.is_string(t)
        or pa.types.is_date32(t)
        or (pa.types.is_timestamp(t) and t.tz is None and t.unit in ("us", "ns"))
    )


def round_trips(value: object) -> bool:
    """Whether storing ``value`` in Parquet or DuckDB and reading it back as its own kind gives
    an equal value: a pandas frame with a default ``RangeIndex``, string column names and
    columns of plain types (numbers, booleans, naive timestamps, strings), or an Arrow table of
    such types without schema metadata. pandas frames count only under copy-on-write (pandas 3,
    or the option set), so a consumer that changes its input never changes another's."""
    kind = kind_of(value)
    v: Any = value
    if kind == "arrow":
        return (
            type(v).__name__ == "Table"
            and not v.schema.metadata
            and all(_arrow_safe(f.type) for f in v.schema)
        )
    return kind == "pandas" and plain_columns(v) is not None


def plain_columns(df: Any) -> list[str] | None:
    """The column names of a plain pandas frame, else ``None``. Plain: a default
    ``RangeIndex``, no ``attrs``, unique string column names and columns of the types of
    ``round_trips``, under copy-on-write."""
    import pandas as pd

    safe = _pandas_dtypes(pd)
    index = df.index
    if (
        safe is not None
        and type(index) is pd.RangeIndex
        and index.start == 0
        and index.step == 1
        and not index.name
        and not df.attrs
    ):
        # a set tells duplicates without building the index's hash table, which costs more
        # than the whole check
        names = column_names(df)
        # each block's dtype (every column is in one block): ``DataFrame.dtypes`` makes a
        # Series of them, and the manager's ``get_dtypes`` maps them to the columns through an
        # index it builds on first use, which cost most of this check
        if (
            all(type(n) is str for n in names)
            and len(set(names)) == len(names)
            and all(b.dtype in safe for b in df._mgr.blocks)
        ):
            return names
    return None


#: the Arrow schema (with pandas' metadata) of each shape of plain frame converted so far:
#: (column names, their dtypes, the column index's dtype and name) -> schema
_plain_schemas: dict[tuple[object, ...], pa.Schema] = {}
_PLAIN_SCHEMAS_MAX = 4096


def _plain_to_arrow(df: Any, names: list[str]) -> pa.Table:
    """A plain frame (``plain_columns``) as the table ``Table.from_pandas`` makes of it,
    without its per-call cost (about a hundred microseconds, most of a small frame's
    conversion). The schema, pandas' metadata included, is what ``from_pandas`` makes of the
    frame's first zero rows: for these types it depends on the names and dtypes alone, never
    on the data. Each column is converted as ``from_pandas`` converts it (NaN and NaT are
    nulls)."""
    import pyarrow as pa

    # each column's own array, from its block: ``column_arrays`` makes strings numpy objects,
    # and ``iget_values`` first maps every column to its block (more than the rest costs)
    arrays: list[Any] = [None] * len(names)
    for block in df._mgr.blocks:
        values = block.values
        if values.ndim == 1:  # an extension array (strings): one column
            arrays[block.mgr_locs.as_array[0]] = values
        else:
            for row, at in enumerate(block.mgr_locs):
                arrays[at] = values[row]
    columns = df.columns
    key = (tuple(names), tuple([a.dtype for a in arrays]), columns.dtype, columns.name)
    schema = _plain_schemas.get(key)
    if schema is None:
        schema = pa.Table.from_pandas(df.iloc[:0], preserve_index=False).schema
        if len(_plain_schemas) >= _PLAIN_SCHEMAS_MAX:
            _plain_schemas.clear()
        _plain_schemas[key] = schema
    types = schema.types
    return pa.Table.from_arrays(
        [pa.array(a, type=t, from_pandas=True) for a, t in zip(arrays, types, strict=True)],
        schema=schema,
    )


def column_names(df: Any) -> list[Any]:
    """A pandas frame's column names as one list, read from the index's array at once (its
    Arrow array or numpy array) rather than one by one."""
    data = df.columns._data
    pa_array = getattr(data, "_pa_array", None)
    if pa_array is not None:
        return list(pa_array.to_pylist())
    if type(data).__name__ == "ndarray":
        return list(data.tolist())
    return list(df.columns)


def memory_size(value: object) -> int:
    """About how many bytes ``value`` holds in memory (its buffers, not Python objects). For
    Arrow, its buffers whole, as a slice keeps them alive (``nbytes`` counts only the part
    referenced, at three times the cost)."""
    kind = kind_of(value)
    v: Any = value
    if kind == "arrow":
        return int(v.get_total_buffer_size())
    if kind == "pandas":
        return int(v.memory_usage(index=False, deep=False).sum())
    if kind == "polars":
        return int(v.estimated_size())
    return 0
