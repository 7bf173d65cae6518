"""Loading a partitioned source: the files of the partitions a consumer reads, as one value.

A partitioned source's path is a template with one file (or glob) per partition key
(``assets_core.partitions.template``). A consumer reading partitions ``keys`` gets what every
IO manager gives for a partitioned asset (``storage.partitioned``): one value of the kind it
asks for, a text column per dimension first (``partitions.columns``), then the data,
partitions in key order and each partition's rows in file order.

- **CSV** files are read together, in one DuckDB ``read_csv`` over the list of files
  (``union_by_name``, the source's ``CsvOptions``), so the column types are inferred once over
  every file read: a relation consumer and a pandas or Arrow consumer see the same types. The
  rule: a column typed in ``CsvOptions(types=...)`` has that type whatever is read; any other
  column's type is inferred over the files read together, so one day may read as ``BIGINT``
  where a month whose other days hold text reads as ``VARCHAR``. Each row's file
  (``read_csv``'s ``filename``) becomes its dimension values through a ``MAP`` literal, a
  projection that keeps the scan's order.
- **Parquet** and **JSON lines**: a relation consumer gets DuckDB's reader over the files in
  place (with the same ``MAP``); other consumers get each partition read by pyarrow (as an
  unpartitioned source is) with its dimension columns added, then concatenated.

Every partition read must have the same column names (in any order; a CSV file's header line,
a Parquet file's footer): a partition with other columns is refused in one line naming both
files, the difference and the fix. (JSON lines rows carry their own names; they are combined
by name.) Types that differ between partitions are combined (CSV: by DuckDB's inference over
all files; Parquet and JSON: Arrow's permissive promotion); types that cannot be combined are
refused. A partition whose file is missing, or that cannot be read, is named in its error
(``events[2024-01-05]: ...``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from assets_core.errors import IOManagerError, ProjectError, first_line
from assets_core.model.keys import StepKey
from assets_core.model.spec import SourceAsset, SourceFormat
from assets_core.partitions.columns import dimension_names, dimension_values, sort_keys
from assets_core.partitions.space import PartitionsDefinition

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["FILE_COLUMN", "load_partitioned_source", "partition_parts"]

#: the column the DuckDB readers name each row's file in (dropped from what a consumer sees)
FILE_COLUMN = "lumbung:file"

#: where DuckDB names the file a CSV error happened in
_ERROR_FILE = re.compile(r'(?:^\s*file = (.+?)\s*$|sniffing file "(.+?)")', re.MULTILINE)


def partition_parts(
    src: SourceAsset, root: Path, keys: Sequence[str] | None
) -> list[tuple[str, list[str]]]:
    """The partitions ``keys`` of ``src`` in key order (``None``: every partition that exists
    now, see ``partitions.now``, whose file is there), each with its files. A partition
    asked for whose file is not there is an ``IOManagerError`` naming it, the path and the
    fix; so is a file that two partitions' templates both match."""
    from assets_core.storage.sources import partition_source, source_files

    definition = _definition(src)
    explicit = keys is not None
    if keys is None:
        from assets_core.partitions.now import resolve_now
        from assets_core.partitions.space import KeySpace

        keys = KeySpace(resolve_now()).keys(definition)
    parts: list[tuple[str, list[str]]] = []
    owner: dict[str, str] = {}
    for key in sort_keys(definition, dict.fromkeys(keys)):
        one = partition_source(src, key)
        try:
            files = [str(f) for f in source_files(one, root)]
        except ProjectError:
            if not explicit:
                continue
            assert one.path is not None
            what = f"no file matches {one.path}" if one.is_glob else f"{one.path} does not exist"
            raise IOManagerError(
                f"{StepKey(src.key, key)}: {what} (looked in {root}); create it, or fix the "
                "source's path= template."
            ) from None
        for f in files:
            other = owner.setdefault(f, key)
            if other != key:
                raise IOManagerError(
                    f"source {src.key}: {f} matches the path of partitions {other} and {key}; "
                    f"make the template {src.path!r} tell them apart."
                )
        parts.append((key, files))
    return parts


def _definition(src: SourceAsset) -> PartitionsDefinition:
    definition = src.spec.partitions
    assert definition is not None, f"source {src.key} is not partitioned"
    return definition


def load_partitioned_source(
    src: SourceAsset,
    root: Path,
    annotation: object,
    con_provider: Callable[[], duckdb.DuckDBPyConnection],
    keys: Sequence[str] | None,
) -> object:
    """The partitions ``keys`` of ``src`` (``None``: every existing one) as ``annotation``
    asks for, by the rules of this module's docstring. A relation is bound on
    ``con_provider()``, the consumer's connection."""
    from assets_core.storage.sources import source_format
    from assets_core.storage.values import convert, target_of

    fmt = source_format(src)
    parts = partition_parts(src, root, keys)
    target = target_of(annotation)
    if target == "duckdb":
        return _relation(src, fmt, parts, con_provider())
    if fmt == "csv":
        from assets_core.storage.csv_read import csv_frame

        table = _csv_table(src, parts)
        return csv_frame(table) if target == "pandas" else convert(table, annotation)
    return convert(_arrow_table(src, fmt, parts), annotation)


def _dimension_sql(src: SourceAsset, parts: Sequence[tuple[str, list[str]]]) -> str:
    """The dimension columns, each a ``MAP`` from a row's file to its value there."""
    from assets_core.storage.csv_read import literal

    definition = _definition(src)
    columns = []
    values = [(f, dimension_values(definition, key)) for key, files in parts for f in files]
    for i, name in enumerate(dimension_names(definition)):
        pairs = ", ".join(f"{literal(f)}: {literal(v[i])}" for f, v in values)
        columns.append(f"MAP {{{pairs}}}[{_ident(FILE_COLUMN)}] AS {_ident(name)}")
    return ", ".join(columns)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _empty(src: SourceAsset) -> str:
    names = dimension_names(_definition(src))
    return "SELECT " + ", ".join(f"NULL::VARCHAR AS {_ident(n)}" for n in names) + " LIMIT 0"


def _csv_select(
    src: SourceAsset, parts: Sequence[tuple[str, list[str]]], con: duckdb.DuckDBPyConnection
) -> duckdb.DuckDBPyRelation:
    """The CSV files of ``parts`` as one lazy relation with the dimension columns first."""
    import duckdb

    from assets_core.storage.csv_read import read_csv_sql

    files = [f for _, fs in parts for f in fs]
    if not files:
        return con.sql(_empty(src))
    _check_csv_headers(src, parts)
    try:
        inner = con.sql(read_csv_sql(src.csv, files, FILE_COLUMN))
    except duckdb.Error as exc:
        raise _csv_error(src, parts, exc, con) from exc
    _check_clash(src, inner.columns)
    return inner.project(f"{_dimension_sql(src, parts)}, * EXCLUDE ({_ident(FILE_COLUMN)})")


def _csv_table(src: SourceAsset, parts: Sequence[tuple[str, list[str]]]) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")  # a long read prints nothing
        rel = _csv_select(src, parts, con)
        try:
            return rel.to_arrow_table()
        except duckdb.Error as exc:
            raise _csv_error(src, parts, exc, con) from exc
    finally:
        con.close()


def _csv_error(
    src: SourceAsset,
    parts: Sequence[tuple[str, list[str]]],
    exc: BaseException,
    con: duckdb.DuckDBPyConnection,
) -> IOManagerError:
    """``csv_read.read_error`` naming the partition whose file DuckDB names, if it does."""
    from assets_core.storage.csv_read import read_error

    files = [f for _, fs in parts for f in fs]
    m = _ERROR_FILE.search(str(exc))
    failed = (m.group(1) or m.group(2)) if m is not None else None
    for key, fs in parts:
        if failed in fs:
            return read_error(src, [failed], exc, con, str(StepKey(src.key, key)), failed)
    return read_error(src, files, exc, con)


def _check_csv_headers(src: SourceAsset, parts: Sequence[tuple[str, list[str]]]) -> None:
    """Every file's header names the same columns (in any order), when files have headers."""
    options = src.csv
    if options is not None and (not options.header or options.names is not None):
        return
    delimiter = options.delimiter if options is not None else ","
    first: tuple[str, str, list[str]] | None = None
    for key, files in parts:
        for f in files:
            try:
                with open(f, encoding="utf-8-sig", newline="") as fh:
                    names = next(csv.reader(fh, delimiter=delimiter, quotechar='"'), [])
            except (OSError, UnicodeDecodeError, csv.Error):
                continue  # the reader itself says what is wrong with the file
            if first is None:
                first = (key, f, names)
            elif set(names) != set(first[2]):
                _refuse_columns(src, first[:2], (key, f), first[2], names)


def _refuse_columns(
    src: SourceAsset,
    first: tuple[str, str],
    other: tuple[str, str],
    before: Sequence[str],
    now: Sequence[str],
) -> None:
    from assets_core.storage.partitioned import schema_difference

    difference = schema_difference([(n, "") for n in before], [(n, "") for n in now])
    raise IOManagerError(
        f"{StepKey(src.key, other[0])}: {_shown(other[1])} has other columns than "
        f"{_shown(first[1])} of partition {first[0]} ({difference}); make the columns of "
        "the source's files agree."
    )


def _shown(file: str) -> str:
    return PurePath(file).as_posix()


def _check_clash(src: SourceAsset, columns: Sequence[str]) -> None:
    """No column of the files is named like a dimension column."""
    names = dimension_names(_definition(src))
    clash = [n for n in names if n in columns]
    if clash:
        raise IOManagerError(
            f"source {src.key}: its files have a column {clash[0]!r}, the name of its "
            f"partition dimension column; rename the column in the files"
            + (
                ", or the dimension in multi(...)."
                if clash[0] != "partition"
                else " (or with csv=CsvOptions(names=...))."
            )
        )


def _relation(
    src: SourceAsset,
    fmt: SourceFormat,
    parts: Sequence[tuple[str, list[str]]],
    con: duckdb.DuckDBPyConnection,
) -> duckdb.DuckDBPyRelation:
    """The files of ``parts`` scanned in place on ``con``, dimension columns first."""
    import duckdb

    if fmt == "csv":
        return _csv_select(src, parts, con)
    files = [f for _, fs in parts for f in fs]
    if not files:
        return con.sql(_empty(src))
    from assets_core.storage.csv_read import literal

    if fmt == "parquet":
        _check_schemas(src, [(k, f, _footer(src, k, f)) for k, fs in parts for f in fs])
        reader = "read_parquet"
        extra = ""
    else:
        reader = "read_json"
        extra = ", format = 'newline_delimited'"
    sql = (
        f"SELECT * FROM {reader}({literal(files)}, union_by_name = true, "
        f"filename = {literal(FILE_COLUMN)}{extra})"
    )
    try:
        inner = con.sql(sql)
    except duckdb.Error as exc:
        raise IOManagerError(
            f"source {src.key}: cannot read the files of {len(parts)} partition(s) as {fmt} "
            f"({first_line(exc)}); fix the files, or pass format= if they are not {fmt}."
        ) from exc
    _check_clash(src, inner.columns)
    return inner.project(f"{_dimension_sql(src, parts)}, * EXCLUDE ({_ident(FILE_COLUMN)})")


def _footer(src: SourceAsset, key: str, file: str) -> pa.Schema:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from assets_core.storage.sources import looks_like_parquet

    try:
        if not looks_like_parquet(file):
            raise OSError("truncated or not Parquet")
        return pq.read_schema(file)
    except (pa.ArrowException, OSError) as exc:
        raise IOManagerError(
            f"{StepKey(src.key, key)}: cannot read {_shown(file)} as parquet "
            f"({first_line(exc)}); fix the file, or pass format= if it is not parquet."
        ) from exc


def _check_schemas(src: SourceAsset, schemas: Sequence[tuple[str, str, pa.Schema]]) -> None:
    """The schemas (partition, file, schema) have the same column names, and types that
    combine (Arrow's permissive promotion); else the one-line refusal naming both."""
    import pyarrow as pa

    if not schemas:
        return
    key0, file0, schema0 = schemas[0]
    unified = schema0
    for key, file, schema in schemas[1:]:
        if set(schema.names) != set(schema0.names):
            _refuse_columns(src, (key0, file0), (key, file), schema0.names, schema.names)
        try:
            unified = pa.unify_schemas([unified, schema], promote_options="permissive")
        except (pa.ArrowException, TypeError) as exc:
            raise IOManagerError(
                f"{StepKey(src.key, key)}: {_shown(file)} has columns whose types do not "
                f"combine with those of partition {key0} and before ({first_line(exc)}); "
                "make the columns of the source's files agree."
            ) from exc


def _arrow_table(
    src: SourceAsset, fmt: SourceFormat, parts: Sequence[tuple[str, list[str]]]
) -> pa.Table:
    """The Parquet or JSON files of ``parts`` read by pyarrow, dimension columns first."""
    import pyarrow as pa

    from assets_core.storage.partitioned import with_dimensions
    from assets_core.storage.sources import read_arrow

    definition = _definition(src)
    names = dimension_names(definition)
    tables: list[tuple[str, str, pa.Table]] = []
    for key, files in parts:
        table = read_arrow(src, files, fmt, str(StepKey(src.key, key)))
        tables.append((key, files[0], table))
    if not tables:
        return pa.table({n: pa.array([], pa.string()) for n in names})
    if fmt == "parquet":
        _check_schemas(src, [(k, f, t.schema) for k, f, t in tables])
    _check_clash(src, [c for _, _, t in tables for c in t.column_names])
    order = list(dict.fromkeys(c for _, _, t in tables for c in t.column_names))
    full = []
    for key, _, table in tables:
        # the first partition's column order, a column a JSON partition lacks as nulls
        missing = [c for c in order if c not in table.column_names]
        for c in missing:
            table = table.append_column(c, pa.nulls(table.num_rows))
        table = table.select(order)
        full.append(with_dimensions(table, names, dimension_values(definition, key)))
    try:
        return pa.concat_tables(full, promote_options="permissive")
    except pa.ArrowException as exc:
        raise IOManagerError(
            f"source {src.key}: the files of its partitions do not share one schema "
            f"({first_line(exc)}); make the columns of the source's files agree."
        ) from exc
