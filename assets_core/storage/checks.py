"""Running data checks where the data is stored (DESIGN §13).

A check reads its asset's output through SQL on a DuckDB connection: ``source`` is SQL that
reads the rows (``read_parquet('<file>')`` scanned in place, a warehouse table, or a view of
an in-memory value registered through Arrow). A built-in is one query that counts the failing
rows, and a second only when some fail, for a sample of up to ``SAMPLE`` of them. A custom
check gets the rows as its parameter's annotation asks. A check that cannot run (a column
that is not there, an ``expect`` whose SQL is wrong, a custom check that raises) fails, with
what went wrong as its message.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assets_core.errors import LumbungError, describe_exception
from assets_core.model.checks import CheckResult, CheckSpec, CustomCheck
from assets_core.model.keys import AssetKey
from assets_core.storage.values import target_of, to_arrow

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import pyarrow as pa

__all__ = ["SAMPLE", "CheckOutcome", "all_distinct", "run_builtin", "run_custom"]

SAMPLE = 20  # failing rows kept with a result

#: the rows of another asset a relationships check compares with, as Arrow
Reference = Callable[[AssetKey], "pa.Table"]


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One check's result on one output (picklable: it crosses process boundaries).

    ``failing``: how many rows fail (``None`` for a check of the whole output, like
    ``row_count``); ``sample``: up to ``SAMPLE`` of them, values as JSON values; ``message``:
    what was found, in a line (``None`` when it passed); ``metadata``: a custom check's own."""

    name: str
    severity: str
    passed: bool
    failing: int | None = None
    sample: tuple[Mapping[str, Any], ...] = ()
    message: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: the check's own code version, and the data version of the output it checked
    code_version: str = ""
    data_version: str | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == "error"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def json_value(value: object) -> Any:
    """A value of a sampled row as JSON can hold it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    """The first row of ``sql``, the result read to its end (a connection with an unfinished
    result refuses other work)."""
    rows = con.execute(sql).fetchall()
    return rows[0] if rows else None


def _sample(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Mapping[str, Any], ...]:
    cur = con.execute(f"{sql} LIMIT {SAMPLE}")
    names = [d[0] for d in cur.description or ()]
    return tuple(
        {n: json_value(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()
    )


def _rows_failing(
    con: duckdb.DuckDBPyConnection, spec: CheckSpec, sql: str, what: str
) -> CheckOutcome:
    """The check whose failing rows ``sql`` selects."""
    row = _one(con, f"SELECT count(*) FROM ({sql})")
    count = int(row[0]) if row else 0
    if count == 0:
        return CheckOutcome(spec.name, spec.severity, True, 0)
    sample = _sample(con, sql)
    return CheckOutcome(spec.name, spec.severity, False, count, sample, f"{count} {what}")


def _increasing(con: duckdb.DuckDBPyConnection, source: str, cols: list[str]) -> bool:
    """Whether the rows, as the scan reads them, hold ``cols`` strictly increasing (no nulls):
    then no two are equal, whatever the order. One streaming pass, several times cheaper than
    the hash table of every value that proving uniqueness takes otherwise, and the usual case
    of a key (an id counted up, a timestamp). The first ``_PROBE`` rows are looked at first,
    so a column in no order costs next to nothing here."""
    k = cols[0] if len(cols) == 1 else f"row({', '.join(cols)})"
    for rows in (f"(SELECT * FROM {source} LIMIT {_PROBE})", source):
        row = _one(
            con,
            f"SELECT count(*) FILTER (WHERE p IS NOT NULL AND NOT coalesce(k > p, false)), "
            f"count(*) FILTER (WHERE k IS NULL), count(*) FROM (SELECT {k} AS k, "
            f"lag({k}) OVER () AS p FROM {rows})",
        )
        if row is None or row[0] != 0 or row[1] != 0:
            return False
        if row[2] < _PROBE:  # the probe read every row
            return True
    return True


_PROBE = 1 << 16
#: column types DuckDB hands to Arrow as integers of at most 64 bits (or temporal values
#: stored as such), equal exactly when DuckDB groups them together (no floats: NaN is not
#: equal to itself in numpy; no HUGEINT: 128 bits)
_INTEGRAL = re.compile(
    r"(U?(TINY|SMALL|BIG)?INT(EGER)?|DATE|TIME|TIMESTAMP( WITH TIME ZONE)?|TIMESTAMP_(S|MS|NS))"
)
_IN_MEMORY = 100_000_000  # at most this many values are read into memory (8 bytes each)
#: values spanning at most this many integers per value are marked in a table of one byte
#: per integer of the span: no more memory than the values themselves take
_DENSE = 8


def _distinct_integers(
    con: duckdb.DuckDBPyConnection, source: str, columns: tuple[str, ...]
) -> bool:
    """Whether one integer or temporal column holds no value twice, found in memory with
    numpy (``all_distinct``): on one or two cores, a fraction of the time DuckDB's hash aggregate
    over millions of distinct keys takes. ``False`` also when it does not apply (several
    columns, another type, too many rows): the hash aggregate then decides."""
    if len(columns) != 1:
        return False
    col = _ident(columns[0])
    described = con.execute(f"DESCRIBE SELECT {col} FROM {source}").fetchall()
    if not described or not _INTEGRAL.fullmatch(str(described[0][1])):
        return False
    row = _one(con, f"SELECT count({col}) FROM {source}")
    if row is None or row[0] > _IN_MEMORY:
        return False
    import numpy as np
    import pyarrow as pa

    table = con.sql(f"SELECT {col} FROM {source} WHERE {col} IS NOT NULL").to_arrow_table()
    signed = {8: pa.int8(), 16: pa.int16(), 32: pa.int32(), 64: pa.int64()}
    # the values as int64, one to one (an unsigned 64-bit value past int64's range wraps)
    chunks = [
        c.view(signed[c.type.bit_width]).to_numpy().astype(np.int64, copy=False)
        for c in table.column(0).chunks
        if len(c)
    ]
    return all_distinct(chunks)


def all_distinct(chunks: list[np.ndarray]) -> bool:
    """Whether no value occurs twice in ``chunks`` (int64 arrays). Values spanning at most
    ``_DENSE`` integers each (ids counted up, in any order: the usual key) are marked in a
    table of one byte per integer of the span, in one pass; others are sorted."""
    import numpy as np

    n = sum(len(c) for c in chunks)
    if n < 2:
        return True
    low = min(int(c.min()) for c in chunks)
    span = max(int(c.max()) for c in chunks) - low + 1
    if span <= _DENSE * n:
        seen = np.zeros(span, dtype=np.bool_)
        for c in chunks:
            seen[c - low] = True  # within [0, span): no overflow
        return int(np.count_nonzero(seen)) == n
    values = np.concatenate(chunks)
    values.sort()
    return not bool((values[1:] == values[:-1]).any())


def run_builtin(
    con: duckdb.DuckDBPyConnection, source: str, spec: CheckSpec, reference: Reference
) -> CheckOutcome:
    """Run the built-in ``spec`` over the rows ``source`` reads on ``con``."""
    import duckdb

    try:
        return _run(con, source, spec, reference)
    except (duckdb.Error, LookupError, ValueError, LumbungError) as exc:  # a missing column,
        # bad SQL, the other asset of a relationships check not stored
        first = describe_exception(exc).splitlines()[0]
        return CheckOutcome(spec.name, spec.severity, False, message=f"could not run: {first}")


def _run(
    con: duckdb.DuckDBPyConnection, source: str, spec: CheckSpec, reference: Reference
) -> CheckOutcome:
    k = spec.kind
    cols = [_ident(c) for c in spec.columns]
    if k == "not_null":
        sql = f"SELECT * FROM {source} WHERE {cols[0]} IS NULL"
        return _rows_failing(con, spec, sql, f"rows have {spec.columns[0]} null")
    if k == "unique":
        if _increasing(con, source, cols) or _distinct_integers(con, source, spec.columns):
            return CheckOutcome(spec.name, spec.severity, True, 0)
        listed = ", ".join(cols)
        some = " OR ".join(f"{c} IS NOT NULL" for c in cols)
        sql = (
            f"SELECT {listed}, count(*) AS n FROM {source} WHERE {some} "
            f"GROUP BY ALL HAVING count(*) > 1"
        )
        row = _one(con, f"SELECT count(*), sum(n) FROM ({sql})")
        groups, rows = (int(row[0]), int(row[1] or 0)) if row else (0, 0)
        if groups == 0:
            return CheckOutcome(spec.name, spec.severity, True, 0)
        sample = _sample(con, f"{sql} ORDER BY n DESC")
        what = ", ".join(spec.columns)
        message = f"{rows} rows share a value of ({what}) with another ({groups} values repeat)"
        return CheckOutcome(spec.name, spec.severity, False, rows, sample, message)
    if k == "accepted_values":
        values = ", ".join(_literal(v) for v in spec.values)
        sql = f"SELECT * FROM {source} WHERE {cols[0]} IS NOT NULL AND {cols[0]} NOT IN ({values})"
        return _rows_failing(
            con, spec, sql, f"rows have {spec.columns[0]} not in {list(spec.values)}"
        )
    if k == "relationships":
        assert spec.to is not None and spec.to_column is not None
        view = f"lumbung_ref_{uuid.uuid4().hex}"
        con.register(view, reference(spec.to))
        try:
            sql = (
                f"SELECT s.* FROM {source} AS s ANTI JOIN {_ident(view)} AS r "
                f"ON s.{cols[0]} = r.{_ident(spec.to_column)} WHERE s.{cols[0]} IS NOT NULL"
            )
            what = f"rows have a {spec.columns[0]} that {spec.to}.{spec.to_column} does not hold"
            return _rows_failing(con, spec, sql, what)
        finally:
            con.unregister(view)
    if k == "expect":
        sql = f"SELECT * FROM {source} WHERE NOT ({spec.predicate})"
        return _rows_failing(con, spec, sql, f"rows fail {spec.predicate}")
    if k == "row_count":
        row = _one(con, f"SELECT count(*) FROM {source}")
        n = int(row[0]) if row else 0
        low = spec.min is not None and n < spec.min
        high = spec.max is not None and n > spec.max
        if not (low or high):
            return CheckOutcome(spec.name, spec.severity, True, metadata={"rows": n})
        bound = f"at least {spec.min}" if low else f"at most {spec.max}"
        message = f"{n} rows, {bound} expected"
        return CheckOutcome(spec.name, spec.severity, False, message=message, metadata={"rows": n})
    if k == "schema":
        found = {
            r[0]: str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        }
        wrong = []
        for column, wanted in spec.types:
            have = found.get(column)
            if have is None:
                wrong.append(f"{column} is missing")
            elif have.upper() != wanted:
                wrong.append(f"{column} is {have}, not {wanted}")
        if not wrong:
            return CheckOutcome(spec.name, spec.severity, True)
        return CheckOutcome(spec.name, spec.severity, False, message="; ".join(wrong))
    if k == "freshness":
        assert spec.max_age is not None
        row = _one(
            con,
            f"SELECT max({cols[0]})::VARCHAR, epoch(current_timestamp) - epoch(max({cols[0]})) "
            f"FROM {source}",
        )
        newest, age = (row[0], row[1]) if row else (None, None)
        limit = spec.max_age.total_seconds()
        meta = {"newest": newest}
        if age is not None and age <= limit:
            return CheckOutcome(spec.name, spec.severity, True, metadata=meta)
        if age is None:
            message = f"no {spec.columns[0]} at all"
        else:
            message = f"the newest {spec.columns[0]} is {newest}, older than {spec.max_age}"
        return CheckOutcome(spec.name, spec.severity, False, message=message, metadata=meta)
    raise ValueError(f"unknown check kind {k!r}")


def run_custom(con: duckdb.DuckDBPyConnection, source: str, check: CustomCheck) -> CheckOutcome:
    """Run ``check`` on the rows ``source`` reads, given as its parameter's annotation asks."""
    name, severity = check.name, check.severity
    try:
        rel = con.sql(f"SELECT * FROM {source}")
        target = target_of(check.annotation)
        value: object
        if target == "duckdb":
            value = rel
        elif target == "arrow":
            value = to_arrow(rel)
        elif target == "polars":
            value = rel.pl()
        else:
            value = rel.df()
        result = check.fn(value)
    except Exception as exc:  # the check's own code, or reading the rows
        first = describe_exception(exc).splitlines()[0]
        return CheckOutcome(name, severity, False, message=f"raised {first}")
    if isinstance(result, CheckResult):
        meta = {str(k): json_value(v) for k, v in result.metadata.items()}
        passed = bool(result.passed)
        return CheckOutcome(
            name, severity, passed, message=None if passed else "failed", metadata=meta
        )
    if isinstance(result, bool) or type(result).__name__ == "bool_":
        passed = bool(result)
        return CheckOutcome(name, severity, passed, message=None if passed else "returned False")
    return CheckOutcome(
        name,
        severity,
        False,
        message=f"returned {type(result).__name__}; return a bool or CheckResult(passed, metadata)",
    )
