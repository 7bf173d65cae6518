"""SQL text and DuckDB's answers: identifiers and literals quoted, an asset key's schema and
table (``table_for``), statements run in a transaction and retried on a write conflict, and
DuckDB's errors read back (their first line, their class).

Key ``a/b/c`` is table ``c`` in schema ``a__b``; a root-level key ``c`` is ``main.c``.
Identifiers are always quoted (``quote_ident``), although the key rule already keeps them
harmless.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from assets_core.model.keys import AssetKey

__all__ = ["RESERVED_SCHEMAS", "quote_ident", "quote_literal", "schema_problem", "table_for"]

_CONFLICT_RETRIES = 8


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


#: schema names DuckDB keeps for itself: a key stored in one fails with a Binder Error
RESERVED_SCHEMAS = {
    "temp": "its catalog of temporary objects",
    "system": "its system catalog",
    "pg_catalog": "a system schema",
    "information_schema": "a system schema",
}


def schema_problem(schema: str, table: str, catalog: str) -> str | None:
    """Why a table cannot live in ``schema`` of the database ``catalog`` (DuckDB names a
    database file's catalog after the file: ``warehouse`` for ``warehouse.duckdb``): the
    names DuckDB reserves, which it matches without regard to case, and the catalog's own."""
    lowered = schema.lower()
    why = RESERVED_SCHEMAS.get(lowered)
    if why is None and lowered == catalog.lower():
        why = "the catalog of the warehouse file itself"
    if why is None:
        return None
    return (
        f"the duckdb IO manager would store it as table {table} in schema {schema}, a name "
        f"DuckDB reserves ({why}); rename the key's first segment ('{schema}_data', say), or "
        "store it with another io_manager."
    )


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


def _write_failed(key: AssetKey, location: str, exc: BaseException) -> str:
    """The one line for a write DuckDB refused: the asset, the manager, the table, DuckDB's
    words, and what to do when they are a full disk or a permission."""
    from assets_core.storage.oserrors import errno_in, remedy

    text = _first_line(exc)
    code = errno_in(text)
    fix = remedy(code) if code is not None else None
    tail = f"; {fix}." if fix else "."
    return f"{key}: the duckdb IO manager cannot write {location} ({text}){tail}"


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
