"""Whether anything was written to a SQLite state file since last asked: ``StateWatch``.

SQLite's ``PRAGMA data_version`` changes on a connection whenever another connection (of any
process, the asking process's own store included) commits to the same file. The watch keeps
one read-only connection of its own for that, so every write counts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from assets_core.storage.sqlite import SQLiteStateStore

__all__ = ["StateWatch"]


class StateWatch:
    """Reads the write counter of a state store's file (``version``); not thread-safe."""

    def __init__(self) -> None:
        self._con: sqlite3.Connection | None = None
        self._path: Path | None = None

    def version(self, state: object) -> int | None:
        """A number that changes with every commit to ``state``'s file; ``None`` when it
        cannot tell (a store other than SQLite's, or a file it cannot read)."""
        if not isinstance(state, SQLiteStateStore):
            return None
        try:
            if self._con is None or self._path != state.path:
                self.close()
                self._con = sqlite3.connect(
                    f"file:{state.path}?mode=ro",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
                self._path = state.path
            row = self._con.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            return None
        return int(row[0])

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
