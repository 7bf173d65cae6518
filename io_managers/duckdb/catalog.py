"""Who owns each table of a warehouse file (``_Catalog``).

DuckDB matches identifiers without regard to case, and ``a__b/c`` names the same table as
``a/b/c``. So every table carries its key in its comment (``lumbung:<key>``). A save into a
table owned by another key is refused, and that table does not count as the other key's
output (``exists``, ``load``, ``delete``). Collisions are never silent. The owners are read
with one catalog query when the file is opened, and kept up to date by this process's saves
and deletes.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import duckdb

_OWNER_PREFIX = "lumbung:"


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
