"""The migration chain: how a state file written by an older Lumbung reaches the current schema.

``MIGRATIONS[v - 1]`` takes a file from schema ``v`` to ``v + 1``; each is a function
``(con, root)`` of the open connection and the storage folder (absolute), and changes nothing
outside the file. ``upgrade`` runs the chain from the file's ``user_version`` to
``SCHEMA_VERSION`` inside the caller's write transaction (``BEGIN IMMEDIATE``), after copying the
file to ``state.db.bak-<version>``: a failure anywhere rolls the whole upgrade back and leaves the
file as it was, and two processes opening an old file at once upgrade it once, because the
second one finds the new version when its own transaction starts.

Schema 1 (Lumbung up to the step-key restructure) kept one ``latest`` row and one lock per asset,
a nullable ``partition`` column, and absolute locations. Schema 2 had no table of dynamic
partitions' keys, schema 3 none of ticks.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from assets_core.errors import StateError
from assets_core.storage.locations import relative_location, stored_location, written_under
from assets_core.storage.sqlite_schema import SCHEMA_VERSION, create_tables

__all__ = [
    "MIGRATIONS",
    "backup_path",
    "migrate_1_to_2",
    "migrate_2_to_3",
    "migrate_3_to_4",
    "relocated",
    "upgrade",
]

Migration = Callable[[sqlite3.Connection, str], None]


def backup_path(path: Path, version: int) -> Path:
    """Where ``upgrade`` copies a state file of schema ``version`` before changing it."""
    return path.with_name(f"{path.name}.bak-{version}")


def upgrade(con: sqlite3.Connection, path: Path, root: str) -> int:
    """Bring the file ``path`` (open on ``con``, inside a ``BEGIN IMMEDIATE`` transaction the
    caller commits) up to ``SCHEMA_VERSION``; return the version it had.

    The version is read again here, under the write lock: when another process has upgraded
    the file meanwhile there is nothing to do, and no copy is made (so a good copy of the old
    file is never replaced by an upgraded one). A newer version is left for the caller to
    refuse. A migration that fails raises ``StateError``; the caller rolls back.
    """
    found = int(con.execute("PRAGMA user_version").fetchone()[0])
    if not 0 < found < SCHEMA_VERSION:
        return found
    backup = backup_path(path, found)
    try:
        _copy(path, backup)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(
            f"{path} is at state schema {found} and must be upgraded to {SCHEMA_VERSION}, but "
            f"it could not be copied to {backup.name} first ({exc}); it is unchanged. Check "
            "that this user may write its folder and that the disk has room."
        ) from exc
    for version in range(found, SCHEMA_VERSION):
        try:
            MIGRATIONS[version - 1](con, root)
        except StateError:
            raise
        except Exception as exc:
            raise StateError(
                f"{path} could not be upgraded from state schema {version} to {version + 1} "
                f"({type(exc).__name__}: {exc}); it is left unchanged at schema {found}, and a "
                f"copy is at {backup.name}. Report this with the copy; meanwhile an earlier "
                "Lumbung still reads the file."
            ) from exc
        con.execute(f"PRAGMA user_version = {version + 1}")
    return found


def _copy(path: Path, target: Path) -> None:
    """Copy the database ``path`` to ``target`` with SQLite's backup API, through a second
    connection: it reads the committed state, WAL content included, while the caller's
    connection holds the write lock. Written beside ``target`` first, then moved into place."""
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        source = sqlite3.connect(str(path), timeout=30.0)
        try:
            copy = sqlite3.connect(str(tmp))
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# -- 1 -> 2: steps keyed by (key, partition); locations relative to the storage folder ----------


def migrate_1_to_2(con: sqlite3.Connection, root: str) -> None:
    """Schema 1 to 2: ``partition`` becomes ``''`` for an unpartitioned step and part of every
    key; locations under the storage folder become relative; ``latest`` is rebuilt per step
    (with the last attempt's id); locks are per step; source files' cached hashes are kept
    with the files' ctime too (the cache starts empty: each file is hashed once again);
    ``step_logs`` and ``check_results`` are new."""
    _materializations_1_to_2(con)
    _relocate(con, root)
    _latest_1_to_2(con)
    _locks_1_to_2(con)
    con.execute("DROP TABLE file_observations")
    create_tables(con, ("file_observations", "step_logs", "check_results"))


_RECORD_COLUMNS = (
    "id, key, run_id, outcome, code_version, data_version, inputs, code_components, started_at, "
    'ended_at, "rows", bytes, location, "schema", error'
)


def _materializations_1_to_2(con: sqlite3.Connection) -> None:
    """Copy every record, ids kept, into the new table; keep the id sequence where it was (ids
    of records ``forget`` deleted are never handed out again)."""
    con.execute("DROP TABLE latest")  # rebuilt from the records; it referenced the old table
    con.execute("ALTER TABLE materializations RENAME TO materializations_v1")
    row = con.execute(
        "SELECT seq FROM sqlite_sequence WHERE name = 'materializations_v1'"
    ).fetchone()
    create_tables(con, ("materializations",))
    con.execute(
        f'INSERT INTO materializations ({_RECORD_COLUMNS}, "partition") '
        f"SELECT {_RECORD_COLUMNS}, coalesce(\"partition\", '') FROM materializations_v1 "
        "ORDER BY id"
    )
    con.execute("DROP TABLE materializations_v1")
    if row is not None:
        con.execute("DELETE FROM sqlite_sequence WHERE name = 'materializations'")
        con.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('materializations', ?)", (row[0],)
        )


def _relocate(con: sqlite3.Connection, root: str) -> None:
    """Store the locations of outputs under the storage folder relative to it."""
    rows = con.execute(
        'SELECT id, key, "partition", location FROM materializations WHERE location IS NOT NULL'
    ).fetchall()
    con.executemany("UPDATE materializations SET location = ? WHERE id = ?", relocated(rows, root))


def relocated(rows: Iterable[tuple[int, str, str, str]], root: str) -> list[tuple[str, int]]:
    """``(new location, id)`` for each record ``(id, key, partition, location)`` whose location
    becomes relative to the storage folder ``root``.

    A location under ``root`` is recognised by its prefix. One written in another folder (the
    project was copied before its state was upgraded) is recognised by the built-in managers'
    layouts (``<folder>/parquet/...``, ``<folder>/warehouse.duckdb::...``), provided every such
    record names the same ``<folder>``: when they disagree, only the locations under ``root``
    change and the rest stay absolute."""
    rows = list(rows)
    folders = tuple(dict.fromkeys((root, str(Path(root).resolve()))))
    written = {row[0]: written_under(row[3], row[1], row[2] or None) for row in rows}
    bases = set(written.values()) - {None}
    old = bases.pop() if len(bases) == 1 else None
    changes: list[tuple[str, int]] = []
    for rid, _key, _partition, location in rows:
        new: str | None = stored_location(location, folders)
        if new == location and old is not None and written[rid] == old:
            new = relative_location(location, old)
        if new is not None and new != location:
            changes.append((new, rid))
    return changes


def _latest_1_to_2(con: sqlite3.Connection) -> None:
    """Per step: the newest success, and the newest record's id, outcome and time."""
    create_tables(con, ("latest",))
    con.execute(
        'INSERT INTO latest (key, "partition", success_id, attempt_id, last_outcome, '
        "last_attempt_at) "
        'SELECT m.key, m."partition", s.success_id, m.id, m.outcome, '
        "CASE WHEN m.ended_at <> 0 THEN m.ended_at ELSE m.started_at END "
        'FROM (SELECT max(id) AS id FROM materializations GROUP BY key, "partition") a '
        "JOIN materializations m ON m.id = a.id "
        'LEFT JOIN (SELECT key, "partition", max(id) AS success_id FROM materializations '
        "WHERE outcome = 'materialized' GROUP BY key, \"partition\") s "
        'ON s.key = m.key AND s."partition" = m."partition"'
    )


def _locks_1_to_2(con: sqlite3.Connection) -> None:
    """A schema-1 lock held an asset's one (unpartitioned) step, and named its holder by pid
    and host only: the identity columns stay empty, so such a lock is judged by its pid."""
    con.execute("ALTER TABLE locks RENAME TO locks_v1")
    con.execute("DROP INDEX locks_by_run")
    create_tables(con, ("locks",))
    con.execute(
        'INSERT INTO locks (key, "partition", run_id, pid, host, acquired_at) '
        "SELECT key, '', run_id, pid, host, acquired_at FROM locks_v1"
    )
    con.execute("DROP TABLE locks_v1")


# -- 2 -> 3: the keys of dynamic partitions -------------------------------------------------


def migrate_2_to_3(con: sqlite3.Connection, root: str) -> None:
    """Schema 2 to 3: ``dynamic_partitions`` is new (empty: no set had keys before)."""
    create_tables(con, ("dynamic_partitions",))


# -- 3 -> 4: tick records of schedules and sensors ------------------------------------------


def migrate_3_to_4(con: sqlite3.Connection, root: str) -> None:
    """Schema 3 to 4: ``ticks`` is new (empty: nothing was scheduled before)."""
    create_tables(con, ("ticks",))


#: ``MIGRATIONS[v - 1]`` takes a file from schema ``v`` to ``v + 1``.
MIGRATIONS: list[Migration] = [migrate_1_to_2, migrate_2_to_3, migrate_3_to_4]
