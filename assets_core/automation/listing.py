"""What ``lumbung schedules`` lists and the UI's schedules page shows: each schedule and
sensor with its next tick and last outcome (``rows``), and the ticks recorded (``past``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assets_core.automation.due import next_tick, tick_id
from assets_core.automation.server import tick_log

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from assets_core.model.automation import Schedule, Sensor
    from assets_core.session import Session
    from assets_core.storage.ticks import TickRecord


def rows(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Each schedule and sensor as ``schedules --json`` prints it: name, kind, selection,
    cron and timezone or ``every_seconds``, the next tick after ``now`` (schedules only),
    and the last tick with its outcome and run."""
    last = tick_log(session).last_ticks()
    out = []
    defs = session.defs
    items: list[Schedule | Sensor] = [*defs.schedules.values(), *defs.sensors.values()]
    for item in items:
        previous = last.get(item.name)
        row: dict[str, Any] = {"name": item.name, "kind": item.kind, "select": item.select}
        if item.kind == "schedule":
            schedule = defs.schedules[item.name]
            row["cron"], row["timezone"] = schedule.cron, schedule.timezone
            row["next_tick"] = tick_id(next_tick(schedule, now))
        else:
            row["every_seconds"] = defs.sensors[item.name].every
            row["next_tick"] = None
        row["last_tick"] = None if previous is None else previous.tick
        row["last_outcome"] = None if previous is None else previous.outcome
        row["last_run_id"] = None if previous is None else previous.run_id
        out.append(row)
    return out


def past(
    session: Session, names: Iterable[str] | None = None, limit: int = 100
) -> list[TickRecord]:
    """The ticks recorded (of ``names``, default all), latest scheduled first."""
    return tick_log(session).ticks(names=names, limit=limit)
