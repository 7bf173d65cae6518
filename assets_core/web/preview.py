"""The first rows of a stored output, read-only through DuckDB, never outside the storage
folder.

A location is a Parquet file (or a folder of them) or ``<database file>::<schema>.<table>``
(with ``[<partition>]`` after it for a partition of a DuckDB table), as recorded with a
materialization. Its path must resolve (links followed) inside the storage folder, or
nothing is read. Parquet is scanned by ``read_parquet`` with the path as a query parameter;
a DuckDB table is read from its database opened read-only, its names quoted.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from assets_core.web.common import ApiError

ROWS = 100
TABLE_MARK = "::"


def inside(path: str, root: Path) -> Path:
    """``path`` resolved, when it lies inside ``root`` (links followed); else ``ApiError``."""
    real = Path(os.path.realpath(path))
    base = Path(os.path.realpath(root))
    if real != base and base not in real.parents:
        raise ApiError(f"{path} is outside the storage folder {base}; nothing was read.", 403)
    return real


def cell(value: Any) -> Any:
    """A value as JSON can carry it: numbers, text, booleans and null as they are (a NaN as
    null), anything else as its text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    return str(value)


def read_preview(location: str, storage: Path, rows: int = ROWS) -> dict[str, Any]:
    """``{"location", "columns": [{"name", "type"}], "rows": [[...]], "limit"}``."""
    import duckdb

    path, mark, table = location.partition(TABLE_MARK)
    real = inside(path, storage)
    if not real.exists():
        raise ApiError(f"{location} is gone (deleted since it was stored).", 404)
    try:
        if mark:
            con = duckdb.connect(str(real), read_only=True)
            name, _, partition = table.partition("[")
            schema, _, tbl = name.partition(".")
            sql = f"SELECT * FROM {_quote(schema)}.{_quote(tbl)} LIMIT ?"
            del partition  # a partition's rows share its table: the first rows are shown
        else:
            con = duckdb.connect(":memory:")
            target = str(real / "**" / "*.parquet") if real.is_dir() else str(real)
            sql = "SELECT * FROM read_parquet(?) LIMIT ?"
        with con:
            cur = con.execute(sql, [rows] if mark else [target, rows])
            columns = [{"name": d[0], "type": str(d[1])} for d in cur.description or ()]
            found = cur.fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApiError(f"could not read {location}: {first}", 409) from None
    return {
        "location": location,
        "columns": columns,
        "rows": [[cell(v) for v in row] for row in found],
        "limit": rows,
    }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
