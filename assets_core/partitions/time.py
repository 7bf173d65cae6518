"""Time partitions: hourly, daily, weekly and monthly windows in one time zone.

Every window has an *index*: an integer counting windows of its unit from a fixed origin, the
same for every definition of that unit and zone, so keys, ranges and mappings are integer
arithmetic and only the edges of a day touch the time zone:

- hour: hours since 1970-01-01T00:00Z, shifted by the zone's sub-hour phase (``+05:30``);
- day: the local date's ordinal (``date.toordinal``);
- week: weeks since the week holding 0001-01-01 (a Monday), weeks starting on ``week_start``;
- month: ``year * 12 + month - 1``.

A key is the window's local start: ``2024-01-05T13:00`` (hourly), ``2024-01-05`` (daily,
weekly and monthly: the window's first day). Hourly windows are hours of absolute time, so a
day of a daylight-saving change has 23 or 25 of them: the hour the clocks skip has no key, and
the hour they repeat is written the first time as its wall time (``2024-10-27T02:00``) and the
second time with its UTC offset (``2024-10-27T02:00+01:00``): every key is unique, every other
hour reads as its wall time, and keys sort as strings in time order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assets_core.errors import DefinitionError, PartitionError

Unit = Literal["hour", "day", "week", "month"]

#: the constructor that makes each unit, as reprs and messages name it
MAKER: dict[str, str] = {"hour": "hourly", "day": "daily", "week": "weekly", "month": "monthly"}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
_HOUR_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?:([+-])(\d{2}):(\d{2}))?\Z")
_HOURS = [f"T{h:02d}:00" for h in range(24)]
_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1)


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise DefinitionError(f"timezone={name!r}: give an IANA zone name such as 'Europe/Berlin'.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DefinitionError(
            f"timezone={name!r} is not a time zone known here; give an IANA zone name such as "
            "'Europe/Berlin' (on a system without zone data, pip install tzdata)."
        ) from None


def _offset_text(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}"


@dataclass(frozen=True)
class TimePartitions:
    """Windows of one unit (``hour``, ``day``, ``week``, ``month``) in ``timezone``, from
    ``start`` (the first key) up to ``end`` (the first key *not* included; ``None``: no end).

    A window exists once it has ended, plus ``end_offset`` windows: 1 also lists the window
    in progress, -1 waits one window more. Make one with ``hourly``, ``daily``, ``weekly``
    or ``monthly``; equal definitions are equal values, and ``token()`` is their stable text.
    """

    unit: Unit
    start: str
    end: str | None = None
    timezone: str = "UTC"
    end_offset: int = 0
    week_start: int = 0  # 0 = Monday .. 6 = Sunday; weekly only
    _tz: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _phase: int = field(init=False, repr=False, compare=False, hash=False)
    _first: int = field(init=False, repr=False, compare=False, hash=False)
    _stop: int | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.unit not in MAKER:
            raise DefinitionError(f"unit={self.unit!r}: use one of {', '.join(MAKER)}.")
        if isinstance(self.end_offset, bool) or not isinstance(self.end_offset, int):
            raise DefinitionError(
                f"end_offset={self.end_offset!r}: give a whole number of windows."
            )
        set_ = object.__setattr__
        set_(self, "_tz", _zone(self.timezone))
        set_(self, "_phase", 0)
        if self.unit == "hour":
            set_(self, "_phase", self._naive_epoch(self.start, "start") % 3600)
        set_(self, "_first", self._bound(self.start, "start"))
        set_(self, "_stop", None if self.end is None else self._bound(self.end, "end"))
        if self._stop is not None and self._stop <= self._first:
            raise DefinitionError(
                f"{self!r}: end={self.end!r} is not after start={self.start!r}; the end is the "
                "first key not included."
            )

    # -- text -----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``hourly``, ``daily``, ``weekly`` or ``monthly``."""
        return MAKER[self.unit]

    def token(self) -> str:
        """The stable text of this definition (part of an asset's version): its constructor
        call, arguments at their defaults left out."""
        args = [f"start={self.start!r}"]
        if self.end is not None:
            args.append(f"end={self.end!r}")
        if self.timezone != "UTC":
            args.append(f"timezone={self.timezone!r}")
        if self.end_offset:
            args.append(f"end_offset={self.end_offset}")
        if self.week_start:
            args.append(f"week_start={WEEKDAYS[self.week_start]!r}")
        return f"{self.kind}({', '.join(args)})"

    def __repr__(self) -> str:
        return self.token()

    @property
    def expected(self) -> str:
        """The form of a key, for messages."""
        if self.unit == "hour":
            return "a local hour like 2024-01-05T13:00"
        if self.unit == "day":
            return "a date like 2024-01-05"
        if self.unit == "week":
            return f"the {WEEKDAYS[self.week_start].capitalize()} a week starts on, like 2024-01-01"
        return "the first day of a month, like 2024-01-01"

    # -- indexes and keys -----------------------------------------------------------------

    @property
    def phase(self) -> int:
        """Seconds past the UTC hour that hourly windows start at (0 but in zones such as
        Asia/Kolkata); 0 for other units."""
        return self._phase

    @property
    def first(self) -> int:
        """The index of the first window."""
        return self._first

    @property
    def stop(self) -> int | None:
        """The index after the last window (``None``: no end)."""
        return self._stop

    def index(self, key: str) -> int:
        """The index of ``key``; ``PartitionError`` naming the key, this definition and the
        expected form when ``key`` is not one of its keys (before ``start`` or from ``end``
        on included)."""
        n = self._index(key)
        if n < self._first or (self._stop is not None and n >= self._stop):
            where = (
                f"before start={self.start!r}" if n < self._first else f"from end={self.end!r} on"
            )
            raise PartitionError(f"{key!r} is not a partition of {self!r}: it is {where}.")
        return n

    def check(self, key: str) -> str:
        """``key`` when it is one of this definition's keys; ``PartitionError`` if not."""
        self.index(key)
        return key

    def key(self, n: int) -> str:
        """The key of the window with index ``n``."""
        if self.unit == "hour":
            return self._hour_keys(n, n + 1)[0]
        return _calendar_key(self.unit, self.week_start, n)

    def keys_between(self, lo: int, hi: int) -> list[str]:
        """The keys of the windows with indexes ``lo`` to ``hi - 1``, in order."""
        if hi <= lo:
            return []
        if self.unit == "hour":
            return self._hour_keys(lo, hi)
        if self.unit == "day":
            fromordinal = date.fromordinal
            return [fromordinal(o).isoformat() for o in range(lo, hi)]
        return [_calendar_key(self.unit, self.week_start, n) for n in range(lo, hi)]

    def current(self, now: datetime) -> int:
        """The index of the window that holds the instant ``now`` (tz-aware)."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise PartitionError(f"now={now!r} has no time zone; give an aware datetime.")
        if self.unit == "hour":
            seconds = int((now - datetime(1970, 1, 1, tzinfo=_UTC)).total_seconds() // 1)
            return (seconds - self._phase) // 3600
        return _calendar_index(self.unit, self.week_start, now.astimezone(self._tz).date())

    def last_stop(self, now: datetime) -> int:
        """The index after the last window that exists at ``now``."""
        stop = self.current(now) + self.end_offset
        if self._stop is not None:
            stop = min(stop, self._stop)
        return max(stop, self._first)

    def keys(self, now: datetime, dynamic: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """The keys of the windows that exist at ``now``, in time order (``dynamic`` is for
        the signature every definition shares; time keys need none)."""
        return self.keys_between(self._first, self.last_stop(now))

    def window(self, key: str) -> tuple[datetime, datetime]:
        """The (start, end) of ``key``'s window, tz-aware in this definition's zone."""
        n = self.index(key)
        return self.instant(n), self.instant(n + 1)

    def instant(self, n: int) -> datetime:
        """The start of window ``n``, tz-aware in this definition's zone."""
        if self.unit == "hour":
            return datetime.fromtimestamp(n * 3600 + self._phase, self._tz)
        day = date.fromordinal(_calendar_span(self.unit, self.week_start, n)[0])
        return datetime(day.year, day.month, day.day, tzinfo=self._tz)

    def epoch(self, n: int) -> int:
        """The start of window ``n`` in seconds since 1970-01-01T00:00Z."""
        if self.unit == "hour":
            return n * 3600 + self._phase
        return int(self.instant(n).timestamp())

    def index_at_epoch(self, seconds: int) -> int:
        """The index of the window holding the instant ``seconds`` (since 1970 UTC)."""
        if self.unit == "hour":
            return (seconds - self._phase) // 3600
        local = datetime.fromtimestamp(seconds, self._tz).date()
        return _calendar_index(self.unit, self.week_start, local)

    def day_span(self, n: int) -> tuple[int, int]:
        """The local day ordinals window ``n`` covers, end excluded (not for hourly)."""
        return _calendar_span(self.unit, self.week_start, n)

    def index_at_day(self, ordinal: int) -> int:
        """The index of the window holding the local day ``ordinal`` (not for hourly)."""
        return _calendar_index(self.unit, self.week_start, date.fromordinal(ordinal))

    # -- parsing --------------------------------------------------------------------------

    def _bad(self, key: object, why: str = "") -> PartitionError:
        return PartitionError(
            f"{key!r} is not a partition key of {self!r}{why}: expected {self.expected}."
        )

    def _index(self, key: str) -> int:
        """The index of ``key``, bounds not checked; the canonical form is enforced."""
        if not isinstance(key, str):
            raise self._bad(key)
        if self.unit == "hour":
            return self._hour_index(key)
        m = _DATE_RE.match(key)
        if m is None:
            raise self._bad(key)
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise self._bad(key, " (no such date)") from None
        n = _calendar_index(self.unit, self.week_start, day)
        if self.unit == "week" and day.weekday() != self.week_start:
            raise self._bad(key, f" (a {WEEKDAYS[day.weekday()].capitalize()})")
        if self.unit == "month" and day.day != 1:
            raise self._bad(key, f" (the month starts on {self.key(n)})")
        return n

    def _naive_epoch(self, key: str, what: str) -> int:
        """Seconds since 1970 UTC of an hourly key read as wall time (fold 0) or with its
        offset; a definition error naming ``what`` (start/end) when malformed."""
        m = _HOUR_RE.match(key) if isinstance(key, str) else None
        if m is None:
            raise DefinitionError(
                f"hourly({what}={key!r}): expected a local hour like 2024-01-05T13:00."
            )
        return self._epoch_of_match(m, key)

    def _epoch_of_match(self, m: re.Match[str], key: str) -> int:
        try:
            wall = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]))
        except ValueError:
            raise self._bad(key, " (no such time)") from None
        if m[6] is None:
            return int(wall.replace(tzinfo=self._tz).timestamp())
        offset = (int(m[7]) * 3600 + int(m[8]) * 60) * (1 if m[6] == "+" else -1)
        return int((wall - _EPOCH).total_seconds()) - offset

    def _hour_index(self, key: str) -> int:
        m = _HOUR_RE.match(key)
        if m is None:
            raise self._bad(key)
        n, rest = divmod(self._epoch_of_match(m, key) - self._phase, 3600)
        if rest:
            raise self._bad(key, " (not the start of an hour)")
        canonical = self._hour_keys(n, n + 1)[0]
        if canonical == key:
            return n
        if canonical[:16] == key[:16]:
            raise self._bad(key, f" (that hour is written {canonical})")
        if m[6] is not None:
            raise self._bad(key, f" ({self.timezone} is not at {key[16:]} then)")
        raise self._bad(key, f" (the clocks in {self.timezone} skip that hour)")

    def _bound(self, key: str | None, what: str) -> int:
        try:
            return self._index(str(key))
        except PartitionError as exc:
            raise DefinitionError(f"{what}={exc}") from None

    # -- hourly keys ----------------------------------------------------------------------

    def _hour_keys(self, lo: int, hi: int) -> list[str]:
        """Keys of hours ``lo`` to ``hi - 1``: two zone conversions per local day, plain
        string work for the hours between; hours near an offset change one by one."""
        tz, phase, out = self._tz, self._phase, []
        n = lo
        while n < hi:
            first = datetime.fromtimestamp(n * 3600 + phase, tz)
            count = min(24 - first.hour, hi - n)
            last = datetime.fromtimestamp((n + count - 1) * 3600 + phase, tz)
            if first.minute == 0 and not first.fold and first.utcoffset() == last.utcoffset():
                day = first.date().isoformat()
                out.extend([day + h for h in _HOURS[first.hour : first.hour + count]])
            else:
                for i in range(count):
                    out.append(_hour_key(datetime.fromtimestamp((n + i) * 3600 + phase, tz)))
            n += count
        return out


def _hour_key(t: datetime) -> str:
    """The key of the hour starting at the aware local time ``t``."""
    text = t.strftime("%Y-%m-%dT%H:%M")
    if t.fold and t.replace(fold=0).utcoffset() != t.utcoffset():
        offset = t.utcoffset()
        assert offset is not None
        text += _offset_text(int(offset.total_seconds()))
    return text


def _calendar_index(unit: str, week_start: int, day: date) -> int:
    if unit == "day":
        return day.toordinal()
    if unit == "week":
        return (day.toordinal() - 1 - week_start) // 7
    return day.year * 12 + day.month - 1


def _calendar_span(unit: str, week_start: int, n: int) -> tuple[int, int]:
    if unit == "day":
        return n, n + 1
    if unit == "week":
        start = n * 7 + 1 + week_start
        return start, start + 7
    year, month = divmod(n, 12)
    nyear, nmonth = divmod(n + 1, 12)
    return date(year, month + 1, 1).toordinal(), date(nyear, nmonth + 1, 1).toordinal()


def _calendar_key(unit: str, week_start: int, n: int) -> str:
    if unit == "month":
        year, month = divmod(n, 12)
        return f"{year:04d}-{month + 1:02d}-01"
    return date.fromordinal(_calendar_span(unit, week_start, n)[0]).isoformat()


# -- constructors -------------------------------------------------------------------------


def _text(value: str | date, unit: str, what: str) -> str:
    if isinstance(value, datetime):
        if unit == "hour":
            return value.strftime("%Y-%m-%dT%H:%M")
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat() + ("T00:00" if unit == "hour" else "")
    if isinstance(value, str):
        if unit == "hour" and _DATE_RE.match(value):
            return value + "T00:00"
        return value
    raise DefinitionError(f"{MAKER[unit]}({what}={value!r}): give a date string like 2024-01-05.")


def hourly(
    start: str | date,
    end: str | date | None = None,
    timezone: str = "UTC",
    end_offset: int = 0,
) -> TimePartitions:
    """One partition per hour of ``timezone``, keys like ``2024-01-05T13:00``; ``start`` and
    ``end`` (excluded) are hours like that or dates (their midnight)."""
    stop = None if end is None else _text(end, "hour", "end")
    return TimePartitions("hour", _text(start, "hour", "start"), stop, timezone, end_offset)


def daily(
    start: str | date,
    end: str | date | None = None,
    timezone: str = "UTC",
    end_offset: int = 0,
) -> TimePartitions:
    """One partition per local day of ``timezone``, keys like ``2024-01-05``; ``end`` is the
    first day not included."""
    stop = None if end is None else _text(end, "day", "end")
    return TimePartitions("day", _text(start, "day", "start"), stop, timezone, end_offset)


def weekly(
    start: str | date,
    end: str | date | None = None,
    timezone: str = "UTC",
    end_offset: int = 0,
    week_start: str = "monday",
) -> TimePartitions:
    """One partition per week, starting on ``week_start`` (Monday unless told), keyed by the
    week's first day; ``start`` and ``end`` (excluded) are such days."""
    if week_start not in WEEKDAYS:
        raise DefinitionError(
            f"weekly(week_start={week_start!r}): use one of {', '.join(WEEKDAYS)}."
        )
    ws = WEEKDAYS.index(week_start)
    first = _text(start, "week", "start")
    m = _DATE_RE.match(first)
    if m is not None:
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            day = None
        if day is not None and day.weekday() != ws:
            monday = day - timedelta(days=(day.weekday() - ws) % 7)
            raise DefinitionError(
                f"weekly(start={first!r}): that is a {WEEKDAYS[day.weekday()].capitalize()}, and "
                f"weeks start on {WEEKDAYS[ws].capitalize()}s; use start={monday.isoformat()!r} "
                f"or week_start={WEEKDAYS[day.weekday()]!r}."
            )
    stop = None if end is None else _text(end, "week", "end")
    return TimePartitions("week", first, stop, timezone, end_offset, ws)


def monthly(
    start: str | date,
    end: str | date | None = None,
    timezone: str = "UTC",
    end_offset: int = 0,
) -> TimePartitions:
    """One partition per calendar month, keyed by its first day (``2024-01-01``)."""
    stop = None if end is None else _text(end, "month", "end")
    return TimePartitions("month", _text(start, "month", "start"), stop, timezone, end_offset)
