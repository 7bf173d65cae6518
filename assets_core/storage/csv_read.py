"""Reading CSV sources: one reader, DuckDB's ``read_csv``, for every consumer.

A CSV file carries no types, so whoever reads it infers them, and two readers infer
differently: Arrow's reader took ``NA`` for a missing number while DuckDB's took the column
for text, so a pandas consumer and a relation consumer of one file got different columns.
Here one reader, given the source's ``CsvOptions``, reads the file for every kind. The dialect
is never guessed (delimiter, header and quoting come from the options); only column types
are inferred, and the same bytes with the same options always infer the same types:

- a ``duckdb.DuckDBPyRelation`` consumer gets the ``read_csv`` relation itself, bound on its
  own connection: still a lazy scan of the files in place, so SQL over a large file reads
  only what it needs;
- pandas, Arrow and polars consumers get that same relation fetched as Arrow (on a
  connection of their own, closed after the read), so their column types are the relation's
  types as Arrow spells them (``BIGINT`` is ``int64``, ``DATE`` is ``date32``).

The other way round, Arrow's reader for all, would have copied every file into memory before
a relation consumer could filter a single row. The price is paid by the other kinds: DuckDB
hands a whole file over as Arrow more slowly than Arrow's reader reads it (mostly copying
text columns out). For a pandas consumer of a 1e6-row, 63 MB file of seven columns, a whole
process took 1.22x as long as with Arrow's reader before, and 1.49x ``pyarrow.csv.read_csv``
plus ``to_pandas`` alone (medians of 15 interleaved runs, 2 CPUs).

pandas holds an integer or boolean column with missing values in its nullable dtypes
(``Int64``, ``boolean``) rather than as floats or objects, so it keeps the column's type when
stored again. Options other than the defaults count in the source's version
(``options_tag``): a changed delimiter or type makes every consumer stale, as changed bytes
would.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assets_core.errors import IOManagerError
from assets_core.model.csv_options import CsvOptions
from assets_core.model.spec import SourceAsset

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "csv_frame",
    "csv_relation",
    "csv_table",
    "literal",
    "options_tag",
    "read_csv_sql",
    "read_error",
    "tag_reader",
]

#: Bumped when the same options would read a file differently, so consumers read it again.
READER = "csv1"
#: The reader whose default options add nothing to a version (see ``options_tag``).
FIRST_READER = "csv1"

#: DuckDB's name for each of ``COLUMN_TYPES``.
_DUCKDB_TYPES: dict[str, str] = {
    "bool": "BOOLEAN",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINTEGER",
    "uint64": "UBIGINT",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "string": "VARCHAR",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
}
_OUR_TYPES = {v: k for k, v in _DUCKDB_TYPES.items()}
_DEFAULT = CsvOptions()


def options_tag(options: CsvOptions | None) -> str:
    """How a CSV source is read, for its version: ``READER``, a dot, and a short hash of the
    options (``csv1.0123456789abcdef``); empty for the first reader with default options.

    Versions recorded before reader options existed are the bare file hash. A source read
    with the defaults keeps it, so upgrading rebuilds nothing (as with any upstream that is
    not written again); its consumers read it with this reader the next time they run.
    """
    text = _options_text(options or _DEFAULT)
    if READER == FIRST_READER and text == _DEFAULT_TEXT:
        return ""
    return f"{READER}.{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def tag_reader(tag: str) -> str:
    """The reader named in a tag from ``options_tag`` (an empty tag is the first reader's)."""
    return tag.partition(".")[0] if tag else FIRST_READER


def _options_text(o: CsvOptions) -> str:
    return json.dumps(
        {
            "delimiter": o.delimiter,
            "header": o.header,
            "names": list(o.names) if o.names is not None else None,
            "null_values": sorted(set(o.null_values)),
            "types": sorted(o.types.items()),
            "date_format": o.date_format,
            "timestamp_format": o.timestamp_format,
        },
        sort_keys=True,
    )


_DEFAULT_TEXT = _options_text(_DEFAULT)


def read_csv_sql(
    options: CsvOptions | None, files: Sequence[str], file_column: str | None = None
) -> str:
    """The ``read_csv`` query for ``options``. Everything that shapes the result is given, so
    nothing about the dialect is left to sniffing; only the column types are inferred (over
    all of ``files`` together). ``file_column`` adds a last column of that name holding each
    row's file, as given in ``files`` (a partitioned source maps it to its partition)."""
    o = options or _DEFAULT
    args: dict[str, object] = {
        "delim": o.delimiter,
        "header": o.header,
        "quote": '"',
        "escape": '"',
        "nullstr": list(o.null_values),
    }
    if o.names is not None:
        args["names"] = list(o.names)
    if o.types:
        args["types"] = {c: _DUCKDB_TYPES[t] for c, t in o.types.items()}
    if o.date_format is not None:
        args["dateformat"] = o.date_format
    if o.timestamp_format is not None:
        args["timestampformat"] = o.timestamp_format
    if len(files) > 1:
        args["union_by_name"] = True  # a glob's files may order (or lack) columns differently
    if file_column is not None:
        args["filename"] = file_column
    named = "".join(f", {name} = {literal(value)}" for name, value in args.items())
    return f"select * from read_csv({literal(list(files))}{named})"


def literal(value: object) -> str:
    """``value`` as a DuckDB literal: strings quoted (``'`` doubled), lists, structs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"


def csv_relation(
    src: SourceAsset,
    files: Sequence[str],
    con: duckdb.DuckDBPyConnection,
    file_column: str | None = None,
) -> duckdb.DuckDBPyRelation:
    """The source's files as a lazy ``read_csv`` relation on ``con`` (``file_column``: see
    ``read_csv_sql``)."""
    import duckdb

    try:
        return con.sql(read_csv_sql(src.csv, files, file_column))
    except duckdb.Error as exc:
        raise read_error(src, files, exc, con) from exc


def csv_table(src: SourceAsset, files: Sequence[str]) -> pa.Table:
    """The source's files read into a ``pyarrow.Table`` (through ``csv_relation``)."""
    import duckdb

    con = duckdb.connect()
    try:
        rel = csv_relation(src, files, con)
        try:
            return rel.to_arrow_table()
        except duckdb.Error as exc:
            raise read_error(src, files, exc, con) from exc
    finally:
        con.close()


def csv_frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas, where an integer or boolean column with missing values takes
    pandas' nullable dtype (``Int64``, ``boolean``) instead of becoming floats or objects."""
    import pyarrow as pa

    frame = table.to_pandas()
    nullable: dict[pa.DataType, Any] | None = None
    for field, column in zip(table.schema, table.columns, strict=True):
        t = field.type
        if column.null_count and (pa.types.is_integer(t) or pa.types.is_boolean(t)):
            nullable = nullable or _nullable_dtypes()
            frame[field.name] = column.to_pandas(types_mapper=nullable.get)
    return frame


def _nullable_dtypes() -> dict[pa.DataType, Any]:
    import pandas as pd
    import pyarrow as pa

    return {
        pa.bool_(): pd.BooleanDtype(),
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
    }


_CONVERT = re.compile(
    r'Line: (\d+).*?converting column "([^"]+)"\. Could not convert string "(.*?)" to \'(\w+)\'',
    re.DOTALL,
)
_MISSING_TYPED = re.compile(r"COLUMN_TYPES error: Columns with names: (.+?) do not exist")


def read_error(
    src: SourceAsset,
    files: Sequence[str],
    exc: BaseException,
    con: duckdb.DuckDBPyConnection,
    who: str | None = None,
    where: str | None = None,
) -> IOManagerError:
    """What went wrong reading the source, in one line with the fix: ``who`` (default
    ``source <key>``) cannot read ``where`` (default: the one file, or the files matching
    the source's path)."""
    if where is None:
        where = files[0] if len(files) == 1 else f"the files matching {src.path!r}"
    if who is None:
        who = f"source {src.key}"
    text = str(exc)
    m = _CONVERT.search(text)
    if m is not None:
        line, column, value, typ = m.groups()
        ours = _OUR_TYPES.get(typ, typ)
        head = f"{who}: cannot read {where} as CSV: line {line}, column {column!r}"
        if src.csv is not None and column in src.csv.types:
            return IOManagerError(
                f"{head} holds {value!r}, which is not {ours} (its type in csv=); fix the "
                "file, or the column's type in CsvOptions(types=...)."
            )
        return IOManagerError(
            f"{head} holds {value!r}, which is not {ours} like the rows before it; give the "
            f"column its type with csv=CsvOptions(types={{{column!r}: 'string'}}) (or the type "
            "it should have), or fix the file."
        )
    m = _MISSING_TYPED.search(text)
    if m is not None:
        missing = m.group(1).replace('"', "'")
        return IOManagerError(
            f"{who}: CsvOptions(types=...) names column {missing}, which "
            f"{where} does not have{_columns_hint(src, files, con)}; fix the column name."
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return IOManagerError(
        f"{who}: cannot read {where} as CSV ({first}); fix the file, or say how "
        "to read it with csv=CsvOptions(delimiter=..., header=..., types=...)."
    )


def _columns_hint(src: SourceAsset, files: Sequence[str], con: duckdb.DuckDBPyConnection) -> str:
    """`` (its columns: a, b)``, the columns read without ``types``, or nothing."""
    import dataclasses

    import duckdb

    if src.csv is None:
        return ""
    untyped = dataclasses.replace(src.csv, types={})
    try:
        rel = con.sql(read_csv_sql(untyped, files))
    except duckdb.Error:
        return ""
    return f" (its columns: {', '.join(rel.columns)})"
