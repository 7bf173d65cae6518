"""Publishing under the run's lock, for steps that run outside their run's process.

A worker process can outlive the run that started it for a moment (the run killed with
SIGKILL while the worker writes). A new run may then take over the dead run's locks and store
newer outputs, which the late worker must never overwrite. A ``RunFence`` makes the moment an
IO manager publishes (``OutputContext.publishing``: the rename into place, the commit)
conditional, inside one write transaction on the state store:

- the run's process still runs (``liveness``: its pid names the process that started when
  the run's did), and
- the run still holds the step's lock.

A run that takes over a dead run's locks needs the same write lock, so the two never
interleave: a late worker publishes before the takeover, or not at all. Otherwise
``FencedError``, and the manager leaves the stored output as it was.

A fence is a small picklable value (the state file, the run id, the run's process); each
process opens one connection per state file, on first use.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assets_core.errors import FencedError, StateError
from assets_core.model.keys import StepKey
from assets_core.storage.liveness import Holder, is_running

__all__ = ["RunFence"]

BUSY_TIMEOUT_S = 30.0
_connections: dict[tuple[int, str], sqlite3.Connection] = {}  # (pid, state file) -> connection
_guard = threading.Lock()


def _connection(path: str) -> sqlite3.Connection:
    """This process's connection to the state file ``path`` (a forked child opens its own)."""
    key = (os.getpid(), path)
    with _guard:
        con = _connections.get(key)
        if con is None:
            con = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            _connections[key] = con
        return con


class RunFence:
    """The right of ``run_id``'s steps to publish (see the module docstring)."""

    def __init__(self, state_path: Path | str, run_id: str, owner: Holder) -> None:
        self.state_path = str(state_path)
        self.run_id = run_id
        self.owner = owner

    def __repr__(self) -> str:
        return f"RunFence({self.state_path!r}, {self.run_id!r}, pid={self.owner.pid})"

    @contextmanager
    def publishing(self, step: StepKey) -> Iterator[None]:
        """Hold the state store's write lock while the block publishes ``step``'s output,
        having checked that the run lives and holds the step's lock; else ``FencedError``."""
        self._check_alive(step)
        con = _connection(self.state_path)
        with _guard:  # one transaction at a time on this process's connection
            try:
                con.execute("BEGIN IMMEDIATE")
                row = con.execute(
                    'SELECT run_id FROM locks WHERE key = ? AND "partition" = ?',
                    ("/".join(step[0]), step[1] or ""),
                ).fetchone()
            except sqlite3.Error as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise StateError(
                    f"{step}: not published: the state store {self.state_path} could not be "
                    f"read ({exc}); run the same command again."
                ) from exc
            try:
                if row is None or row[0] != self.run_id:
                    holder = "no run" if row is None else f"run {row[0]}"
                    raise FencedError(
                        f"{step}: not published: run {self.run_id} no longer holds its lock "
                        f"({holder} does); the output stays as that run left it."
                    )
                self._check_alive(step)
                yield
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _check_alive(self, step: StepKey) -> None:
        if not is_running(self.owner):
            raise FencedError(
                f"{step}: not published: run {self.run_id} is gone (its process "
                f"{self.owner.pid} ended); the next run builds it again."
            )
