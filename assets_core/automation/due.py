"""A schedule's ticks: the instants its cron expression names in its time zone (``cronsim``:
a time skipped by a DST change runs at the jump, a repeated one once), and which of the ticks
missed while no server ran are run again (``catch_up``).
"""

from __future__ import annotations

from datetime import datetime, timezone

from cronsim import CronSim

from assets_core.model.automation import Schedule

__all__ = ["MAX_CATCH_UP", "catch_up", "next_tick", "tick_id", "ticks_between"]

#: the most missed ticks ``catch_up="all"`` runs (the latest ones)
MAX_CATCH_UP = 1000


def next_tick(schedule: Schedule, after: datetime) -> datetime:
    """The first tick strictly after ``after``, in UTC."""
    return next(CronSim(schedule.cron, after.astimezone(schedule.zone))).astimezone(timezone.utc)


def ticks_between(
    schedule: Schedule, after: datetime, until: datetime, limit: int | None = None
) -> list[datetime]:
    """The ticks in (``after``, ``until``], in UTC, oldest first; with ``limit``, the latest
    ``limit`` of them."""
    found: list[datetime] = []
    for t in CronSim(schedule.cron, after.astimezone(schedule.zone)):
        if t > until:
            break
        found.append(t.astimezone(timezone.utc))
        if limit is not None and len(found) > limit:
            del found[0]
    return found


def catch_up(schedule: Schedule, missed: list[datetime]) -> list[datetime]:
    """The missed ticks a server starting now runs: by the schedule's ``catch_up``, the
    latest (``latest``), every one up to ``MAX_CATCH_UP`` (``all``), or none."""
    if not missed or schedule.catch_up == "none":
        return []
    if schedule.catch_up == "latest":
        return missed[-1:]
    return missed[-MAX_CATCH_UP:]


def tick_id(at: datetime) -> str:
    """How a scheduled tick is named in the state store: its instant in ISO 8601 UTC."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
