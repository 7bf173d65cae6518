"""What a tick runs: a ``Launch`` (the selection, the partitions, the instant it plans at).

- A schedule's tick runs its selection; of its partitioned time assets, the partition whose
  window the tick closes (the last one that exists at the tick: at 00:30 on the 2nd, a daily
  asset's 1st), unless the schedule says ``partitions="all"``.
- The built-in sensor plans its selection and runs exactly the assets that are stale because
  a source changed (``source_changed`` at the root of their reasons), or nothing.
- A custom sensor's function returns ``RunRequest``s; each becomes a launch whose tick is its
  dedupe key (no key: the instant of the look), so one key launches once.

``check_selections`` is the load-time check that each selection matches some asset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assets_core.automation.due import tick_id
from assets_core.errors import DefinitionError, LumbungError, Problem, SelectionError
from assets_core.model.automation import Automation, RunRequest, Schedule, Sensor
from assets_core.model.keys import AssetKey
from assets_core.partitions.multi import MultiPartitions
from assets_core.partitions.ranges import runs
from assets_core.partitions.space import PartitionsDefinition
from assets_core.partitions.time import TimePartitions

if TYPE_CHECKING:
    from assets_core.model.definitions import Definitions
    from assets_core.session import Session

__all__ = [
    "Launch",
    "SensorContext",
    "check_selections",
    "closed_partitions",
    "custom_sensor_launches",
    "schedule_launch",
    "stale_by_sources",
]


@dataclass(frozen=True, slots=True)
class Launch:
    """One tick's run, as decided: who (``name``, ``kind``), which tick, and what to run."""

    name: str
    kind: str
    tick: str
    scheduled_at: datetime
    select: str | None
    partitions: str | None = None
    detail: str | None = None
    add_partitions: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def args(self) -> list[str]:
        """The ``lumbung materialize`` arguments of this run."""
        out = ["--as-of", self.scheduled_at.isoformat()]
        if self.select:
            out += ["-s", self.select]
        if self.partitions:
            out += ["--partitions", self.partitions]
        return out


def closed_partitions(defs: Definitions, keys: frozenset[AssetKey], at: datetime) -> str | None:
    """The key of the window that ``at`` closes, of the selected time-partitioned assets
    (``None`` when none is, or none has a window closed yet). Assets of different grains
    (daily and hourly, say) cannot share one key: then ``None``, and the tick runs every
    missing or stale partition instead."""
    found: set[str] = set()
    for key in keys:
        definition = defs.partitions.get(key)
        if not isinstance(definition, TimePartitions) or defs.assets[key].observed:
            continue
        stop = definition.last_stop(at)
        if stop > definition.first:
            found.add(definition.key(stop - 1))
    return found.pop() if len(found) == 1 else None


def schedule_launch(session: Session, schedule: Schedule, at: datetime) -> Launch:
    """What ``schedule``'s tick at ``at`` runs."""
    partitions = None
    if schedule.partitions == "closed":
        partitions = closed_partitions(session.defs, session.select(schedule.select), at)
    return Launch(
        name=schedule.name,
        kind="schedule",
        tick=tick_id(at),
        scheduled_at=at,
        select=schedule.select,
        partitions=partitions,
    )


def stale_by_sources(
    session: Session, select: str | None, at: datetime
) -> tuple[list[AssetKey], str | None]:
    """The assets in ``select`` with a step that is stale because a source changed, and
    their partitions as ``--partitions`` text when they share one single partitions
    definition (else ``None``: every missing or stale partition of those assets runs)."""
    plan = session.plan(select, as_of=at)
    keys: set[AssetKey] = set()
    partitions: set[str] = set()
    definitions: list[PartitionsDefinition] = []
    for step in plan.steps:
        root = plan.explain_chain(step.key, step.partition)[1]
        if root is None or root.code != "source_changed":
            continue
        keys.add(step.key)
        if step.partition is not None:
            partitions.add(step.partition)
            definition = plan.partitions[step.key]
            if definition not in definitions:
                definitions.append(definition)
    text = None
    if len(definitions) == 1 and plan.space is not None:
        [definition] = definitions
        if not isinstance(definition, MultiPartitions):
            text = ",".join(r.text for r in runs(definition, partitions, plan.space))
    return sorted(keys), text


def sensor_launch(session: Session, sensor: Sensor, at: datetime) -> Launch | None:
    """What the built-in ``sensor`` runs at ``at``: the assets (and partitions) changed
    sources made stale."""
    keys, partitions = stale_by_sources(session, sensor.select, at)
    if not keys:
        return None
    return Launch(
        name=sensor.name,
        kind="sensor",
        tick=tick_id(at),
        scheduled_at=at,
        select=" ".join(str(k) for k in keys),
        partitions=partitions,
        detail="sources changed",
    )


@dataclass(frozen=True, slots=True)
class SensorContext:
    """What a custom sensor's function is given: its name, the instant of the look, and the
    project folder."""

    name: str
    now: datetime
    root: Path


def custom_sensor_launches(sensor: Sensor, at: datetime, root: Path) -> list[Launch]:
    """The launches ``sensor``'s function asks for at ``at``. A function that raises, or
    returns something other than run requests, raises ``LumbungError`` naming the sensor."""
    assert sensor.function is not None
    try:
        returned: Any = sensor.function(SensorContext(sensor.name, at, root))
    except Exception as exc:
        raise LumbungError(
            f"sensor {sensor.name!r} ({sensor.location}) raised {type(exc).__name__}: {exc}"
        ) from exc
    requests = (
        [] if returned is None else [returned] if isinstance(returned, RunRequest) else returned
    )
    if not isinstance(requests, list | tuple) or not all(
        isinstance(r, RunRequest) for r in requests
    ):
        raise LumbungError(
            f"sensor {sensor.name!r} ({sensor.location}) returned {returned!r}; return a "
            "RunRequest, a list of them, or None."
        )
    return [
        Launch(
            name=sensor.name,
            kind="sensor",
            tick=r.dedupe_key if r.dedupe_key is not None else tick_id(at),
            scheduled_at=at,
            select=r.select if r.select is not None else sensor.select,
            partitions=r.partitions,
            add_partitions={k: tuple(v) for k, v in r.add_partitions.items()},
        )
        for r in requests
    ]


def check_selections(session: Session, items: Sequence[Automation]) -> None:
    """``DefinitionError`` listing each schedule or sensor whose selection matches no asset."""
    problems = []
    for item in items:
        if item.select is None:
            continue
        try:
            matched = bool(session.select(item.select))
            reason = "matches no asset"
        except SelectionError as exc:
            matched, reason = False, f"is not a selection here ({exc})"
        if not matched:
            problems.append(
                Problem(
                    f"select={item.select!r} {reason}; fix the selection "
                    f"(`lumbung list -s {item.select}` shows what it matches).",
                    asset=f"{item.kind} {item.name!r}",
                    location=item.location,
                )
            )
    if problems:
        raise DefinitionError([p.relative_to(session.root) for p in problems])
