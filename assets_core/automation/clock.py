"""What "now" is for ``lumbung serve``: the system clock, or one a test drives.

``LUMBUNG_CLOCK`` (for testing only) starts the server's clock at an instant and runs it
faster: ``2024-03-31T00:00:00Z*60`` is that instant when the server starts, and a minute later
for every real second. Waiting is always in real seconds (``real_seconds``), so a server under
a sped-up clock sleeps its ticks' intervals divided by the speed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Protocol

from assets_core.errors import LumbungError
from assets_core.partitions.now import parse_now

__all__ = ["CLOCK_ENV", "Clock", "ManualClock", "ScaledClock", "SystemClock", "clock_from_env"]

CLOCK_ENV = "LUMBUNG_CLOCK"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, tz-aware."""
        ...

    def real_seconds(self, seconds: float) -> float:
        """How many real seconds pass while this clock advances ``seconds``."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def real_seconds(self, seconds: float) -> float:
        return seconds


class ScaledClock:
    """Starts at ``start`` and runs ``speed`` times faster than real time."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self.start, self.speed = start, speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.speed


class ManualClock:
    """A clock that moves only when told (tests)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    def real_seconds(self, seconds: float) -> float:
        return 0.0


def clock_from_env(environ: Mapping[str, str] | None = None) -> Clock:
    """``LUMBUNG_CLOCK`` as a ``ScaledClock`` when set, else the system clock."""
    text = (os.environ if environ is None else environ).get(CLOCK_ENV, "").strip()
    if not text:
        return SystemClock()
    start, _, speed_text = text.partition("*")
    try:
        speed = float(speed_text) if speed_text else 1.0
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise LumbungError(
            f"{CLOCK_ENV}={text!r}: the speed after '*' must be a number above 0, e.g. "
            "2024-03-31T00:00Z*60."
        )
    return ScaledClock(parse_now(start, CLOCK_ENV), speed)
