"""Which tick started a run, as ``history`` and ``logs`` show it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from assets_core.storage.ticks import TickRecord

if TYPE_CHECKING:
    from assets_core.session import Session

__all__ = ["started_by", "tick_text"]


def started_by(session: Session, run_ids: Iterable[str]) -> dict[str, TickRecord]:
    """The tick that started each of ``run_ids`` (runs started by hand have none)."""
    wanted = list(run_ids)
    find = getattr(session.state, "ticks_of_runs", None)
    if not wanted or find is None:
        return {}
    found: dict[str, TickRecord] = find(wanted)
    return found


def tick_text(tick: TickRecord) -> str:
    """``schedule nightly tick 2024-01-05T02:00:00Z``."""
    return f"{tick.kind} {tick.name} tick {tick.tick}"
