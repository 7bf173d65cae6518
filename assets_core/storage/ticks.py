"""Tick records: what ``lumbung serve`` decided at each tick of a schedule or sensor.

A tick is inserted before its run is launched, under a key that is unique per schedule or
sensor (``tick``: the scheduled instant in ISO 8601 UTC, or a custom sensor's dedupe key), so
a tick is launched at most once however often it is evaluated, by however many processes.
Its outcome then moves from ``launched`` to how the run ended; a tick not launched says why
(``skipped``: the previous run still runs, or ``max_runs`` were running).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["TICK_OUTCOMES", "TickLog", "TickOutcome", "TickRecord"]

TickOutcome = Literal["launched", "skipped", "success", "failed", "interrupted"]
TICK_OUTCOMES: tuple[str, ...] = ("launched", "skipped", "success", "failed", "interrupted")


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One tick: which schedule or sensor (``name``, ``kind``), which tick, when it was due,
    what it ran (``selection``, ``partitions``) and how that went."""

    name: str
    tick: str
    kind: str
    scheduled_at: float
    recorded_at: float
    outcome: TickOutcome
    selection: str | None = None
    partitions: str | None = None
    run_id: str | None = None
    pid: int | None = None
    ended_at: float | None = None
    detail: str | None = None


class TickLog(Protocol):
    """Where ticks are kept (the SQLite state store)."""

    def insert_tick(self, tick: TickRecord) -> bool:
        """Record ``tick``; False (and nothing written) when its name and tick exist."""
        ...

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
        ...

    def ticks(
        self,
        names: Iterable[str] | None = None,
        outcomes: Iterable[str] | None = None,
        limit: int = 100,
    ) -> list[TickRecord]:
        """Ticks, latest scheduled first, of ``names`` (default all) with ``outcomes``."""
        ...

    def last_ticks(self) -> dict[str, TickRecord]:
        """Each name's latest tick (by scheduled time, then by insertion)."""
        ...

    def run_of_pid(self, pid: int, since: float) -> str | None:
        """The run the process ``pid`` started at or after ``since``, if it recorded one."""
        ...

    def ticks_of_runs(self, run_ids: Iterable[str]) -> dict[str, TickRecord]:
        """The tick that started each of ``run_ids`` (those started by a tick)."""
        ...
