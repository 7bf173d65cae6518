"""Time partitions: keys, parsing, windows, DST in Europe/Berlin, end and end_offset."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone

import pytest

from assets_core.errors import DefinitionError, PartitionError
from assets_core.partitions import daily, hourly, monthly, weekly

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def utc(t: datetime) -> datetime:
    """``t`` in UTC: Python subtracts two times of one zone by their wall clocks."""
    return t.astimezone(UTC)


def test_keys_of_each_unit_are_their_window_starts() -> None:
    now = at("2024-03-01T00:00")
    assert daily("2024-02-27").keys(now) == ["2024-02-27", "2024-02-28", "2024-02-29"]
    assert weekly("2024-02-12").keys(now) == ["2024-02-12", "2024-02-19"]
    assert monthly("2023-12-01").keys(now) == ["2023-12-01", "2024-01-01", "2024-02-01"]
    assert hourly("2024-02-29T21:00").keys(now) == [
        "2024-02-29T21:00",
        "2024-02-29T22:00",
        "2024-02-29T23:00",
    ]


def test_a_window_exists_once_it_has_ended() -> None:
    d = daily("2024-01-01")
    assert d.keys(at("2024-01-01T23:59")) == []
    assert d.keys(at("2024-01-02T00:00")) == ["2024-01-01"]
    assert d.keys(at("2023-06-01T00:00")) == []


def test_end_offset_adds_or_holds_back_windows() -> None:
    now = at("2024-01-03T12:00")
    assert daily("2024-01-01", end_offset=1).keys(now)[-1] == "2024-01-03"  # in progress
    assert daily("2024-01-01", end_offset=-1).keys(now) == ["2024-01-01"]
    assert daily("2024-01-01", end_offset=0).keys(now)[-1] == "2024-01-02"


def test_end_is_the_first_key_not_included() -> None:
    d = daily("2024-01-01", end="2024-01-03")
    assert d.keys(at("2030-01-01T00:00")) == ["2024-01-01", "2024-01-02"]
    with pytest.raises(PartitionError) as e:
        d.index("2024-01-03")
    assert str(e.value) == (
        "'2024-01-03' is not a partition of daily(start='2024-01-01', end='2024-01-03'): "
        "it is from end='2024-01-03' on."
    )


def test_a_daily_key_in_a_zone_follows_local_midnight() -> None:
    d = daily("2024-01-01", timezone="Asia/Tokyo")  # UTC+9
    assert d.keys(at("2024-01-01T14:59")) == []
    assert d.keys(at("2024-01-01T15:00")) == ["2024-01-01"]
    start, end = d.window("2024-01-01")
    assert start.isoformat() == "2024-01-01T00:00:00+09:00"
    assert end.isoformat() == "2024-01-02T00:00:00+09:00"


def test_windows_are_tz_aware_and_monthly_ones_are_calendar_months() -> None:
    start, end = monthly("2024-01-01", timezone="Europe/Berlin").window("2024-03-01")
    assert (start.isoformat(), end.isoformat()) == (
        "2024-03-01T00:00:00+01:00",
        "2024-04-01T00:00:00+02:00",
    )
    assert utc(end) - utc(start) == timedelta(days=31) - timedelta(hours=1)


def test_weeks_start_on_monday_unless_told() -> None:
    assert weekly("2024-01-01").keys(at("2024-01-15T00:00")) == ["2024-01-01", "2024-01-08"]
    sunday = weekly("2023-12-31", week_start="sunday")
    assert sunday.keys(at("2024-01-14T00:00")) == ["2023-12-31", "2024-01-07"]
    assert sunday.token() == "weekly(start='2023-12-31', week_start='sunday')"
    with pytest.raises(DefinitionError) as e:
        weekly("2024-01-03")
    assert str(e.value) == (
        "weekly(start='2024-01-03'): that is a Wednesday, and weeks start on Mondays; use "
        "start='2024-01-01' or week_start='wednesday'."
    )


@pytest.mark.parametrize(
    ("definition", "key", "message"),
    [
        (
            daily("2024-01-01"),
            "2024-1-5",
            "'2024-1-5' is not a partition key of daily(start='2024-01-01'): expected a date "
            "like 2024-01-05.",
        ),
        (
            daily("2024-01-01"),
            "2024-02-30",
            "'2024-02-30' is not a partition key of daily(start='2024-01-01') (no such date): "
            "expected a date like 2024-01-05.",
        ),
        (
            monthly("2024-01-01"),
            "2024-02-05",
            "'2024-02-05' is not a partition key of monthly(start='2024-01-01') (the month "
            "starts on 2024-02-01): expected the first day of a month, like 2024-01-01.",
        ),
        (
            weekly("2024-01-01"),
            "2024-01-10",
            "'2024-01-10' is not a partition key of weekly(start='2024-01-01') (a Wednesday): "
            "expected the Monday a week starts on, like 2024-01-01.",
        ),
        (
            hourly("2024-01-01"),
            "2024-01-05 13:00",
            "'2024-01-05 13:00' is not a partition key of hourly(start='2024-01-01T00:00'): "
            "expected a local hour like 2024-01-05T13:00.",
        ),
        (
            hourly("2024-01-01"),
            "2024-01-05T13:30",
            "'2024-01-05T13:30' is not a partition key of hourly(start='2024-01-01T00:00') (not "
            "the start of an hour): expected a local hour like 2024-01-05T13:00.",
        ),
        (
            daily("2024-01-01"),
            "2023-12-31",
            "'2023-12-31' is not a partition of daily(start='2024-01-01'): it is before "
            "start='2024-01-01'.",
        ),
    ],
)
def test_bad_keys_name_the_key_the_definition_and_the_form(
    definition: object, key: str, message: str
) -> None:
    with pytest.raises(PartitionError) as e:
        definition.check(key)  # type: ignore[attr-defined]
    assert str(e.value) == message


def test_keys_and_indexes_round_trip() -> None:
    for d in (
        daily("2020-01-01"),
        weekly("2020-01-06"),
        monthly("2020-01-01"),
        hourly("2020-01-01"),
    ):
        keys = d.keys(at("2021-01-01T00:00"))
        assert [d.key(d.index(k)) for k in keys] == keys
        assert [d.index(k) for k in keys] == list(range(d.first, d.first + len(keys)))


def test_definitions_are_values_with_a_stable_token() -> None:
    assert daily("2024-01-01") == daily(date(2024, 1, 1))
    assert hash(daily("2024-01-01")) == hash(daily("2024-01-01"))
    assert daily("2024-01-01") != daily("2024-01-01", timezone="Europe/Berlin")
    assert {daily("2024-01-01"), daily("2024-01-01")} == {daily("2024-01-01")}
    assert (
        repr(hourly("2024-01-01", end="2024-02-01", timezone="Europe/Berlin", end_offset=1))
        == "hourly(start='2024-01-01T00:00', end='2024-02-01T00:00', "
        "timezone='Europe/Berlin', end_offset=1)"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: daily("2024-01-01", timezone="Europe/Berln"),
            "timezone='Europe/Berln' is not a time zone known here; give an IANA zone name such "
            "as 'Europe/Berlin' (on a system without zone data, pip install tzdata).",
        ),
        (
            lambda: daily("2024-01-05", end="2024-01-01"),
            "daily(start='2024-01-05', end='2024-01-01'): end='2024-01-01' is not after "
            "start='2024-01-05'; the end is the first key not included.",
        ),
        (
            lambda: daily("Jan 1"),
            "start='Jan 1' is not a partition key of daily(start='Jan 1'): expected a date "
            "like 2024-01-05.",
        ),
        (
            lambda: daily("2024-01-01", end_offset=1.5),
            "end_offset=1.5: give a whole number of windows.",
        ),
    ],
)
def test_bad_definitions_say_what_to_write(make: object, message: str) -> None:
    with pytest.raises(DefinitionError) as e:
        make()  # type: ignore[operator]
    assert str(e.value) == message


# -- DST: Europe/Berlin, spring 2024-03-31 (02:00 -> 03:00), autumn 2024-10-27 (03:00 -> 02:00)

BERLIN = hourly("2024-01-01", timezone="Europe/Berlin")
NOW = at("2025-01-01T00:00")


def day_keys(day: str) -> list[str]:
    return [k for k in BERLIN.keys(NOW) if k.startswith(day)]


def test_spring_change_day_has_23_hours_and_no_0200() -> None:
    keys = day_keys("2024-03-31")
    assert len(keys) == 23
    assert keys[:3] == ["2024-03-31T00:00", "2024-03-31T01:00", "2024-03-31T03:00"]
    start, end = BERLIN.window("2024-03-31T01:00")
    assert (start.isoformat(), end.isoformat()) == (
        "2024-03-31T01:00:00+01:00",
        "2024-03-31T03:00:00+02:00",
    )
    with pytest.raises(PartitionError) as e:
        BERLIN.index("2024-03-31T02:00")
    assert "(the clocks in Europe/Berlin skip that hour)" in str(e.value)


def test_autumn_change_day_has_25_hours_the_repeated_one_with_its_offset() -> None:
    keys = day_keys("2024-10-27")
    assert len(keys) == 25 == len(set(keys))
    assert keys[1:5] == [
        "2024-10-27T01:00",
        "2024-10-27T02:00",
        "2024-10-27T02:00+01:00",
        "2024-10-27T03:00",
    ]
    first, second = BERLIN.window("2024-10-27T02:00"), BERLIN.window("2024-10-27T02:00+01:00")
    assert first[0].isoformat() == "2024-10-27T02:00:00+02:00"
    assert second[0].isoformat() == "2024-10-27T02:00:00+01:00"
    assert utc(first[1]) == utc(second[0])
    assert utc(second[1]) - utc(first[0]) == timedelta(hours=2)
    with pytest.raises(PartitionError) as e:
        BERLIN.index("2024-10-27T02:00+02:00")
    assert "(that hour is written 2024-10-27T02:00)" in str(e.value)


def test_hourly_keys_in_a_dst_zone_are_every_hour_once_and_sort_as_strings() -> None:
    keys = BERLIN.keys(NOW)
    assert len(keys) == 366 * 24 + 1  # Berlin's 2024 starts an hour before UTC's
    assert keys == sorted(keys)
    starts = [utc(BERLIN.window(k)[0]) for k in keys[::97]]
    assert all(b - a == timedelta(hours=97) for a, b in itertools.pairwise(starts))
    assert [BERLIN.key(BERLIN.index(k)) for k in keys] == keys


def test_a_zone_half_an_hour_off_keys_its_local_hours() -> None:
    kolkata = hourly("2024-01-01", timezone="Asia/Kolkata")
    assert kolkata.keys(at("2024-01-01T00:00")) == [f"2024-01-01T0{h}:00" for h in range(5)]
