"""The SQLite store's tick records (``TickLog``), as functions of an open connection.

Each runs inside the caller's transaction or guard (``SQLiteStateStore``): inserting a tick is
one ``INSERT OR IGNORE`` on its primary key (name, tick), so two processes evaluating the same
tick record it once, and only the one whose insert took launches its run.
"""

from __future__ import annotations

from collections.abc import Iterable
from sqlite3 import Connection
from typing import Any

from assets_core.storage.sqlite_rows import json_text
from assets_core.storage.ticks import TickOutcome, TickRecord

__all__ = [
    "insert_tick",
    "last_ticks",
    "run_of_pid",
    "select_ticks",
    "ticks_of_runs",
    "update_tick",
]

_COLUMNS = (
    "name, tick, kind, scheduled_at, recorded_at, outcome, selection, partitions, run_id, pid, "
    "ended_at, detail"
)
_IN_LIST = "(SELECT value FROM json_each(?))"


def _record(row: Any) -> TickRecord:
    return TickRecord(*row)


def insert_tick(con: Connection, t: TickRecord) -> bool:
    cursor = con.execute(
        f"INSERT OR IGNORE INTO ticks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            t.name,
            t.tick,
            t.kind,
            t.scheduled_at,
            t.recorded_at,
            t.outcome,
            t.selection,
            t.partitions,
            t.run_id,
            t.pid,
            t.ended_at,
            t.detail,
        ),
    )
    return cursor.rowcount == 1


def update_tick(
    con: Connection,
    name: str,
    tick: str,
    outcome: TickOutcome,
    run_id: str | None,
    pid: int | None,
    ended_at: float | None,
    detail: str | None,
) -> None:
    con.execute(
        "UPDATE ticks SET outcome = ?, run_id = coalesce(?, run_id), pid = coalesce(?, pid), "
        "ended_at = coalesce(?, ended_at), detail = coalesce(?, detail) "
        "WHERE name = ? AND tick = ?",
        (outcome, run_id, pid, ended_at, detail, name, tick),
    )


def select_ticks(
    con: Connection,
    names: Iterable[str] | None,
    outcomes: Iterable[str] | None,
    limit: int,
) -> list[TickRecord]:
    where, params = [], []
    if names is not None:
        where.append(f"name IN {_IN_LIST}")
        params.append(json_text(list(names)))
    if outcomes is not None:
        where.append(f"outcome IN {_IN_LIST}")
        params.append(json_text(list(outcomes)))
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM ticks {clause}ORDER BY scheduled_at DESC, rowid DESC LIMIT ?",
        (*params, max(0, limit)),
    ).fetchall()
    return [_record(r) for r in rows]


def last_ticks(con: Connection) -> dict[str, TickRecord]:
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM ticks t WHERE rowid = (SELECT rowid FROM ticks u "
        "WHERE u.name = t.name ORDER BY scheduled_at DESC, rowid DESC LIMIT 1)"
    ).fetchall()
    return {r[0]: _record(r) for r in rows}


def run_of_pid(con: Connection, pid: int, since: float) -> str | None:
    row = con.execute(
        "SELECT run_id FROM runs WHERE pid = ? AND started_at >= ? ORDER BY started_at LIMIT 1",
        (pid, since),
    ).fetchone()
    return None if row is None else str(row[0])


def ticks_of_runs(con: Connection, run_ids: Iterable[str]) -> dict[str, TickRecord]:
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM ticks WHERE run_id IN {_IN_LIST}", (json_text(list(run_ids)),)
    ).fetchall()
    return {r[8]: _record(r) for r in rows}
