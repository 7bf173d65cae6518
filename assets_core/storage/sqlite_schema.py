"""The SQLite state file's current schema (version 4), table by table.

A step is (``key``, ``partition``) everywhere, with ``''`` standing for an unpartitioned step
(partition keys are never empty). ``materializations`` is the append-only provenance;
``latest`` holds, per step, the ids of its last success and of its last attempt, moved in the
same transaction as each record, so a plan reads every step's state in one join. Locations are
stored relative to the storage folder (``assets_core.storage.locations``). A lock row names its
holder as ``assets_core.storage.liveness.Holder`` does (pid, host, boot id, PID namespace, start
time), so a dead holder is recognised even where its pid means nothing. A
record's ``fingerprint`` is the IO manager's token of the output as written (NULL: unknown, as
in every record upgraded from schema 1), which planning compares with the output as it is now;
a ``latest`` row's ``fingerprint``, when set, replaces its last success's: planning found that
output under a new fingerprint (copied, touched) still holding the recorded data.

A new file gets every table here (``create_schema``); a file of an older schema is brought
here by the migration chain (``assets_core.storage.migrations``), which builds its new tables
from the same statements, so an upgraded file and a new one have the same schema.
"""

from __future__ import annotations

import sqlite3

__all__ = ["SCHEMA_VERSION", "TABLES", "create_schema", "create_tables"]

SCHEMA_VERSION = 4

#: Each table's statements (the table, then its indexes), in the order they are created.
TABLES: dict[str, tuple[str, ...]] = {
    "runs": (
        """CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    status TEXT NOT NULL,
    selection TEXT,
    pid INTEGER
)""",
        "CREATE INDEX runs_by_start ON runs (started_at)",
    ),
    "materializations": (
        """CREATE TABLE materializations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    "partition" TEXT NOT NULL DEFAULT '',
    run_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    code_version TEXT NOT NULL,
    data_version TEXT,
    inputs TEXT,
    code_components TEXT,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    "rows" INTEGER,
    bytes INTEGER,
    location TEXT,
    "schema" TEXT,
    error TEXT,
    fingerprint TEXT
)""",
        'CREATE INDEX materializations_by_step ON materializations (key, "partition", id)',
    ),
    "latest": (
        """CREATE TABLE latest (
    key TEXT NOT NULL,
    "partition" TEXT NOT NULL DEFAULT '',
    success_id INTEGER REFERENCES materializations (id),
    attempt_id INTEGER NOT NULL REFERENCES materializations (id),
    last_outcome TEXT NOT NULL,
    last_attempt_at REAL,
    fingerprint TEXT,
    PRIMARY KEY (key, "partition")
) WITHOUT ROWID""",
    ),
    "locks": (
        """CREATE TABLE locks (
    key TEXT NOT NULL,
    "partition" TEXT NOT NULL DEFAULT '',
    run_id TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    boot_id TEXT,
    pid_ns TEXT,
    started INTEGER,
    acquired_at REAL NOT NULL,
    PRIMARY KEY (key, "partition")
) WITHOUT ROWID""",
        "CREATE INDEX locks_by_run ON locks (run_id)",
    ),
    "file_observations": (
        """CREATE TABLE file_observations (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL
) WITHOUT ROWID""",
    ),
    "step_logs": (
        """CREATE TABLE step_logs (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    "partition" TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    stream TEXT NOT NULL,
    level TEXT,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, key, "partition", seq)
) WITHOUT ROWID""",
    ),
    "check_results": (
        """CREATE TABLE check_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    "partition" TEXT NOT NULL DEFAULT '',
    check_name TEXT NOT NULL,
    run_id TEXT,
    severity TEXT NOT NULL,
    passed INTEGER NOT NULL,
    code_version TEXT,
    data_versions TEXT,
    failing_rows INTEGER,
    sample TEXT,
    metadata TEXT,
    error TEXT,
    at REAL NOT NULL
)""",
        'CREATE INDEX check_results_by_step ON check_results (key, "partition", check_name, id)',
    ),
    # the keys of each dynamic partitions set, in the order they were added (rowid)
    "dynamic_partitions": (
        """CREATE TABLE dynamic_partitions (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (name, key)
)""",
    ),
    # what `lumbung serve` decided at each tick of a schedule or sensor (storage/ticks.py)
    "ticks": (
        """CREATE TABLE ticks (
    name TEXT NOT NULL,
    tick TEXT NOT NULL,
    kind TEXT NOT NULL,
    scheduled_at REAL NOT NULL,
    recorded_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    selection TEXT,
    partitions TEXT,
    run_id TEXT,
    pid INTEGER,
    ended_at REAL,
    detail TEXT,
    PRIMARY KEY (name, tick)
)""",
        "CREATE INDEX ticks_by_run ON ticks (run_id)",
    ),
}


def create_tables(con: sqlite3.Connection, names: tuple[str, ...]) -> None:
    """Create the named tables and their indexes, as the current schema has them."""
    for name in names:
        for statement in TABLES[name]:
            con.execute(statement)


def create_schema(con: sqlite3.Connection) -> None:
    """Create every table of the current schema in an empty file, and stamp its version.
    Runs inside the caller's write transaction."""
    create_tables(con, tuple(TABLES))
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
