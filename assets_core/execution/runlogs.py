"""A run's captured lines (``assets_core.execution.capture``): numbered per step in the order
they arrive, shown live when loud enough, and kept in the state store in batches.

Steps hand lines to ``RunLogs.add`` from whatever thread runs them (a worker process's lines
arrive on the thread that reads them from its workers); the run's ``Recorder`` writes them
with its records, from the scheduler's thread, so a step never waits for the state store and
a failing write fails the run like a failing record. A step's line numbers go on across its
retries, so every attempt's lines are kept.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

from assets_core.execution.capture import Line, line_text, outside_steps, rank
from assets_core.model.keys import StepKey
from assets_core.storage.state import LogLine, LogStore

__all__ = ["FLUSH_LINES", "RunLogs", "print_line"]

FLUSH_LINES = 2048  # lines waiting that make the recorder write them before its time

#: shows one line live, from any thread
Show = Callable[[LogLine], None]


def print_line(line: LogLine) -> None:
    """Show a line on stderr, prefixed with its step (the Python API's live display)."""
    sys.stderr.write(line_text(line) + "\n")
    sys.stderr.flush()


class RunLogs:
    """The lines of one run, on their way to the state store."""

    def __init__(
        self, store: LogStore, run_id: str, show: Show | None, level: int = logging.WARNING
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.show = show
        #: lines at this rank or above are shown (``capture.rank``)
        self.level = level
        self._lock = threading.Lock()
        self._buffer: list[LogLine] = []
        self._next: dict[StepKey, int] = {}

    def add(self, step: StepKey, lines: list[Line]) -> None:
        """Number ``step``'s ``lines``, keep them for the next write and show the loud ones."""
        run_id = self.run_id
        with self._lock:
            first = self._next.get(step, 0)
            out = [
                LogLine(step, run_id, first + i, at, stream, level, message)
                for i, (at, stream, level, message) in enumerate(lines)
            ]
            self._next[step] = first + len(out)
            self._buffer.extend(out)
        show = self.show
        if show is None:
            return
        loud = [line for line in out if rank(line.stream, line.level) >= self.level]
        if loud:
            with outside_steps():
                for line in loud:
                    try:
                        show(line)
                    except Exception:  # a display that fails must not fail the step
                        return

    @property
    def due(self) -> bool:
        """Whether enough lines wait to write them now."""
        return len(self._buffer) >= FLUSH_LINES

    def flush(self) -> None:
        """Write the waiting lines in one transaction."""
        with self._lock:
            lines, self._buffer = self._buffer, []
        if lines:
            self.store.append_logs(lines)

    def counts(self) -> dict[StepKey, int]:
        """How many lines each step that said anything has kept so far."""
        with self._lock:
            return dict(self._next)
