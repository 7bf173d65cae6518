"""The durable state store: SQLite in WAL mode at ``<storage>/state.db``.

``SQLiteStateStore`` implements ``assets_core.storage.state.StateStore``. One connection per store,
guarded by a lock, so a store object may be shared by threads; several processes share the
file through SQLite's own locking (WAL readers never block, writers take ``BEGIN IMMEDIATE``
and wait up to 30 s). ``materializations`` is append-only; ``latest`` is maintained in the
same transaction as each ``record`` so the planner reads every asset's state in one join.
A file that is corrupt or written by a newer schema is an error, never reset.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from assets_core.errors import StateError
from assets_core.lazymap import LazyMapping
from assets_core.model.keys import AssetKey
from assets_core.storage.state import (
    AssetState,
    EncodedInputs,
    FileObservation,
    LockConflict,
    MaterializationRecord,
    Outcome,
    RunRecord,
    RunStatus,
    encode_inputs,
    lock_holder_is_gone,
)

SCHEMA_VERSION = 1
STATE_FILE = "state.db"
BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    status TEXT NOT NULL,
    selection TEXT,
    pid INTEGER
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE TABLE materializations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
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
    "partition" TEXT
);
CREATE INDEX materializations_by_key ON materializations (key, id);
CREATE TABLE latest (
    key TEXT PRIMARY KEY,
    success_id INTEGER REFERENCES materializations (id),
    last_outcome TEXT NOT NULL,
    last_attempt_at REAL
) WITHOUT ROWID;
CREATE TABLE locks (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    acquired_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX locks_by_run ON locks (run_id);
CREATE TABLE file_observations (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL
) WITHOUT ROWID;
"""

# The columns that rebuild a MaterializationRecord, in _record_from_row's order.
_COLUMNS = [
    "key",
    "run_id",
    "outcome",
    "code_version",
    "data_version",
    "inputs",
    "code_components",
    "started_at",
    "ended_at",
    '"rows"',
    "bytes",
    "location",
    '"schema"',
    "error",
    '"partition"',
]
_RECORD_COLUMNS = ", ".join(_COLUMNS)
# latest(): the state columns, then every column of the last success (NULLs when none).
_LATEST_SQL = (
    "SELECT l.key, l.last_outcome, l.last_attempt_at, "
    + ", ".join(f"m.{c}" for c in _COLUMNS)
    + " FROM latest l LEFT JOIN materializations m ON m.id = l.success_id"
)
# latest(detail=False): just what planning compares.
_PLAN_SQL = (
    "SELECT l.key, l.last_outcome, l.last_attempt_at, m.id, m.code_version, m.data_version, "
    "m.inputs, m.code_components, m.started_at, m.ended_at, m.location "
    "FROM latest l LEFT JOIN materializations m ON m.id = l.success_id"
)
_SCAN_ALL_ABOVE = 2000  # asking for more keys than this: read every row, filter in Python
_EMPTY: Mapping[Any, Any] = MappingProxyType({})
_Schema = tuple[tuple[str, str], ...]
#: SQLite's words for a store this process cannot write (permissions, a read-only mount, I/O)
_CANNOT_WRITE = ("readonly", "read-only", "disk I/O error", "disk is full", "unable to open")
_IN_LIST = "(SELECT value FROM json_each(?))"  # a whole key list bound as one JSON parameter


def open_state_store(storage_dir: Path) -> SQLiteStateStore:
    """Open (creating the folder and file if needed) the state store at ``<storage>/state.db``."""
    try:
        storage_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, no permission, a read-only file system
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "a file is in the way"
        else:
            reason = exc.strerror or type(exc).__name__
        raise StateError(
            f"storage folder {storage_dir} cannot be created ({reason}); point storage at a "
            "folder this user may write, or move aside what is in the way."
        ) from exc
    return SQLiteStateStore(storage_dir / STATE_FILE)


class SQLiteStateStore:
    """A ``StateStore`` in one SQLite file, safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._con = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StateError(
                f"{path} cannot be opened ({exc}); check that its folder exists and that this "
                "user may read and write it."
            ) from exc
        try:
            self._open()
        except BaseException:
            self._con.close()
            raise

    # -- opening -----------------------------------------------------------------------------

    def _patiently(self, sql: str) -> Any:
        """Execute ``sql`` and fetch one row, retrying while the file is locked. SQLite's
        busy timeout does not cover every lock: while another process creates the file or
        switches it to WAL, these statements fail at once with "database is locked"."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        delay = 0.002
        while True:
            try:
                return self._con.execute(sql).fetchone()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _open(self) -> None:
        con = self._con
        try:
            found = self._patiently("PRAGMA user_version")[0]
        except sqlite3.OperationalError as exc:  # cannot open or read the file at all
            if _is_busy(exc):
                raise StateError(_locked_message(self.path)) from exc
            raise StateError(
                f"{self.path} cannot be opened ({exc}); check that its folder exists and that "
                "this user may read and write it."
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise StateError(_corrupt_message(self.path, exc)) from exc
        self._check_version(found)
        with self._guard():
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._patiently("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            con.execute("PRAGMA cache_size = -32768")  # up to 32 MiB, only as pages are read
            if found == 0:
                self._patiently("BEGIN IMMEDIATE")
                try:
                    # Another process may have created the schema while we waited.
                    found = con.execute("PRAGMA user_version").fetchone()[0]
                    if found == 0:
                        self._create_schema()
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
                self._check_version(found)

    def _check_version(self, found: int) -> None:
        if found > SCHEMA_VERSION:
            raise StateError(
                f"{self.path} was written by a newer Lumbung (state schema {found} > "
                f"{SCHEMA_VERSION}); upgrade Lumbung, or point storage at another folder."
            )

    def _create_schema(self) -> None:
        con = self._con
        foreign = con.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if foreign:
            raise StateError(
                _corrupt_message(self.path, "a SQLite database with tables that are not ours")
            )
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                con.execute(statement)
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """Hold the connection for one call; turn SQLite's failures into ``StateError``."""
        with self._lock:
            try:
                yield self._con
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if _is_busy(exc):
                    raise StateError(_locked_message(self.path)) from exc
                if any(word in text for word in _CANNOT_WRITE):
                    raise StateError(
                        f"{self.path} cannot be written ({text}); check that this user may "
                        "read and write it and its folder, and that the disk has room."
                    ) from exc
                raise
            except sqlite3.DatabaseError as exc:
                if type(exc) is sqlite3.DatabaseError:  # corruption, not a bug of ours
                    raise StateError(_corrupt_message(self.path, exc)) from exc
                raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        with self._guard() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    # -- reads -------------------------------------------------------------------------------

    def latest(
        self, keys: Iterable[AssetKey] | None = None, *, detail: bool = True
    ) -> dict[AssetKey, AssetState]:
        """The state of every given key that has records (all known keys when ``None``).

        One query joining ``latest`` to the last successful record; ``code_components`` is
        decoded from JSON on first use. ``detail=False`` (planning) reads only the columns
        the planner compares.
        """
        by_text: dict[str, AssetKey] = {}
        wanted: set[str] | None = None
        sql = _LATEST_SQL if detail else _PLAN_SQL
        if keys is not None:
            by_text = {"/".join(k): k for k in keys}  # str(k), at C speed
            if not by_text:
                return {}
            if len(by_text) > _SCAN_ALL_ABOVE:
                wanted = set(by_text)
        with self._guard() as con:
            if keys is None or wanted is not None:
                rows = con.execute(sql).fetchall()
            else:
                where = f"{sql} WHERE l.key IN {_IN_LIST}"
                rows = con.execute(where, (_json(list(by_text)),)).fetchall()
        if detail:
            return self._detailed(rows, by_text, wanted)
        # The hot loop of planning: one tuple unpack and two constructors per asset.
        out: dict[AssetKey, AssetState] = {}
        empty = _EMPTY
        record = MaterializationRecord
        state = AssetState
        for (
            text,
            last_outcome,
            last_attempt_at,
            rowid,
            code_version,
            data_version,
            inputs,
            components,
            started_at,
            ended_at,
            location,
        ) in rows:
            if wanted is not None and text not in wanted:
                continue
            key = by_text.get(text)
            if key is None:
                key = by_text[text] = AssetKey.parse(text)
            if rowid is None:  # never materialized (or its success was forgotten)
                out[key] = state(None, last_outcome, last_attempt_at)
                continue
            last = record(
                key,
                "",
                "materialized",
                code_version,
                data_version,
                empty if inputs is None else EncodedInputs(inputs, by_text),
                empty if components is None else _LazyComponents(components),
                started_at,
                ended_at,
                location=location,
            )
            out[key] = state(last, last_outcome, last_attempt_at)
        return out

    @staticmethod
    def _detailed(
        rows: list[Any], by_text: dict[str, AssetKey], wanted: set[str] | None
    ) -> dict[AssetKey, AssetState]:
        out: dict[AssetKey, AssetState] = {}
        for row in rows:
            text, last_outcome, last_attempt_at = row[0], row[1], row[2]
            if wanted is not None and text not in wanted:
                continue
            key = by_text.get(text)
            if key is None:
                key = by_text[text] = AssetKey.parse(text)
            last = None if row[3] is None else _record_from_row(row, 3, by_text)
            out[key] = AssetState(last, last_outcome, last_attempt_at)
        return out

    def history(self, key: AssetKey | None = None, limit: int = 50) -> list[MaterializationRecord]:
        """Records, newest first; of one asset when ``key`` is given."""
        with self._guard() as con:
            if key is None:
                rows = con.execute(
                    f"SELECT {_RECORD_COLUMNS} FROM materializations ORDER BY id DESC LIMIT ?",
                    (limit,),
                ).fetchall()
            else:
                rows = con.execute(
                    f"SELECT {_RECORD_COLUMNS} FROM materializations WHERE key = ? "
                    "ORDER BY id DESC LIMIT ?",
                    (str(key), limit),
                ).fetchall()
        keys: dict[str, AssetKey] = {} if key is None else {str(key): key}
        return [_record_from_row(row, 0, keys) for row in rows]

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first (by start time, then by insertion)."""
        with self._guard() as con:
            rows = con.execute(
                "SELECT run_id, started_at, status, ended_at, selection, pid FROM runs "
                "ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [RunRecord(*row) for row in rows]

    def file_observations(self, paths: Iterable[str]) -> dict[str, FileObservation]:
        """Cached content hashes of source files, by absolute path."""
        wanted = list(paths)
        if not wanted:
            return {}
        with self._guard() as con:
            rows = con.execute(
                "SELECT path, size, mtime_ns, digest FROM file_observations "
                f"WHERE path IN {_IN_LIST}",
                (_json(wanted),),
            ).fetchall()
        return {row[0]: FileObservation(*row) for row in rows}

    # -- writes ------------------------------------------------------------------------------

    def start_run(self, run: RunRecord) -> None:
        """Record a run (replacing one with the same id)."""
        with self._write() as con:
            con.execute(
                "INSERT INTO runs (run_id, started_at, ended_at, status, selection, pid) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                "started_at = excluded.started_at, ended_at = excluded.ended_at, "
                "status = excluded.status, selection = excluded.selection, pid = excluded.pid",
                (run.run_id, run.started_at, run.ended_at, run.status, run.selection, run.pid),
            )

    def finish_run(self, run_id: str, status: RunStatus, ended_at: float) -> None:
        """Set a run's final status and end time; an unknown run id is ignored."""
        with self._write() as con:
            con.execute(
                "UPDATE runs SET status = ?, ended_at = ? WHERE run_id = ?",
                (status, ended_at, run_id),
            )

    def record(self, records: Sequence[MaterializationRecord]) -> None:
        """Append records in one transaction and move each key's ``latest`` row with them."""
        if not records:
            return
        rows = [_row_from_record(r) for r in records]
        latest: dict[str, tuple[str, float]] = {}
        for rec, row in zip(records, rows, strict=True):
            latest[row[0]] = (rec.outcome, rec.ended_at or rec.started_at)
        with self._write() as con:
            (before,) = con.execute("SELECT coalesce(max(id), 0) FROM materializations").fetchone()
            con.executemany(
                f"INSERT INTO materializations ({_RECORD_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            # Each key's newest success among the rows just written (ids only grow, and this
            # transaction holds the write lock, so nobody else's rows are in the range).
            succeeded = dict(
                con.execute(
                    "SELECT key, max(id) FROM materializations "
                    "WHERE id > ? AND outcome = 'materialized' GROUP BY key",
                    (before,),
                ).fetchall()
            )
            con.executemany(
                "INSERT INTO latest (key, success_id, last_outcome, last_attempt_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "success_id = coalesce(excluded.success_id, success_id), "
                "last_outcome = excluded.last_outcome, last_attempt_at = excluded.last_attempt_at",
                [(text, succeeded.get(text), *values) for text, values in latest.items()],
            )

    def save_file_observations(self, observations: Iterable[FileObservation]) -> None:
        """Insert or replace the cached hashes of source files."""
        rows = [(o.path, o.size, o.mtime_ns, o.digest) for o in observations]
        if not rows:
            return
        with self._write() as con:
            con.executemany(
                "INSERT OR REPLACE INTO file_observations (path, size, mtime_ns, digest) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

    def acquire_locks(self, run_id: str, keys: Iterable[AssetKey], pid: int) -> list[LockConflict]:
        """Take every lock among ``keys`` for ``run_id`` in one transaction (all or nothing).

        Returns the conflicts: locks held by another run whose process is alive (or on another
        host). Locks of dead processes on this host are taken over: all locks of such a run are
        dropped, and the run, if still marked ``running``, is marked ``interrupted``.
        """
        wanted = list(dict.fromkeys("/".join(k) for k in keys))
        if not wanted:
            return []
        host = socket.gethostname()
        with self._write() as con:
            held = con.execute(
                f"SELECT key, run_id, pid, host FROM locks WHERE key IN {_IN_LIST} AND run_id != ?",
                (_json(wanted), run_id),
            ).fetchall()
            conflicts: list[LockConflict] = []
            dead: set[str] = set()
            for text, other, other_pid, other_host in held:
                if lock_holder_is_gone(other_pid, other_host):
                    dead.add(other)
                else:
                    conflicts.append(LockConflict(AssetKey.parse(text), other, other_pid))
            if conflicts:
                return sorted(conflicts, key=lambda c: c.key)  # commits having written nothing
            now = time.time()
            if dead:  # a killed run never finished: say so, and drop every lock it left
                runs = _json(sorted(dead))
                con.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = ? "
                    f"WHERE status = 'running' AND run_id IN {_IN_LIST}",
                    (now, runs),
                )
                con.execute(f"DELETE FROM locks WHERE run_id IN {_IN_LIST}", (runs,))
            con.executemany(
                "INSERT OR REPLACE INTO locks (key, run_id, pid, host, acquired_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(text, run_id, pid, host, now) for text in wanted],
            )
        return []

    def release_locks(self, run_id: str, keys: Iterable[AssetKey] | None = None) -> None:
        """Release ``run_id``'s locks: all of them, or those among ``keys``."""
        with self._write() as con:
            if keys is None:
                con.execute("DELETE FROM locks WHERE run_id = ?", (run_id,))
            else:
                con.execute(
                    f"DELETE FROM locks WHERE run_id = ? AND key IN {_IN_LIST}",
                    (run_id, _json([str(k) for k in keys])),
                )

    def forget(self, keys: Iterable[AssetKey]) -> None:
        """Delete every record of ``keys`` and their ``latest`` rows (``lumbung wipe``)."""
        texts = _json([str(k) for k in keys])
        with self._write() as con:
            con.execute(f"DELETE FROM latest WHERE key IN {_IN_LIST}", (texts,))
            con.execute(f"DELETE FROM materializations WHERE key IN {_IN_LIST}", (texts,))

    def close(self) -> None:
        """Close the connection (the last one out checkpoints the WAL into the file)."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> SQLiteStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStateStore({str(self.path)!r})"


# -- encoding ----------------------------------------------------------------------------------


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock."""
    text = str(exc)
    return "locked" in text or "busy" in text


def _locked_message(path: Path) -> str:
    return (
        f"{path} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s; wait for the "
        "other Lumbung run to finish, then retry."
    )


def _corrupt_message(path: Path, reason: object) -> str:
    return (
        f"{path} is not a readable Lumbung state store ({reason}); move it aside to start a "
        "new one — it is never reset automatically."
    )


_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_raw_decode = json.JSONDecoder().raw_decode  # json.loads minus its checks: 2.5x faster


def _loads(text: str) -> Any:
    return _raw_decode(text)[0]


def _row_from_record(rec: MaterializationRecord) -> tuple[Any, ...]:
    inputs = rec.inputs
    return (
        str(rec.key),
        rec.run_id,
        rec.outcome,
        rec.code_version,
        rec.data_version,
        _stored_inputs(inputs) if inputs else None,
        _json(dict(rec.code_components)) if rec.code_components else None,
        rec.started_at,
        rec.ended_at,
        rec.rows,
        rec.bytes,
        rec.location,
        _json([list(c) for c in rec.schema]) if rec.schema else None,
        rec.error,
        rec.partition,
    )


def _decode_schema(text: str) -> tuple[tuple[str, str], ...]:
    return cast(_Schema, tuple(map(tuple, _raw_decode(text)[0])))


def _record_from_row(
    row: Sequence[Any], at: int, keys: dict[str, AssetKey]
) -> MaterializationRecord:
    """Rebuild a record from the 15 record columns of ``row`` starting at index ``at``."""
    (key_text, run_id, outcome, code_version, data_version, inputs, components, started_at) = row[
        at : at + 8
    ]
    (ended_at, rows, nbytes, location, schema, error, partition) = row[at + 8 : at + 15]
    key = keys.get(key_text)
    if key is None:
        key = keys[key_text] = AssetKey.parse(key_text)
    return MaterializationRecord(
        key,
        run_id,
        cast(Outcome, outcome),
        code_version,
        data_version,
        _EMPTY if inputs is None else EncodedInputs(inputs, keys),
        _EMPTY if components is None else _LazyComponents(components),
        started_at,
        ended_at,
        rows,
        nbytes,
        location,
        () if schema is None else _decode_schema(schema),
        error,
        partition,
    )


def _stored_inputs(inputs: Mapping[AssetKey, str | None]) -> str:
    """The text stored for a record's ``inputs``; a record read back keeps its text."""
    if type(inputs) is EncodedInputs:
        return inputs.text
    return encode_inputs(inputs)


class _LazyComponents(LazyMapping[str, str]):
    """A record's ``code_components``, parsed from its JSON text on first use."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text
        self._data = None

    def _load(self) -> dict[str, str]:
        return cast(dict[str, str], _loads(self._text))
