"""Who owns each table of a warehouse file (``_Catalog``).

DuckDB matches identifiers without regard to case, and ``a__b/c`` names the same table as
``a/b/c``. So every table carries its key in its comment (``lumbung:<key>``). A save into a
table owned by another key is refused, and that table does not count as the other key's
output (``exists``, ``load``, ``delete``). Collisions are never silent. The owners are read
with one catalog query when the file is opened, and kept up to date by this process's saves
and deletes.

The same query gives each table's row count and column count, which DuckDB keeps in its
catalog: a table's fingerprint (``<rows>x<columns>``; a table of the right name without its
owner comment, which a hand-made ``CREATE OR REPLACE`` drops, is ``unowned:...``). It tells a
table replaced, grown or reshaped by something else from the one Lumbung wrote, without
reading it; a change that keeps both counts (an ``UPDATE``) is not seen.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import duckdb

_OWNER_PREFIX = "lumbung:"

#: a table as the catalog knows it: stored schema and table names, owning key, fingerprint
_Entry = tuple[str, str, "str | None", str]


def table_fingerprint(rows: int | None, columns: int | None) -> str:
    """What the catalog says of a table's shape: ``<rows>x<columns>``."""
    return f"{rows}x{columns}"


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
        self.tables: dict[tuple[str, str], _Entry] | None = None
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

    def _load(self, cur: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], _Entry]:
        if self.tables is None:
            rows = cur.execute(
                "SELECT schema_name, table_name, comment, estimated_size, column_count "
                "FROM duckdb_tables() WHERE database_name = current_database()"
            ).fetchall()
            tables = {}
            for schema, table, comment, n_rows, n_columns in rows:
                owner = None
                if isinstance(comment, str) and comment.startswith(_OWNER_PREFIX):
                    owner = comment[len(_OWNER_PREFIX) :]
                shape = table_fingerprint(n_rows, n_columns)
                tables[(schema.lower(), table.lower())] = (schema, table, owner, shape)
            self.tables = tables
        return self.tables

    def owner(self, cur: duckdb.DuckDBPyConnection, schema: str, table: str) -> str | None:
        """The key owning the table DuckDB resolves ``schema.table`` to, if any."""
        with self.lock:
            entry = self._load(cur).get((schema.lower(), table.lower()))
        return None if entry is None else entry[2]

    def holds(self, cur: duckdb.DuckDBPyConnection, schema: str, table: str, key: str) -> bool:
        """Whether ``schema.table`` is ``key``'s table (or, unowned, has exactly that name)."""
        return self.fingerprint(cur, schema, table, key) is not None

    def fingerprint(
        self, cur: duckdb.DuckDBPyConnection, schema: str, table: str, key: str
    ) -> str | None:
        """The fingerprint of ``key``'s table ``schema.table`` (see the module docstring), or
        ``None`` when the warehouse holds no table of ``key`` there."""
        with self.lock:
            entry = self._load(cur).get((schema.lower(), table.lower()))
        if entry is None:
            return None
        if entry[2] == key:
            return entry[3]
        if entry[2] is None and entry[:2] == (schema, table):
            return "unowned:" + entry[3]
        return None

    def put(self, schema: str, table: str, key: str, fingerprint: str) -> None:
        with self.lock:
            if self.tables is not None:
                self.tables[(schema.lower(), table.lower())] = (schema, table, key, fingerprint)

    def drop(self, schema: str, table: str) -> None:
        with self.lock:
            if self.tables is not None:
                self.tables.pop((schema.lower(), table.lower()), None)
