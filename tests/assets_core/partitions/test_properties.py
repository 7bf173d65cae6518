"""Properties: every key formats and parses back; forward and reverse mappings agree."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from assets_core.partitions import (
    KeySpace,
    PartitionsDefinition,
    TimePartitions,
    daily,
    hourly,
    mapping_for,
    monthly,
    multi,
    static,
    weekly,
    window,
)

ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
STARTS = st.dates(min_value=date(2023, 1, 1), max_value=date(2024, 12, 1))


@st.composite
def times(draw: st.DrawFn) -> TimePartitions:
    start = draw(STARTS)
    zone = draw(ZONES)
    unit = draw(st.sampled_from(["hour", "day", "week", "month"]))
    if unit == "hour":
        return hourly(start, timezone=zone)
    if unit == "day":
        return daily(start, timezone=zone)
    if unit == "week":
        return weekly(start - timedelta(days=start.weekday()), timezone=zone)
    return monthly(start.replace(day=1), timezone=zone)


NOW = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2025, 6, 1), timezones=st.just(timezone.utc)
)


@settings(max_examples=60, deadline=None)
@given(times(), NOW)
def test_every_key_parses_back_to_itself(definition: TimePartitions, now: datetime) -> None:
    keys = definition.keys(now)[-300:]
    assert [definition.key(definition.index(k)) for k in keys] == keys
    assert len(set(keys)) == len(keys) and keys == sorted(keys)
    for k in keys[:3]:
        start, end = definition.window(k)
        assert start < end <= now or definition.end_offset > 0


def _agree(
    up: PartitionsDefinition, down: PartitionsDefinition, spec: object, now: datetime
) -> None:
    """Every (upstream, downstream) pair one direction gives, the other gives too (existing
    keys only; at most about 200 pairs checked each way, spread evenly)."""
    space = KeySpace(now)
    m = mapping_for(up, down, spec)  # type: ignore[arg-type]
    down_keys = space.keys(down)[-12:]
    up_keys = set(space.keys(up))
    forward = sorted({(u, d) for d in down_keys for u in m.upstream(d, space) if u in up_keys})
    for u, d in forward[:: max(1, len(forward) // 200)]:
        assert d in m.downstream(u, space), (u, d)
    ups = sorted({u for u, _ in forward})
    for u in ups[:: max(1, len(ups) // 200)]:
        for d in m.downstream(u, space):
            if d in down_keys:
                assert u in m.upstream(d, space), (u, d)


@settings(max_examples=60, deadline=None)
@given(times(), times(), NOW)
def test_forward_and_reverse_mappings_agree(
    up: TimePartitions, down: TimePartitions, now: datetime
) -> None:
    _agree(up, down, None, now)


@settings(max_examples=30, deadline=None)
@given(STARTS, st.integers(-8, 2), st.integers(0, 4), NOW)
def test_windows_agree(start: date, a: int, width: int, now: datetime) -> None:
    days = daily(start)
    _agree(days, days, window(a, a + width), now)
    regions = static(["eu", "us"])
    _agree(
        multi(date=days, region=regions),
        multi(date=days, region=regions),
        window(a, a + width),
        now,
    )


@settings(max_examples=30, deadline=None)
@given(times(), times(), NOW)
def test_multi_mappings_agree(a: TimePartitions, b: TimePartitions, now: datetime) -> None:
    regions = static(["eu", "us"])
    _agree(multi(t=a, region=regions), multi(t=b, region=regions), None, now)
    _agree(multi(t=a, region=regions), b, None, now)
    _agree(a, multi(t=b, region=regions), None, now)
