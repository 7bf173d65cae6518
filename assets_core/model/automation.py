"""Schedules and sensors as a project declares them (DESIGN §15): values only, no clock, no IO.

``schedule("nightly", cron="0 2 * * *", select="tag:daily")`` and ``sensor("fresh", select=
"+marts/*", every="60s")`` may stand alone in a module: each call records its declaration in
the calling module (``DECLARED``), where ``collect_automations`` finds it as the project is
imported, as it finds assets. ``@sensor(every=..., select=...)`` makes a custom sensor of a
function returning ``RunRequest``s (or one, or ``None``).

Each declaration checks itself (``problems``): a cron expression ``cronsim`` cannot read, a
time zone unknown here, a ``catch_up`` policy or interval that is not one. ``Definitions``
reports them with every other problem; a selection that matches no asset is checked by the
automation layer, which has the selection grammar.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from assets_core.errors import Problem, display_path

__all__ = [
    "CATCH_UP",
    "DECLARED",
    "PARTITION_POLICIES",
    "RunRequest",
    "Schedule",
    "Sensor",
    "collect_automations",
    "parse_every",
    "schedule",
    "sensor",
]

#: the name of the list in a module's namespace that holds what ``schedule`` and ``sensor``
#: declared there
DECLARED = "__lumbung_automations__"
#: what a schedule does with ticks missed while no server ran
CATCH_UP = ("latest", "all", "none")
#: which partitions a schedule's tick runs: the window it closes, or every existing one
PARTITION_POLICIES = ("closed", "all")
CatchUp = Literal["latest", "all", "none"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_EVERY = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)?\Z")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What a custom sensor asks for: a run of ``select`` (and of ``partitions``, as
    ``--partitions`` reads them), at most once per ``dedupe_key``; ``add_partitions`` adds keys
    to dynamic partitions sets first (``{"customers": ["acme"]}``)."""

    select: str | None = None
    partitions: str | None = None
    dedupe_key: str | None = None
    add_partitions: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A run of ``select`` at every instant ``cron`` names, read in ``timezone``."""

    name: str
    cron: str
    select: str | None
    timezone: str
    partitions: str
    catch_up: str
    max_runs: int
    file: str
    line: int
    problems: tuple[Problem, ...] = ()

    kind = "schedule"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Sensor:
    """A look every ``every`` seconds: the built-in one (``function`` ``None``) runs what
    changed sources made stale in ``select``; a custom one runs the ``RunRequest``s its
    function returns."""

    name: str
    select: str | None
    every: float
    function: Callable[..., Any] | None
    max_runs: int
    file: str
    line: int
    problems: tuple[Problem, ...] = ()

    kind = "sensor"

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


Automation = Schedule | Sensor


def parse_every(value: object) -> float | None:
    """An interval as seconds: a number, or text such as ``"60s"``, ``"5m"``, ``"1h"``, ``"1d"``
    (no unit: seconds); ``None`` when it is not one or not positive."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _EVERY.match(value.strip())
        if m is None:
            return None
        seconds = float(m.group(1)) * _UNIT_S[m.group(2) or "s"]
    else:
        return None
    return seconds if seconds > 0 else None


def _record(item: Automation, depth: int) -> None:
    module_globals = sys._getframe(depth).f_globals
    module_globals.setdefault(DECLARED, []).append(item)


def _problems(
    name: object, kind: str, file: str, line: int, checks: Iterable[str | None]
) -> tuple[Problem, ...]:
    """The failed checks as problems naming the declaration and where it is."""
    label = f"{kind} {name!r}" if isinstance(name, str) else kind
    return tuple(
        Problem(message, asset=label, location=f"{file}:{line}") for message in checks if message
    )


def _name_problem(name: object, what: str) -> str | None:
    if isinstance(name, str) and _NAME.match(name):
        return None
    return f"name={name!r} is not a valid {what} name; use letters, digits, '_', '.' and '-'."


def _cron_problem(cron: object, zone: ZoneInfo | None) -> str | None:
    if not isinstance(cron, str):
        return f"cron={cron!r} is not a cron expression; write five fields, e.g. '0 2 * * *'."
    from datetime import datetime, timezone

    try:
        CronSim(cron, datetime(2000, 1, 1, tzinfo=zone or timezone.utc))
    except CronSimError as exc:
        return (
            f"cron={cron!r} is not a valid cron expression ({exc}); write five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 2 * * *'."
        )
    return None


def _zone(timezone: object) -> tuple[ZoneInfo | None, str | None]:
    if not isinstance(timezone, str) or not timezone:
        return None, f"timezone={timezone!r}: give an IANA zone name such as 'Europe/Berlin'."
    try:
        return ZoneInfo(timezone), None
    except (ZoneInfoNotFoundError, ValueError):
        return None, (
            f"timezone={timezone!r} is not a time zone known here; give an IANA zone name "
            "such as 'Europe/Berlin' (on a system without zone data, pip install tzdata)."
        )


def _choice(what: str, value: object, allowed: tuple[str, ...]) -> str | None:
    if value in allowed:
        return None
    listed = ", ".join(repr(a) for a in allowed)
    return f"{what}={value!r} is not one of {listed}; pass one of them."


def _max_runs_problem(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return None
    return f"max_runs={value!r} must be a whole number of 1 or more (concurrent runs)."


def _select_problem(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return None
    return f"select={value!r} is not a selection; write one as `lumbung materialize -s` reads it."


def schedule(
    name: str,
    cron: str,
    select: str | None = None,
    *,
    timezone: str = "UTC",
    partitions: str = "closed",
    catch_up: CatchUp = "latest",
    max_runs: int = 1,
) -> Schedule:
    """Declare a schedule: at every instant ``cron`` names (read in ``timezone``, DST
    included), run what is missing or stale in ``select`` (default: every asset).

    Of partitioned time assets it runs the partition whose window the tick closes
    (``partitions="closed"``), or every existing one (``"all"``). After the server was down,
    ``catch_up`` runs the missed ticks: the latest only (default), ``"all"``, or ``"none"``.
    ``max_runs`` runs of it may run at once; a tick beyond that is skipped (and recorded)."""
    frame = sys._getframe(1)
    file, line = frame.f_code.co_filename, frame.f_lineno
    zone, zone_problem = _zone(timezone)
    checks = [
        _name_problem(name, "schedule"),
        zone_problem,
        _cron_problem(cron, zone),
        _select_problem(select),
        _choice("catch_up", catch_up, CATCH_UP),
        _choice("partitions", partitions, PARTITION_POLICIES),
        _max_runs_problem(max_runs),
    ]
    item = Schedule(
        name=str(name),
        cron=str(cron),
        select=select,
        timezone=str(timezone),
        partitions=str(partitions),
        catch_up=str(catch_up),
        max_runs=max_runs if isinstance(max_runs, int) else 1,
        file=file,
        line=line,
        problems=_problems(name, "schedule", file, line, checks),
    )
    _record(item, 2)
    return item


def _sensor(
    name: object,
    select: str | None,
    every: object,
    function: Callable[..., Any] | None,
    max_runs: int,
    depth: int,
) -> Sensor:
    frame = sys._getframe(depth)
    file, line = frame.f_code.co_filename, frame.f_lineno
    if function is not None:
        code = getattr(function, "__code__", None)
        file = code.co_filename if code is not None else file
        line = code.co_firstlineno if code is not None else line
    seconds = parse_every(every)
    checks = [
        _name_problem(name, "sensor"),
        None
        if seconds is not None
        else f"every={every!r} is not an interval; write seconds or text like '60s', '5m', '1h'.",
        _select_problem(select),
        _max_runs_problem(max_runs),
    ]
    item = Sensor(
        name=str(name),
        select=select,
        every=seconds or 60.0,
        function=function,
        max_runs=max_runs if isinstance(max_runs, int) else 1,
        file=file,
        line=line,
        problems=_problems(name, "sensor", file, line, checks),
    )
    _record(item, depth + 1)
    return item


@overload
def sensor(
    name: str, select: str | None = None, *, every: str | float = "60s", max_runs: int = 1
) -> Sensor: ...
@overload
def sensor(
    name: None = None,
    select: str | None = None,
    *,
    every: str | float = "60s",
    max_runs: int = 1,
) -> Callable[[Callable[..., Any]], Sensor]: ...
def sensor(
    name: str | None = None,
    select: str | None = None,
    *,
    every: str | float = "60s",
    max_runs: int = 1,
) -> Sensor | Callable[[Callable[..., Any]], Sensor]:
    """Declare a sensor that looks every ``every`` (``"60s"``, ``"5m"``, seconds).

    ``sensor("fresh", select="+marts/*")``: the built-in sensor runs whatever in ``select`` a
    changed source made stale, and nothing else. ``@sensor(every="5m", select="exports")`` on a
    function ``(context) -> RunRequest | list[RunRequest] | None``: a custom sensor, named after
    the function, that runs what it requests (``select`` is the default of its requests); a
    request's ``dedupe_key`` makes it run once however often it is returned."""
    if name is not None:
        return _sensor(name, select, every, None, max_runs, 2)

    def decorate(function: Callable[..., Any]) -> Sensor:
        return _sensor(function.__name__, select, every, function, max_runs, 2)

    return decorate


def collect_automations(modules: Sequence[ModuleType]) -> list[Automation]:
    """Every schedule and sensor the modules declared (each once, in declaration order)."""
    found: list[Automation] = []
    seen: set[int] = set()
    for module in modules:
        namespace = vars(module)
        listed = namespace.get(DECLARED, [])
        values = [v for v in namespace.values() if isinstance(v, Schedule | Sensor)]
        for item in [*listed, *values]:
            if isinstance(item, Schedule | Sensor) and id(item) not in seen:
                seen.add(id(item))
                found.append(item)
    return found


def automation_problems(items: Sequence[Automation], root: Path) -> list[Problem]:
    """Each declaration's own problems, and names given twice (files named relative to the
    project folder ``root``)."""
    problems = [p for item in items for p in item.problems]
    first: dict[str, Automation] = {}
    for item in items:
        other = first.setdefault(item.name, item)
        if other is not item:
            problems.append(
                Problem(
                    f"the name is also used by the {other.kind} at "
                    f"{display_path(other.file, root)}:{other.line}; give each "
                    "schedule and sensor its own name.",
                    asset=f"{item.kind} {item.name!r}",
                    location=item.location,
                )
            )
    return problems


def by_name(items: Iterable[Automation]) -> Mapping[str, Automation]:
    """The declarations by name (the first of a name)."""
    out: dict[str, Automation] = {}
    for item in items:
        out.setdefault(item.name, item)
    return MappingProxyType(out)
