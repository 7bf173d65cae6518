"""Ticks at the right instants, DST included, and which missed ticks a restart runs."""

from __future__ import annotations

from datetime import datetime, timezone

from assets_core.automation.due import catch_up, next_tick, tick_id, ticks_between
from assets_core.model.automation import schedule

UTC = timezone.utc


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_daily_tick_keeps_its_local_time_across_both_dst_changes() -> None:
    nightly = schedule("nightly", cron="30 2 * * *", timezone="Europe/Berlin")
    spring = ticks_between(nightly, _at("2024-03-30T00:00+01:00"), _at("2024-04-01T12:00+02:00"))
    # 02:30 does not exist on 31 March in Berlin: the tick runs at the jump, 03:00 CEST
    assert [tick_id(t) for t in spring] == [
        "2024-03-30T01:30:00Z",
        "2024-03-31T01:00:00Z",
        "2024-04-01T00:30:00Z",
    ]
    autumn = ticks_between(nightly, _at("2024-10-26T00:00+02:00"), _at("2024-10-28T12:00+01:00"))
    # 02:30 happens twice on 27 October: the tick runs once
    assert [tick_id(t) for t in autumn] == [
        "2024-10-26T00:30:00Z",
        "2024-10-27T00:30:00Z",
        "2024-10-28T01:30:00Z",
    ]


def test_an_hourly_tick_in_a_zone_is_every_real_hour_across_dst() -> None:
    hourly = schedule("h", cron="0 * * * *", timezone="America/New_York")
    found = ticks_between(hourly, _at("2024-03-10T00:30-05:00"), _at("2024-03-10T04:30-04:00"))
    assert [tick_id(t) for t in found] == [
        "2024-03-10T06:00:00Z",
        "2024-03-10T07:00:00Z",
        "2024-03-10T08:00:00Z",
    ]
    assert next_tick(hourly, found[-1]) == _at("2024-03-10T09:00Z")


def test_catch_up_policies_after_a_three_hour_outage() -> None:
    missed = ticks_between(
        schedule("m", cron="*/15 * * * *"), _at("2024-01-01T00:00Z"), _at("2024-01-01T03:00Z")
    )
    assert len(missed) == 12
    assert catch_up(schedule("a", cron="*/15 * * * *", catch_up="all"), missed) == missed
    assert catch_up(schedule("l", cron="*/15 * * * *"), missed) == [_at("2024-01-01T03:00Z")]
    assert catch_up(schedule("n", cron="*/15 * * * *", catch_up="none"), missed) == []
