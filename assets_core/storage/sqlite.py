"""The durable state store: SQLite in WAL mode at ``<storage>/state.db``.

``SQLiteStateStore`` implements ``assets_core.storage.state.StateStore``. One connection per store,
guarded by a lock, so a store object may be shared by threads; several processes share the
file through SQLite's own locking (WAL readers never block, writers take ``BEGIN IMMEDIATE``
and wait up to 30 s). The tables are in ``sqlite_schema``: ``materializations`` is append-only,
and ``latest`` is moved in the same transaction as each ``record``, so the planner reads every
step's state in one join.

Opening a file written by an older Lumbung upgrades it (``migrations``); a file that is corrupt
or written by a newer schema is an error, never reset. Locations under the storage folder are
kept relative to it and handed out absolute under the folder the store is opened at
(``locations``), so a copied or moved project finds its outputs.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from assets_core.errors import StateError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage import sqlite_ticks
from assets_core.storage.fencing import RunFence
from assets_core.storage.liveness import holder_of
from assets_core.storage.locations import RELATIVE, absolute_location, stored_location
from assets_core.storage.migrations import upgrade
from assets_core.storage.nofollow import identity, moved, planted
from assets_core.storage.planstate import PlanState
from assets_core.storage.sqlite_locks import Locks
from assets_core.storage.sqlite_rows import (
    CHECK_COLUMNS,
    EMPTY,
    FIELDS,
    RECORD_COLUMNS,
    LazyComponents,
    check_from_row,
    check_row,
    json_text,
    known_step,
    new_step,
    record_from_row,
    row_from_record,
)
from assets_core.storage.sqlite_schema import SCHEMA_VERSION, create_schema
from assets_core.storage.state import (
    CheckRecord,
    EncodedInputs,
    FileObservation,
    HeldLock,
    LockConflict,
    LogLine,
    LogStream,
    MaterializationRecord,
    RunRecord,
    RunStatus,
    StepState,
)
from assets_core.storage.ticks import TickOutcome, TickRecord

__all__ = ["SCHEMA_VERSION", "STATE_FILE", "SQLiteStateStore", "open_state_store"]

STATE_FILE = "state.db"
_FILES = ("", "-wal", "-shm", "-journal")  # the state file and SQLite's files beside it
BUSY_TIMEOUT_S = 30.0

# A step's text as ``str(step)`` writes it: "a/b", or "a/b[p]" for a partition.
_STEP_TEXT = (
    "CASE WHEN l.\"partition\" = '' THEN l.key ELSE l.key || '[' || l.\"partition\" || ']' END"
)
# latest(): each step's text and state, every field of its last success (NULLs when there is
# none), then every field of its last attempt when that failed.
# A fingerprint planning found again under a new one (``remember_fingerprints``) is the last
# success's until the next success.
_FINGERPRINT = "coalesce(l.fingerprint, m.fingerprint)"
_LATEST_SQL = (
    f"SELECT {_STEP_TEXT}, l.last_outcome, l.last_attempt_at, "
    + ", ".join(_FINGERPRINT if c == "fingerprint" else f"m.{c}" for c in FIELDS)
    + ", "
    + ", ".join(f"f.{c}" for c in FIELDS)
    + " FROM latest l LEFT JOIN materializations m ON m.id = l.success_id "
    "LEFT JOIN materializations f ON l.last_outcome = 'failed' AND f.id = l.attempt_id{where}"
)
# latest(detail=False): just what planning compares, as ``PlanState`` rows (its four values
# first: code version, data version, inputs, fingerprint; then the step, then the last
# success's start and end times, which a status shows and a run compares). A row per step (its
# last success; NULLs when it has none), and, in a query of its own, a row per step whose last
# attempt failed (that attempt; nothing else of ``StepState`` but its code components and
# times). The rest of a step's state (``_DETAIL_SQL``) is read only for the steps a plan asks
# about (``PlanState.read_details``): of 109,600 fresh steps, none.
_PLAN_SQL = (
    f'SELECT m.code_version, m.data_version, m.inputs, {_FINGERPRINT}, l.key, l."partition", '
    "m.started_at, m.ended_at "
    "FROM latest l LEFT JOIN materializations m ON m.id = l.success_id{where}"
)
_FAILED_SQL = (
    'SELECT f.code_version, NULL, f.inputs, NULL, l.key, l."partition", f.code_components, '
    "f.started_at, f.ended_at FROM latest l JOIN materializations f ON f.id = l.attempt_id "
    "WHERE l.last_outcome = 'failed'{and_where}"
)
# the rest of each step's ``StepState`` (its last outcome and attempt time, its last success's
# code components and location), by step
_DETAIL_SQL = (
    'SELECT l.key, l."partition", l.last_outcome, l.last_attempt_at, m.code_components, '
    "m.location "
    "FROM latest l LEFT JOIN materializations m ON m.id = l.success_id WHERE {where}"
)
#: the id the last record was given, or would have been (``record``): AUTOINCREMENT's next id is
#: one past the larger of the table's largest id and the largest there ever was
_LAST_ID = (
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'materializations'), 0), "
    "coalesce((SELECT max(id) FROM materializations), 0))"
)
_MAX_LIMIT = 2**62  # a larger LIMIT overflows SQLite's 64-bit integers
_SCAN_ALL_ABOVE = 2000  # asking for more keys than this: read every row, filter in Python
#: SQLite's words for a store this process cannot write (permissions, a read-only mount, I/O)
_CANNOT_WRITE = ("readonly", "read-only", "disk I/O error", "disk is full", "unable to open")
_IN_LIST = "(SELECT value FROM json_each(?))"  # a whole key list bound as one JSON parameter
# a whole list of steps, bound as one JSON parameter: [["a/b", ""], ["c", "2024-01-05"]]
_STEP_IN_LIST = (
    "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"
)


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
    """A ``StateStore`` in one SQLite file, safe across threads and processes.

    The folder holding the file is the storage folder that locations are relative to.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._root = str(path.parent.absolute())
        # the storage folder's spellings a location may start with: as named (as the IO
        # managers name it), and with symlinks resolved
        self._folders = tuple(dict.fromkeys((self._root, str(path.parent.resolve()))))
        self._lock = threading.Lock()
        self._locks = Locks(path.parent)
        link = planted(path.with_name(path.name + s) for s in _FILES)
        if link is not None:
            raise StateError(_link_message(link))
        before = identity(path)
        self._connect()
        try:
            self._open()
            if moved(path, before):  # a link swapped in while SQLite opened the file
                raise StateError(_link_message(path))
        except BaseException:
            self._con.close()
            raise

    def _connect(self) -> None:
        path = self.path
        try:
            self._con = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StateError(
                f"{path} cannot be opened ({exc}); check that its folder exists and that this "
                "user may read and write it."
            ) from exc

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
            if found < SCHEMA_VERSION:
                self._patiently("BEGIN IMMEDIATE")
                try:
                    # Another process may have created or upgraded the file while we waited.
                    found = con.execute("PRAGMA user_version").fetchone()[0]
                    if found == 0:
                        self._create_schema()
                    else:
                        upgrade(con, self.path, self._root)  # copies the file first
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
        create_schema(con)

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
    ) -> Mapping[StepKey, StepState]:
        """The state of every step (every partition) of the given assets that has records (of
        all known assets when ``None``).

        One query joining ``latest`` to the last successful record, and to the last attempt
        when it failed; inputs keep their stored text and ``code_components`` is decoded from
        JSON, both on first use. ``detail=False`` (planning) reads only the columns the
        planner compares, as a ``PlanState``: each step's ``StepState`` is made on first use,
        and the rest of a step's state is read when asked (``PlanState.read_details``).
        """
        # Step keys by their text ("a/b", "a/b[p]"), shared with every record's inputs. The
        # asked keys' unpartitioned steps are made up front, so that, when every row is read
        # and filtered here, a row whose text is missing is a partition or an asset not asked.
        steps: dict[str, StepKey] = {}
        wanted: dict[str, StepKey] | None = None
        args: tuple[str, ...] = ()
        where = and_where = ""
        if keys is not None:
            new = tuple.__new__
            steps = {"/".join(k): new(StepKey, (k, None)) for k in keys}
            if not steps:
                return {}
            if len(steps) > _SCAN_ALL_ABOVE:
                wanted = steps
            else:
                where, and_where = f" WHERE l.key IN {_IN_LIST}", f" AND l.key IN {_IN_LIST}"
                args = (json_text(list(steps)),)
        if detail:
            with self._guard() as con:
                rows = con.execute(_LATEST_SQL.format(where=where), args).fetchall()
            return self._detailed(rows, steps, wanted)
        with self._guard() as con:
            rows = con.execute(_PLAN_SQL.format(where=where), args).fetchall()
            failures = con.execute(_FAILED_SQL.format(and_where=and_where), args).fetchall()
        # The hot loop of planning: rows kept as read, grouped by asset and partition ('' for
        # none); a step's ``StepState`` is made when the plan asks for it (``_plan_maker``).
        by_asset = _grouped(rows, steps, wanted)
        failed = _grouped(failures, steps, wanted)
        return PlanState(by_asset, failed, _plan_maker(steps, self._root), self._plan_details)

    def _plan_details(
        self, assets: Sequence[AssetKey], steps: Sequence[StepKey]
    ) -> list[tuple[Any, ...]]:
        """The rest of the state (``_DETAIL_SQL`` rows, see ``PlanState``) of every step of
        ``assets`` and of ``steps``: of an asset by its key (reading the steps one by one
        through a JSON list costs more than reading them all when many are asked)."""
        out: list[tuple[Any, ...]] = []
        with self._guard() as con:
            if assets:
                sql = _DETAIL_SQL.format(where=f"l.key IN {_IN_LIST}")
                out += con.execute(sql, (json_text(["/".join(k) for k in assets]),)).fetchall()
            if steps:
                sql = _DETAIL_SQL.format(where=f'(l.key, l."partition") IN {_STEP_IN_LIST}')
                texts = json_text([["/".join(s[0]), s[1] or ""] for s in steps])
                out += con.execute(sql, (texts,)).fetchall()
        return out

    def _detailed(
        self, rows: list[Any], steps: dict[str, StepKey], wanted: dict[str, StepKey] | None
    ) -> dict[StepKey, StepState]:
        out: dict[StepKey, StepState] = {}
        root = self._root
        failed_at = 3 + len(FIELDS)
        for row in rows:
            step = steps.get(row[0])
            if step is None:
                step = new_step(steps, row[0], wanted)
                if step is None:
                    continue
            last = None if row[3] is None else record_from_row(step, row, 3, steps, root)
            failure = (
                None
                if row[failed_at] is None
                else record_from_row(step, row, failed_at, steps, root)
            )
            out[step] = StepState(last, row[1], row[2], failure)
        return out

    def history(
        self,
        key: AssetKey | None = None,
        limit: int = 50,
        *,
        partition: str | None = None,
        by_run: bool = False,
    ) -> list[MaterializationRecord]:
        """Records, newest first; of one asset (and one of its partitions) when given; with
        ``by_run``, every record of the newest ``limit`` runs that have one."""
        select = f"SELECT {RECORD_COLUMNS} FROM materializations"
        args: tuple[Any, ...]
        if key is None:
            where, args = "", cast("tuple[str, ...]", ())
        elif partition is None:
            where, args = " WHERE key = ?", (str(key),)
        else:
            where, args = ' WHERE key = ? AND "partition" = ?', (str(key), partition)
        limit = min(max(0, limit), _MAX_LIMIT)
        if by_run:
            runs = (
                f"SELECT run_id FROM materializations{where} "
                "GROUP BY run_id ORDER BY MAX(id) DESC LIMIT ?"
            )
            joiner = " AND" if where else " WHERE"
            sql = f"{select}{where}{joiner} run_id IN ({runs}) ORDER BY id DESC"
            args = (*args, *args, limit)
        else:
            sql, args = f"{select}{where} ORDER BY id DESC LIMIT ?", (*args, limit)
        with self._guard() as con:
            rows = con.execute(sql, args).fetchall()
        steps: dict[str, StepKey] = {}
        root = self._root
        out = []
        for row in rows:
            step = known_step(steps, row[0], row[1])
            out.append(record_from_row(step, row, 2, steps, root))
        return out

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first (by start time, then by insertion)."""
        with self._guard() as con:
            rows = con.execute(
                "SELECT run_id, started_at, status, ended_at, selection, pid FROM runs "
                "ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (min(max(0, limit), _MAX_LIMIT),),
            ).fetchall()
        return [RunRecord(*row) for row in rows]

    def recorded_keys(self) -> set[AssetKey]:
        """Every asset key with a record (each step with one has a ``latest`` row)."""
        with self._guard() as con:
            rows = con.execute("SELECT DISTINCT key FROM latest").fetchall()
        return {AssetKey.parse(text) for (text,) in rows}

    def output_locations(
        self, keys: Iterable[AssetKey] | None = None
    ) -> dict[StepKey, tuple[str, ...]]:
        """Each step's distinct successful locations, newest first, in one query (absolute
        under the folder the store is opened at, as ``latest`` hands them out)."""
        sql = (
            'SELECT key, "partition", location FROM materializations '
            "WHERE outcome = 'materialized' AND location IS NOT NULL{where} "
            'GROUP BY key, "partition", location ORDER BY key, "partition", max(id) DESC'
        )
        args: tuple[str, ...] = ()
        where = ""
        if keys is not None:
            texts = [str(k) for k in keys]
            if not texts:
                return {}
            where, args = f" AND key IN {_IN_LIST}", (json_text(texts),)
        with self._guard() as con:
            rows = con.execute(sql.format(where=where), args).fetchall()
        steps: dict[str, StepKey] = {}
        found: dict[StepKey, list[str]] = {}
        root = self._root
        for text, part, location in rows:
            step = known_step(steps, text, part)
            found.setdefault(step, []).append(absolute_location(location, root))
        return {step: tuple(places) for step, places in found.items()}

    def file_observations(self, paths: Iterable[str]) -> dict[str, FileObservation]:
        """Cached content hashes of source files, by absolute path."""
        wanted = list(paths)
        if not wanted:
            return {}
        with self._guard() as con:
            rows = con.execute(
                "SELECT path, size, mtime_ns, ctime_ns, digest FROM file_observations "
                f"WHERE path IN {_IN_LIST}",
                (json_text(wanted),),
            ).fetchall()
        return {row[0]: FileObservation(*row) for row in rows}

    def logs(self, run_id: str, key: AssetKey | None = None) -> list[LogLine]:
        """The lines of one run (of one asset's steps), ordered by step, then by ``seq``."""
        sql = 'SELECT key, "partition", seq, at, stream, level, message FROM step_logs '
        order = ' ORDER BY key, "partition", seq'
        with self._guard() as con:
            if key is None:
                rows = con.execute(f"{sql}WHERE run_id = ?{order}", (run_id,)).fetchall()
            else:
                rows = con.execute(
                    f"{sql}WHERE run_id = ? AND key = ?{order}", (run_id, str(key))
                ).fetchall()
        steps: dict[str, StepKey] = {}
        out = []
        for text, part, seq, at, stream, level, message in rows:
            step = known_step(steps, text, part)
            out.append(LogLine(step, run_id, seq, at, cast(LogStream, stream), level, message))
        return out

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
        """Append records in one transaction and move each step's ``latest`` row with them."""
        if not records:
            return
        folders = self._folders
        rows = [row_from_record(r, folders) for r in records]
        with self._write() as con:
            # AUTOINCREMENT gives each new row the id after the largest there ever was (kept
            # in sqlite_sequence) and this transaction holds the write lock, so the rows get
            # the ids after ``before``, in order: each step's newest record and newest success
            # among them follow without reading them back.
            (before,) = con.execute(_LAST_ID).fetchone()
            con.executemany(
                f"INSERT INTO materializations ({RECORD_COLUMNS}) "
                f"VALUES ({', '.join('?' * (2 + len(FIELDS)))})",
                rows,
            )
            (last,) = con.execute("SELECT last_insert_rowid()").fetchone()
            if last != before + len(rows):
                raise StateError(
                    f"{self.path}: records were given ids {before + 1}..{last} for "
                    f"{len(rows)} rows; the state file was changed by something other than "
                    "Lumbung. Move it aside and materialize again."
                )
            # each step's (newest success, newest record, its outcome, when it was attempted)
            latest: dict[tuple[str, str], tuple[int | None, int, str, float]] = {}
            for at, (rec, row) in enumerate(zip(records, rows, strict=True), before + 1):
                success = at if rec.outcome == "materialized" else None
                if success is None and (row[0], row[1]) in latest:
                    success = latest[row[0], row[1]][0]
                latest[row[0], row[1]] = (success, at, rec.outcome, rec.ended_at or rec.started_at)
            con.executemany(
                'INSERT INTO latest (key, "partition", success_id, attempt_id, last_outcome, '
                'last_attempt_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key, "partition") '
                "DO UPDATE SET success_id = coalesce(excluded.success_id, success_id), "
                "attempt_id = excluded.attempt_id, last_outcome = excluded.last_outcome, "
                "last_attempt_at = excluded.last_attempt_at, "
                "fingerprint = CASE WHEN excluded.success_id IS NULL THEN fingerprint END",
                [(text, part, *values) for (text, part), values in latest.items()],
            )

    def save_file_observations(self, observations: Iterable[FileObservation]) -> None:
        """Insert or replace the cached hashes of source files."""
        rows = [(o.path, o.size, o.mtime_ns, o.ctime_ns, o.digest) for o in observations]
        if not rows:
            return
        with self._write() as con:
            con.executemany(
                "INSERT OR REPLACE INTO file_observations (path, size, mtime_ns, ctime_ns, "
                "digest) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def remember_fingerprints(self, found: Mapping[StepKey, tuple[str, str | None]]) -> None:
        """Note, in one transaction, that these steps' outputs hold their last success's data
        under a new fingerprint: ``latest`` hands it out with that success until the next.
        A step whose last success has another data version by now is left alone."""
        rows = [
            (fp, "/".join(step[0]), step[1] or "", version) for step, (fp, version) in found.items()
        ]
        if not rows:
            return
        with self._write() as con:
            con.executemany(
                'UPDATE latest SET fingerprint = ? WHERE key = ? AND "partition" = ? AND '
                "(SELECT data_version FROM materializations WHERE id = latest.success_id) IS ?",
                rows,
            )

    def append_logs(self, lines: Iterable[LogLine]) -> None:
        """Store lines in one transaction; one with the run, step and ``seq`` of a stored
        line replaces it."""
        rows = [
            (
                line.run_id,
                "/".join(line.step[0]),
                line.step[1] or "",
                line.seq,
                line.at,
                line.stream,
                line.level,
                line.message,
            )
            for line in lines
        ]
        if not rows:
            return
        with self._write() as con:
            con.executemany(
                'INSERT OR REPLACE INTO step_logs (run_id, key, "partition", seq, at, stream, '
                "level, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def acquire_locks(self, run_id: str, steps: Iterable[StepKey], pid: int) -> list[LockConflict]:
        """Take every lock among ``steps`` for ``run_id`` in one transaction (all or nothing).

        Returns the conflicts, sorted: locks held by another run whose process lives, or may
        (another machine). Locks of dead holders are taken over: all locks of such a run are
        dropped, and the run, if still marked ``running``, is marked ``interrupted``. See
        ``sqlite_locks`` for how a holder is known to be dead."""
        first = not self._locks.holds(run_id)
        try:
            with self._write() as con:
                return self._locks.acquire(con, run_id, steps, pid)
        except BaseException:  # rolled back: an OS lock taken by this call goes with it
            if first:
                self._locks.let_go(run_id)
            raise

    def release_locks(self, run_id: str, steps: Iterable[StepKey] | None = None) -> None:
        """Release ``run_id``'s locks: all of them (and then the run's OS lock), or those
        among ``steps``."""
        if steps is None:
            with self._write() as con:
                self._locks.release_all(con, run_id)
            self._locks.let_go(run_id)
            return
        whole: list[str] = []  # unpartitioned steps, by asset key: what SQLite finds fastest
        parts: list[tuple[str, str]] = []
        for step in steps:
            if step[1] is None:
                whole.append("/".join(step[0]))
            else:
                parts.append(("/".join(step[0]), step[1]))
        with self._write() as con:
            if whole:
                con.execute(
                    "DELETE FROM locks WHERE run_id = ? AND \"partition\" = '' "
                    f"AND key IN {_IN_LIST}",
                    (run_id, json_text(whole)),
                )
            if parts:
                con.execute(
                    f'DELETE FROM locks WHERE run_id = ? AND (key, "partition") IN {_STEP_IN_LIST}',
                    (run_id, json_text(parts)),
                )

    def locks(self) -> list[HeldLock]:
        """Every step lock, by run then step, each with whether its holder lives."""
        with self._write() as con:  # the write lock: no run takes or drops locks meanwhile
            return self._locks.listed(con)

    def break_locks(self, run_ids: Iterable[str]) -> int:
        """Drop every lock of ``run_ids`` whatever their holders (``lumbung unlock``), mark
        those runs ``interrupted`` if still ``running``; the number of locks dropped."""
        with self._write() as con:
            return self._locks.broken(con, run_ids)

    def fence(self, run_id: str) -> RunFence:
        """What a worker process of ``run_id`` (this process's run) publishes under."""
        return RunFence(self.path, run_id, holder_of(os.getpid()))

    def dynamic_keys(self, names: Iterable[str] | None = None) -> dict[str, list[str]]:
        """The keys of each named dynamic set (every set when ``None``), in the order added."""
        sql = "SELECT name, key FROM dynamic_partitions"
        args: tuple[str, ...] = ()
        if names is not None:
            wanted = list(names)
            if not wanted:
                return {}
            sql += f" WHERE name IN {_IN_LIST}"
            args = (json_text(wanted),)
        with self._guard() as con:
            rows = con.execute(sql + " ORDER BY rowid", args).fetchall()
        out: dict[str, list[str]] = {}
        for name, key in rows:
            out.setdefault(name, []).append(key)
        return out

    def add_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add ``keys`` to the dynamic set ``name`` in one transaction; the ones that were new."""
        wanted = list(dict.fromkeys(keys))
        now = time.time()
        with self._write() as con:
            there = {
                k
                for (k,) in con.execute(
                    f"SELECT key FROM dynamic_partitions WHERE name = ? AND key IN {_IN_LIST}",
                    (name, json_text(wanted)),
                )
            }
            added = [k for k in wanted if k not in there]
            con.executemany(
                "INSERT INTO dynamic_partitions (name, key, added_at) VALUES (?, ?, ?)",
                [(name, k, now) for k in added],
            )
        return added

    def remove_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove ``keys`` from the dynamic set ``name``; the ones that were there."""
        wanted = list(dict.fromkeys(keys))
        with self._write() as con:
            there = {
                k
                for (k,) in con.execute(
                    f"SELECT key FROM dynamic_partitions WHERE name = ? AND key IN {_IN_LIST}",
                    (name, json_text(wanted)),
                )
            }
            removed = [k for k in wanted if k in there]
            con.execute(
                f"DELETE FROM dynamic_partitions WHERE name = ? AND key IN {_IN_LIST}",
                (name, json_text(removed)),
            )
        return removed

    def record_checks(self, records: Sequence[CheckRecord]) -> None:
        """Append check results in one transaction."""
        if not records:
            return
        rows = [check_row(r) for r in records]
        with self._write() as con:
            con.executemany(
                f"INSERT INTO check_results ({CHECK_COLUMNS}) VALUES "
                f"({', '.join('?' * len(rows[0]))})",
                rows,
            )

    def latest_checks(
        self, keys: Iterable[AssetKey] | None = None
    ) -> dict[tuple[StepKey, str], CheckRecord]:
        """The newest result of each check of each step, by (step, check name)."""
        where, args = "", cast("tuple[str, ...]", ())
        if keys is not None:
            where, args = f"WHERE key IN {_IN_LIST}", (json_text([str(k) for k in keys]),)
        with self._guard() as con:
            rows = con.execute(
                f"SELECT {CHECK_COLUMNS} FROM check_results WHERE id IN (SELECT max(id) FROM "
                f'check_results {where} GROUP BY key, "partition", check_name) ORDER BY id',
                args,
            ).fetchall()
        out = {}
        for row in rows:
            record = check_from_row(row)
            out[(record.step, record.name)] = record
        return out

    def forget(self, keys: Iterable[AssetKey]) -> None:
        """Delete every record of ``keys``, all their partitions, and their ``latest`` rows
        (``lumbung wipe``). Runs and their logs stay."""
        texts = json_text([str(k) for k in keys])
        with self._write() as con:
            con.execute(f"DELETE FROM check_results WHERE key IN {_IN_LIST}", (texts,))
            con.execute(f"DELETE FROM latest WHERE key IN {_IN_LIST}", (texts,))
            con.execute(f"DELETE FROM materializations WHERE key IN {_IN_LIST}", (texts,))

    def forget_outputs(self, outputs: Iterable[tuple[StepKey, str]]) -> None:
        """Delete each step's records at the paired location, in one transaction; a step
        whose last success (or last attempt) is one of them loses every record and its
        ``latest`` row."""
        folders = self._folders
        rows = [
            ("/".join(step[0]), step[1] or "", stored_location(location, folders))
            for step, location in outputs
        ]
        if not rows:
            return
        with self._write() as con:
            whole = {
                (text, part)
                for text, part, location in rows
                if con.execute(
                    "SELECT 1 FROM latest l JOIN materializations m ON m.id IN "
                    '(l.success_id, l.attempt_id) WHERE l.key = ? AND l."partition" = ? '
                    "AND m.location = ?",
                    (text, part, location),
                ).fetchone()
            }
            if whole:
                con.executemany(
                    'DELETE FROM latest WHERE key = ? AND "partition" = ?', sorted(whole)
                )
                con.executemany(
                    'DELETE FROM materializations WHERE key = ? AND "partition" = ?',
                    sorted(whole),
                )
            con.executemany(
                'DELETE FROM materializations WHERE key = ? AND "partition" = ? AND location = ?',
                [row for row in rows if row[:2] not in whole],
            )

    def forget_steps(self, steps: Iterable[StepKey]) -> None:
        """Delete every record of ``steps`` (partitions of assets: ``lumbung wipe
        --partitions``), and their ``latest`` rows. Runs and their logs stay."""
        texts = json_text([("/".join(s[0]), s[1] or "") for s in steps])
        with self._write() as con:
            for table in ("latest", "materializations", "check_results"):
                con.execute(
                    f'DELETE FROM {table} WHERE (key, "partition") IN {_STEP_IN_LIST}', (texts,)
                )

    # -- ticks (storage/ticks.py) -------------------------------------------------------------

    def insert_tick(self, tick: TickRecord) -> bool:
        """Record ``tick``; False (and nothing written) when its name and tick exist."""
        with self._write() as con:
            return sqlite_ticks.insert_tick(con, tick)

    def update_tick(
        self,
        name: str,
        tick: str,
        *,
        outcome: TickOutcome,
        run_id: str | None = None,
        pid: int | None = None,
        ended_at: float | None = None,
        detail: str | None = None,
    ) -> None:
        """Set a tick's outcome, and the fields given (others keep their value)."""
        with self._write() as con:
            sqlite_ticks.update_tick(con, name, tick, outcome, run_id, pid, ended_at, detail)

    def ticks(
        self,
        names: Iterable[str] | None = None,
        outcomes: Iterable[str] | None = None,
        limit: int = 100,
    ) -> list[TickRecord]:
        """Ticks, latest scheduled first, of ``names`` (default all) with ``outcomes``."""
        with self._guard() as con:
            return sqlite_ticks.select_ticks(con, names, outcomes, min(limit, _MAX_LIMIT))

    def last_ticks(self) -> dict[str, TickRecord]:
        """Each name's latest tick (by scheduled time, then by insertion)."""
        with self._guard() as con:
            return sqlite_ticks.last_ticks(con)

    def run_of_pid(self, pid: int, since: float) -> str | None:
        """The run the process ``pid`` started at or after ``since``, if it recorded one."""
        with self._guard() as con:
            return sqlite_ticks.run_of_pid(con, pid, since)

    def ticks_of_runs(self, run_ids: Iterable[str]) -> dict[str, TickRecord]:
        """The tick that started each of ``run_ids`` (those started by a tick)."""
        with self._guard() as con:
            return sqlite_ticks.ticks_of_runs(con, run_ids)

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


# -- messages ----------------------------------------------------------------------------------


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock."""
    text = str(exc)
    return "locked" in text or "busy" in text


def _link_message(link: Path) -> str:
    return (
        f"{link} is a symbolic link, and Lumbung never follows links in its storage folder; "
        "remove it (to keep the state it points to, move that file into its place)."
    )


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


def _grouped(
    rows: list[Any], steps: dict[str, StepKey], wanted: dict[str, StepKey] | None
) -> dict[AssetKey, dict[str | None, tuple[Any, ...]]]:
    """``_PLAN_SQL`` or ``_FAILED_SQL`` rows by asset and partition (``''``: none), those of
    the assets asked for (``wanted``; ``None``: all read)."""
    by_asset: dict[AssetKey, dict[str | None, tuple[Any, ...]]] = {}
    previous: str | None = None
    key: AssetKey | None = None
    group: dict[str | None, tuple[Any, ...]] = {}
    for row in rows:
        name = row[4]
        if name != previous:
            previous = name
            step = steps.get(name) or new_step(steps, name, wanted)
            if step is None:  # an asset not asked for
                key = None
                continue
            key = step[0]
            group = by_asset.get(key) or by_asset.setdefault(key, {})
        elif key is None:
            continue
        group[row[5] or None] = row
    return by_asset


def _plan_maker(
    steps: dict[str, StepKey], root: str
) -> Callable[
    [StepKey, tuple[Any, ...], tuple[Any, ...] | None, tuple[Any, ...] | None], StepState
]:
    """How a ``PlanState`` of ``_PLAN_SQL`` rows makes a step's ``StepState`` from its row,
    its ``_DETAIL_SQL`` row (``None`` when not read: no code components, location or outcome)
    and its ``_FAILED_SQL`` row: its last success and last failure leave out what
    planning does not read (run id, rows, bytes, schema, error). ``steps`` caches parsed step
    keys for the records' inputs."""
    record = MaterializationRecord
    # absolute_location, inlined: on posix a relative location is the folder + its rest
    base = root.rstrip("/") if os.sep == "/" else None
    none: tuple[Any, ...] = (None,) * 6

    def make(
        step: StepKey,
        row: tuple[Any, ...],
        detail: tuple[Any, ...] | None,
        failure: tuple[Any, ...] | None,
    ) -> StepState:
        last = None
        more = none if detail is None else detail
        if row[0] is not None:
            location = more[5]
            if location is not None and location.startswith(RELATIVE):
                if base is not None:
                    location = base + location[1:]
                else:
                    location = absolute_location(location, root)
            inputs, components = row[2], more[4]
            last = record(
                step,
                "",
                "materialized",
                row[0],
                row[1],
                EMPTY if inputs is None else EncodedInputs(inputs, steps),
                EMPTY if components is None else LazyComponents(components),
                row[6],
                row[7],
                None,
                None,
                location,
                (),
                None,
                row[3],
            )
        state = StepState(last, more[2], more[3])
        if failure is not None:
            inputs, components = failure[2], failure[6]
            state.failure = record(
                step,
                "",
                "failed",
                failure[0],
                None,
                EMPTY if inputs is None else EncodedInputs(inputs, steps),
                EMPTY if components is None else LazyComponents(components),
                failure[7],
                failure[8],
            )
        return state

    return make
