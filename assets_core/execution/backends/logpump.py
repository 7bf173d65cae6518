"""Lines said in worker processes, brought back to the run's process.

Each worker captures its steps' lines itself (``assets_core.execution.capture``) and puts
them, in batches, on one queue the run's process reads on a thread of its own (``LogPump``),
which hands each batch to the run's sink as it would have come from a step run in-process:
lines are shown live and kept with the run, and a worker that dies mid-step has handed on
what it said up to its last batch.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from assets_core.execution.capture import Capture, Line, Sink
from assets_core.model.keys import StepKey

__all__ = ["LogPump", "worker_capture"]

_POLL = 0.1  # seconds between looks at whether the pump should stop


class LogPump:
    """Reads the workers' lines from ``self.queue`` and hands them to ``sink``."""

    def __init__(self, context: Any, sink: Sink) -> None:
        self.queue: Any = context.Queue()
        self._sink = sink
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="lumbung-logs", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        q = self.queue
        while True:
            try:
                step, lines = q.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            except Exception:  # a worker killed mid-write left half a message: stop reading
                return
            try:
                self._sink(step, lines)
            except Exception:  # a display that fails must not stop the others' lines
                continue

    def stop(self, *, wait: bool) -> None:
        """Stop once every line put so far is read (the workers have ended); with ``wait``
        false, give up after a moment (a killed worker may have left the queue broken)."""
        self._stop.set()
        self._thread.join(timeout=5.0 if wait else 1.0)
        self.queue.close()


def worker_capture(q: Any, urgent: int) -> Capture:
    """A worker's capture: its steps' lines go on ``q`` (``LogPump.queue``)."""

    def put(step: StepKey, lines: list[Line]) -> None:
        q.put((step, lines))

    return Capture(put, urgent)
