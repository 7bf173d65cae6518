"""The warehouse file: one DuckDB database instance per manager (``_Warehouse``), opened on
the first operation. Every operation uses its own cursor (a connection to that instance), so
the threads executor can save many assets at once. Schemas are created under a lock, because
two transactions creating the same schema conflict.

DuckDB lets many processes open a file read-only, or one open it read-write. A handle made
``read_only`` opens it read-only and never creates it, so only a writer keeps it out. When
another process holds the file, opening waits with backoff (``lock_timeout``, default 30 s,
or the ``wait`` an operation asks for), says once on stderr who holds it (``holder``) when
the wait passes a second, and then raises ``WarehouseLocked``, one line naming the holder. The
file is released ``idle_close`` seconds after the last operation
finishes (a reaper thread checks), at once by ``close()``, and at interpreter exit, so other
tools and a second run can open it between runs. Managers in several processes (the
processes executor) take turns. A manager waiting for the file touches ``<file>.wait``, and
a manager that sees a fresh touch releases the file as soon as none of its operations is
running. ``cursor(create=False)``, which ``exists``, ``load`` and ``delete`` use, never
creates the file. A handle inherited through fork is never used or closed.

A damaged file is refused as it is opened, with one line naming it and the way out
(``WarehouseDamaged``): one DuckDB finds corrupt while reading its headers and catalog, and one
shorter than the blocks its header says are in use (DuckDB reads nothing else on opening, so a
file cut short would otherwise open). ``set_aside_if_damaged`` moves such a file aside.

No link is followed: a symbolic link where the warehouse, its write-ahead log, its spill
folder or the wait file belongs is refused in one line before DuckDB opens anything (DuckDB
itself would follow it), the file opened is checked to be the one checked, and the wait file is
touched with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import stat
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from assets_core.errors import IOManagerError
from io_managers.duckdb.catalog import _Catalog
from io_managers.duckdb.holder import Holder, holder_of, locked_message, waiting_line
from io_managers.duckdb.sql import quote_ident

if TYPE_CHECKING:
    import duckdb

_WAIT_FRESH = 2.0  # seconds a touch of the wait file counts as a process still waiting
#: seconds of waiting for the file before saying so: taking turns with another Lumbung process
#: (the processes executor's workers, the command that planned their run) is quicker than that
_QUIET_WAIT = 1.0

_OPEN: weakref.WeakSet[_Warehouse] = weakref.WeakSet()  # closed at interpreter exit


_reaper_lock = threading.Lock()
_reaper: threading.Thread | None = None
_REAP_EVERY = 0.1  # seconds between checks for idle handles


@atexit.register
def _close_all() -> None:
    with _reaper_lock:
        warehouses = list(_OPEN)
    for warehouse in warehouses:
        warehouse.close()


def _track(warehouse: _Warehouse) -> None:
    """Note an open handle, and start the thread that closes idle files unless it runs."""
    global _reaper
    with _reaper_lock:
        _OPEN.add(warehouse)
        if _reaper is None or not _reaper.is_alive():  # not alive: inherited through fork
            _reaper = threading.Thread(target=_reap, name="lumbung-duckdb-idle", daemon=True)
            _reaper.start()


def _reap() -> None:
    """Close files once idle; stop when none is open (``_track`` restarts it)."""
    global _reaper
    while True:
        time.sleep(_REAP_EVERY)
        with _reaper_lock:
            warehouses = list(_OPEN)
        now = time.monotonic()
        still_open = [w for w in warehouses if w._close_if_idle(now)]  # checks every one
        if still_open:
            continue
        with _reaper_lock:  # a handle opened meanwhile sets _db before calling _track
            if not any(w._db is not None for w in _OPEN):
                _reaper = None
                return


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


#: what DuckDB says about a file that is damaged (as opposed to locked, or not readable)
_DAMAGE = ("Corrupt database file", "Could not read enough bytes", "not a valid DuckDB database")
#: the bytes before a DuckDB file's first block: its main header and two database headers
_HEADER_BYTES = 3 * 4096
#: the name the warehouse's manager is registered under (``lumbung wipe --io duckdb``)
MANAGER_NAME = "duckdb"


#: what lies beside the warehouse: itself, DuckDB's write-ahead log and spill folder, and the
#: file a waiting process touches; none of them may be a link
_BESIDE = ("", ".wal", ".tmp", ".wait")
#: how the wait file is touched: created if need be, never through a link
_TOUCH_FLAGS = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _link_message(path: Path) -> str:
    return (
        f"{path} is a symbolic link, which Lumbung does not follow in its storage folder; "
        "remove it (Lumbung keeps the DuckDB warehouse and its own files there)."
    )


def _is_damage(exc: BaseException) -> bool:
    text = str(exc)
    return any(words in text for words in _DAMAGE)


class WarehouseDamaged(IOManagerError):
    """The warehouse file is damaged (corrupt or truncated): no table of it can be trusted."""


class WarehouseLocked(IOManagerError):
    """Another process held the warehouse file for the whole wait (``holder``: which)."""

    def __init__(self, message: str, holder: Holder) -> None:
        super().__init__(message)
        self.holder = holder


def _tell(line: str) -> None:
    """A line about waiting, on stderr (where a command's notes go, never its data)."""
    stream = sys.stderr
    if stream is not None:
        with contextlib.suppress(OSError, ValueError):  # closed, or a pipe nobody reads
            stream.write(line + "\n")
            stream.flush()


def _mixed_message(path: Path, read_only: bool) -> str:
    mode, other = ("read-only", "read-write") if read_only else ("read-write", "read-only")
    return (
        f"{path} is open {other} in this process (by another session, manager or connection), "
        f"so it cannot also be opened {mode}; close the other one first."
    )


def damaged_message(path: Path, reason: object) -> str:
    """The one line for a damaged warehouse file: what is wrong, and the two ways out."""
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    if "not a valid DuckDB database" in text:  # DuckDB's sentence names the file again
        text = "not a DuckDB database file"
    text = text.removeprefix("IO Error: ")
    return (
        f"{path} is damaged ({text}); restore it from a backup, or rebuild it: "
        f"lumbung wipe --io {MANAGER_NAME}, then lumbung materialize."
    )


class _Warehouse:
    """A manager's handle on its database file: opened on demand, released when idle.

    ``read_only``: open the file read-only, beside any number of other readers (a notebook),
    never creating it; only a process writing it keeps it from opening.
    """

    def __init__(
        self, path: Path, *, lock_timeout: float, idle_close: float, read_only: bool = False
    ) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self.idle_close = idle_close
        self.read_only = read_only  # see the class docstring
        self._lock = threading.Lock()  # guards the fields below
        self._schema_lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._pid = 0
        self._users = 0
        self._idle_since = 0.0
        self._schemas: set[str] = set()  # schemas (and tables) made since the file opened
        self._catalog: _Catalog | None = None
        self._home = ""  # the open file's catalog name (DuckDB names it after the file)
        self._wait_file = self.path.with_name(self.path.name + ".wait")

    @property
    def db(self) -> duckdb.DuckDBPyConnection | None:
        """The open database instance, if any (an operation's cursor keeps it open)."""
        return self._db

    @property
    def home(self) -> str:
        """The open file's catalog name, as a query on one of its cursors qualifies its
        tables (read once per opening; valid while an operation's cursor is open)."""
        return self._home

    @property
    def catalog(self) -> _Catalog | None:
        """The table owners of the open file (set while an operation's cursor is open)."""
        return self._catalog

    def _open(self, wait: float | None = None) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting at most ``wait`` seconds (default ``lock_timeout``) while
        another process holds it: said once on stderr when the wait passes ``_QUIET_WAIT``,
        with the holder; ``WarehouseLocked`` naming it when the wait runs out."""
        import duckdb

        read_only = self.read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        before = self._refuse_links()
        timeout = self.lock_timeout if wait is None else wait
        start = time.monotonic()
        deadline = start + timeout
        delay = 0.01
        waited = told = False
        while True:
            try:
                db = duckdb.connect(str(self.path), read_only=read_only)
                if waited:
                    with contextlib.suppress(OSError):
                        self._wait_file.unlink()
                break
            except duckdb.IOException as exc:
                if not _is_lock_error(exc):
                    if _is_damage(exc):
                        raise WarehouseDamaged(damaged_message(self.path, exc)) from exc
                    raise IOManagerError(
                        f"{self.path}: cannot open the DuckDB warehouse ({exc}); "
                        "check the file, or use another storage folder."
                    ) from exc
                holder = holder_of(exc)
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    if waited:
                        with contextlib.suppress(OSError):
                            self._wait_file.unlink()
                    raise WarehouseLocked(
                        locked_message(self.path, holder, timeout), holder
                    ) from None
                waited = True
                self._signal_waiting()
                if not told and now - start >= _QUIET_WAIT:
                    _tell(waiting_line(self.path, holder, timeout))
                    told = True
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.5)
            except duckdb.ConnectionException as exc:  # open here in the other mode
                if "different configuration" not in str(exc):
                    raise WarehouseDamaged(damaged_message(self.path, exc)) from exc
                raise IOManagerError(_mixed_message(self.path, read_only)) from None
            except duckdb.Error as exc:  # a checksum that fails while DuckDB reads the catalog
                raise WarehouseDamaged(damaged_message(self.path, exc)) from exc
        try:
            self._check_same_file(before)
            self._check_length(db)
        except BaseException:
            db.close()
            raise
        return db

    def _refuse_links(self) -> os.stat_result | None:
        """Refuse a symbolic link where the warehouse or a file DuckDB or Lumbung makes beside
        it belongs (its write-ahead log, its spill folder, the wait file): DuckDB follows
        links, so a planted one would put the warehouse, or an empty file, anywhere the user
        may write. The warehouse's own ``lstat`` (``None``: there is none yet)."""
        found = None
        for suffix in _BESIDE:
            path = self.path.with_name(self.path.name + suffix)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(info.st_mode):
                raise IOManagerError(_link_message(path))
            if not suffix:
                found = info
        return found

    def _check_same_file(self, before: os.stat_result | None) -> None:
        """After DuckDB opened the file: it is still no link, and still the file checked."""
        info = os.lstat(self.path)
        if stat.S_ISLNK(info.st_mode):
            raise IOManagerError(_link_message(self.path))
        if before is not None and (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise IOManagerError(
                f"{self.path} was replaced while it was being opened; retry, and check that "
                "nothing else writes into the storage folder."
            )

    def _check_length(self, db: duckdb.DuckDBPyConnection) -> None:
        """Refuse a truncated file: DuckDB reads only the catalog when it opens a file, so a
        file cut short opens, and its tables fail only when read. The header counts the
        blocks in use; the file must be long enough to hold at least that many (free blocks
        at its end are cut off by DuckDB itself, so the total is no bound)."""
        row = db.execute("PRAGMA database_size").fetchone()
        if row is None:
            return
        block_size, used = int(row[2]), int(row[4])
        want = _HEADER_BYTES + used * block_size
        have = os.stat(self.path).st_size  # noqa: PTH116
        if have < want:
            raise WarehouseDamaged(damaged_message(self.path, f"truncated: {have} of {want} bytes"))

    def _signal_waiting(self) -> None:
        """Tell the process holding the file that we wait: touch ``<file>.wait``, never
        through a link (``O_NOFOLLOW`` where the system has it; a link is refused, so no
        file is created at its target)."""
        with contextlib.suppress(OSError):
            fd = os.open(self._wait_file, _TOUCH_FLAGS, 0o644)
            try:
                if os.utime in os.supports_fd:
                    os.utime(fd)
                else:  # pragma: no cover - systems without futimens
                    os.utime(self._wait_file)
            finally:
                os.close(fd)

    def _someone_waits(self) -> bool:
        """Whether another process touched the wait file lately (one ``lstat``; a link is
        no wait file)."""
        try:
            info = os.lstat(self._wait_file)
        except OSError:
            return False
        return stat.S_ISREG(info.st_mode) and time.time() - info.st_mtime < _WAIT_FRESH

    @contextmanager
    def cursor(
        self, create: bool = True, wait: float | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A cursor on the warehouse for one operation; ``None`` if the file does not exist
        and ``create`` is false (or the handle is read-only). ``wait``: seconds to wait for
        another process to release the file, when it must be opened (default
        ``lock_timeout``)."""
        with self._lock:
            if self._db is not None and self._pid != os.getpid():
                self._db = None  # inherited through fork: never use or close the parent's
                self._catalog = None
                self._users = 0
                self._schemas.clear()
            cur = None
            create = create and not self.read_only
            if self._db is None and (create or self.path.exists()):
                self._db = self._open(wait)
                self._home = str(self._db.sql("SELECT current_database()").fetchall()[0][0])
                self._pid = os.getpid()
                self._catalog = _Catalog.acquire(self.path)
                _track(self)
            if self._db is not None:
                cur = self._db.cursor()
                self._users += 1
        if cur is None:
            yield None
            return
        try:
            yield cur
        finally:
            cur.close()
            self._release()

    def _release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._db is None:
                return
            if self.idle_close <= 0 or self._someone_waits():
                self._close_locked()
            else:
                self._idle_since = time.monotonic()  # the reaper closes it when idle long

    def _close_if_idle(self, now: float) -> bool:
        """Close the file if no operation has run for ``idle_close``, or at once when idle and
        another process waits for it; whether it is open."""
        with self._lock:
            if self._db is None:
                return False
            if self._users == 0 and (
                now - self._idle_since >= self.idle_close or self._someone_waits()
            ):
                self._close_locked()
                return False
            return True

    def _close_locked(self) -> None:
        db, self._db = self._db, None
        self._schemas.clear()
        if self._catalog is not None:
            self._catalog.release()
            self._catalog = None
        if db is not None and self._pid == os.getpid():
            db.close()

    def close(self) -> None:
        """Release the database file now (it is reopened on the next operation)."""
        with self._lock:
            self._close_locked()

    def set_aside_if_damaged(self) -> Path | None:
        """Move the file, with its write-ahead log, aside when it is damaged, so the next
        save starts a new one; where it went, or ``None`` when it is absent or opens."""
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                return None  # open here: it opened, so it is not damaged
            if not self.path.exists():
                return None
            try:
                self._open().close()
            except WarehouseDamaged:
                pass
            else:
                return None
            stamp = time.strftime("%Y%m%dT%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
            n = 1
            while aside.exists():
                n += 1
                aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
            wal = self.path.with_name(self.path.name + ".wal")
            self.path.replace(aside)
            if wal.exists():
                wal.replace(aside.with_name(aside.name + ".wal"))
            return aside

    def ensure_schema(self, cur: duckdb.DuckDBPyConnection, schema: str) -> None:
        """Create the schema in its own transaction, once per open database, under a lock:
        two transactions creating one schema conflict."""
        self.ensure(cur, schema, f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")

    def ensure(self, cur: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
        """Run ``sql`` (a ``CREATE ... IF NOT EXISTS`` of ``name``) in its own transaction,
        once per open database, under a lock."""
        if name in self._schemas:
            return
        with self._schema_lock:
            if name not in self._schemas:
                cur.execute(sql)
                self._schemas.add(name)
