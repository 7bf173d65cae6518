"""Values handed over in memory within a run.

A step that has just stored its output offers the value here; a step of the same run that
reads it, asking for the kind it already is, takes it instead of reading the stored copy back.
Only values that reading back would give equal (``values.round_trips``), through a manager
that promises as much, are kept: the data version is the one computed on save, so nothing
about staleness changes. A value is released once every step of the run that reads it has
finished or been skipped, and never held past the memory budget (past it, readers read the
stored copy). Only the in-process and threads backends share memory with the scheduler;
worker processes always read back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from assets_core.model.keys import StepKey
from assets_core.storage.values import kind_of, memory_size, round_trips

__all__ = ["BUDGET_ENV", "Handover", "default_budget", "parse_size"]

#: the memory budget of a run's handed-over values: bytes, or a size such as ``512MiB``
BUDGET_ENV = "LUMBUNG_MEMORY_BUDGET"
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20}
_UNITS["gib"] = 2**30


def parse_size(text: str) -> int:
    """``"512MiB"``, ``"2GB"`` or ``"1000000"`` as bytes; ``ValueError`` for anything else."""
    s = text.strip().lower().replace(" ", "")
    digits = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(digits) :]
    if not digits or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size; write bytes or e.g. 512MiB, 2GB")
    return int(float(digits) * _UNITS[unit])


def default_budget() -> int:
    """``LUMBUNG_MEMORY_BUDGET`` if set, else a quarter of the machine's memory, at most 2 GiB."""
    text = os.environ.get(BUDGET_ENV)
    if text:
        return parse_size(text)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 * 2**30
    return min(2 * 2**30, total // 4)


class Handover:
    """The values of one run that its later steps may take (thread-safe).

    ``expect`` says how many steps of the run read each step's output; ``offer`` keeps a
    value while it has readers left and fits the budget, ``take`` gives it to one of them, and
    ``finished`` counts a reader done (run or skipped), releasing the value after the last.
    """

    def __init__(self, budget: int) -> None:
        self._readers: dict[StepKey, int] = {}
        self._budget = budget
        self._held: dict[StepKey, tuple[object, str, int]] = {}
        self._used = 0
        self._lock = threading.Lock()

    def expect(self, readers: Mapping[StepKey, int]) -> None:
        """How many steps of the run read each step's output (set as the run starts)."""
        with self._lock:
            self._readers = dict(readers)

    def offer(self, step: StepKey, value: object, size: int | None = None) -> None:
        """Keep ``value``, the output ``step`` has just stored, for its readers in this run.
        ``size`` is what it takes in memory, when the IO manager measured it."""
        if self._readers.get(step, 0) <= 0 or not round_trips(value):
            return
        kind = kind_of(value)
        if size is None:
            size = memory_size(value)
        with self._lock:
            if kind is None or self._used + size > self._budget:
                return
            self._held[step] = (value, kind, size)
            self._used += size

    def take(self, step: StepKey, kind: str | None) -> object | None:
        """The value ``step`` stored, when it is held and of ``kind``; else ``None``."""
        with self._lock:
            held = self._held.get(step)
        if held is None or held[1] != kind:
            return None
        return held[0]

    def finished(self, upstream: tuple[StepKey, ...]) -> None:
        """A reader of each of ``upstream`` is done: release what no one reads any more."""
        with self._lock:
            for step in upstream:
                left = self._readers.get(step, 0) - 1
                self._readers[step] = left
                if left <= 0:
                    held = self._held.pop(step, None)
                    if held is not None:
                        self._used -= held[2]

    @property
    def held_bytes(self) -> int:
        """What the values held now take, about."""
        return self._used
