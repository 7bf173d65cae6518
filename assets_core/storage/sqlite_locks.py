"""The SQLite store's step locks (``LockTable``): taking, releasing, listing and breaking them.

A lock row names its step, its run and the run's holder (``liveness.Holder``: pid, host, boot
id, PID namespace, start time). A run that takes locks for its own process also holds the
run's OS lock (``runlock``) from its first lock until it releases them all: that is how
another process tells it lives, whatever PID namespace either one runs in. Where there is no
OS lock to ask (a file system without locks, a lock taken for another pid) the holder's
identity decides.

Every function here runs inside the caller's ``BEGIN IMMEDIATE`` transaction, so deciding
that a holder is dead and taking its locks over is one step no other run can interleave with.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from sqlite3 import Connection

from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage import runlock
from assets_core.storage.liveness import Holder, holder_alive, holder_of, same_machine
from assets_core.storage.sqlite_rows import json_text
from assets_core.storage.state import HeldLock, LockConflict, step_order

__all__ = ["Locks"]

_IN_LIST = "(SELECT value FROM json_each(?))"
_HOLDER = "pid, host, boot_id, pid_ns, started"


class Locks:
    """The lock table of one store, and the OS locks of the runs this store object holds."""

    def __init__(self, storage: Path) -> None:
        self.storage = storage
        self._held: dict[str, runlock.RunLock] = {}  # run id -> its OS lock, held here

    def holds(self, run_id: str) -> bool:
        """Whether this store object holds ``run_id``'s OS lock (or tried to take it)."""
        return run_id in self._held

    def _alive(self, run_id: str, holder: Holder) -> bool | None:
        """Whether ``run_id``'s holder lives (None: cannot tell; see the module docstring)."""
        own = self._held.get(run_id)
        if own is not None and own.held:
            return True
        os_lock = runlock.probe(self.storage, run_id) if same_machine(holder) else None
        return holder_alive(holder, os_lock)

    def acquire(
        self, con: Connection, run_id: str, steps: Iterable[StepKey], pid: int
    ) -> list[LockConflict]:
        """``LockTable.acquire_locks`` inside the caller's write transaction."""
        wanted = dict.fromkeys(("/".join(s[0]), s[1] or "") for s in steps)  # ordered set
        if not wanted:
            return []
        # by asset key, which SQLite finds fastest; other partitions are dropped below
        held = con.execute(
            f'SELECT key, "partition", run_id, {_HOLDER} FROM locks '
            f"WHERE key IN {_IN_LIST} AND run_id != ?",
            (json_text(list(dict.fromkeys(text for text, _ in wanted))), run_id),
        ).fetchall()
        verdicts: dict[str, bool | None] = {}
        conflicts: list[LockConflict] = []
        dead: set[str] = set()
        for text, part, other, *who in held:
            if (text, part) not in wanted:
                continue
            if other not in verdicts:
                verdicts[other] = self._alive(other, Holder(*who))
            if verdicts[other] is False:
                dead.add(other)
            else:
                step = StepKey(AssetKey.parse(text), part or None)
                conflicts.append(LockConflict(step, other, who[0]))
        if conflicts:  # commits having written nothing
            return sorted(conflicts, key=lambda c: step_order(c.step))
        if dead:  # a killed run never finished: say so, and drop every lock it left
            self._drop(con, dead)
        holder = holder_of(pid)
        if pid == os.getpid() and run_id not in self._held:
            self._held[run_id] = runlock.RunLock(self.storage, run_id)
            keep = {r for (r,) in con.execute("SELECT DISTINCT run_id FROM locks")}
            runlock.sweep(self.storage, keep | {run_id})
        now = time.time()
        con.executemany(
            f'INSERT OR REPLACE INTO locks (key, "partition", run_id, {_HOLDER}, acquired_at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    text,
                    part,
                    run_id,
                    holder.pid,
                    holder.host,
                    holder.boot_id,
                    holder.pid_ns,
                    holder.started,
                    now,
                )
                for text, part in wanted
            ],
        )
        return []

    def release_all(self, con: Connection, run_id: str) -> None:
        """Delete every lock of ``run_id`` (the caller commits, then calls ``let_go``)."""
        con.execute("DELETE FROM locks WHERE run_id = ?", (run_id,))

    def let_go(self, run_id: str) -> None:
        """After its locks are deleted and committed: let go of the run's OS lock."""
        own = self._held.pop(run_id, None)
        if own is not None:
            own.release()

    def listed(self, con: Connection) -> list[HeldLock]:
        """Every lock, by run then step, with whether its holder lives."""
        rows = con.execute(
            f'SELECT key, "partition", run_id, {_HOLDER}, acquired_at FROM locks'
        ).fetchall()
        verdicts: dict[str, bool | None] = {}
        out = []
        for text, part, run_id, *who, at in rows:
            holder = Holder(*who)
            if run_id not in verdicts:
                verdicts[run_id] = self._alive(run_id, holder)
            step = StepKey(AssetKey.parse(text), part or None)
            out.append(HeldLock(step, run_id, holder, at, verdicts[run_id]))
        return sorted(out, key=lambda h: (h.run_id, step_order(h.step)))

    def broken(self, con: Connection, run_ids: Iterable[str]) -> int:
        """Drop every lock of ``run_ids`` whatever their holders; the number dropped."""
        runs = set(run_ids)
        if not runs:
            return 0
        (n,) = con.execute(
            f"SELECT count(*) FROM locks WHERE run_id IN {_IN_LIST}", (json_text(sorted(runs)),)
        ).fetchone()
        self._drop(con, runs)
        return int(n)

    def _drop(self, con: Connection, runs: set[str]) -> None:
        """Drop every lock of ``runs``, mark them interrupted if still running, and remove
        their OS lock files."""
        text = json_text(sorted(runs))
        con.execute(
            "UPDATE runs SET status = 'interrupted', ended_at = ? "
            f"WHERE status = 'running' AND run_id IN {_IN_LIST}",
            (time.time(), text),
        )
        con.execute(f"DELETE FROM locks WHERE run_id IN {_IN_LIST}", (text,))
        runlock.remove(self.storage, runs)
