"""Mappings: which upstream partitions a partition reads, and the reverse."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from assets_core.errors import DefinitionError
from assets_core.partitions import (
    ALL,
    KeySpace,
    PartitionsDefinition,
    daily,
    dynamic,
    explicit,
    hourly,
    mapping_for,
    monthly,
    multi,
    static,
    weekly,
    window,
)

SPACE = KeySpace(datetime(2024, 6, 1, tzinfo=timezone.utc), {"channels": ["web", "shop"]})
DAYS = daily("2024-01-01")
MONTHS = monthly("2024-01-01")


def test_the_same_definition_reads_the_same_key() -> None:
    m = mapping_for(DAYS, DAYS)
    assert m.upstream("2024-02-10", SPACE) == ("2024-02-10",)
    assert m.downstream("2024-02-10", SPACE) == ("2024-02-10",)


def test_a_month_reads_its_days_and_a_day_its_month() -> None:
    month_reads = mapping_for(DAYS, MONTHS)
    feb = month_reads.upstream("2024-02-01", SPACE)
    assert len(feb) == 29 and feb[0] == "2024-02-01" and feb[-1] == "2024-02-29"
    assert month_reads.downstream("2024-02-29", SPACE) == ("2024-02-01",)
    day_reads = mapping_for(MONTHS, DAYS)
    assert day_reads.upstream("2024-02-29", SPACE) == ("2024-02-01",)
    assert len(day_reads.downstream("2024-02-01", SPACE)) == 29


def test_overlap_is_cut_at_the_upstream_start() -> None:
    late = daily("2024-01-15")
    assert len(mapping_for(late, MONTHS).upstream("2024-01-01", SPACE)) == 17


def test_weeks_read_the_days_they_cover_across_months() -> None:
    assert mapping_for(MONTHS, weekly("2024-01-01")).upstream("2024-01-29", SPACE) == (
        "2024-01-01",
        "2024-02-01",
    )


def test_different_time_zones_overlap_by_instants() -> None:
    berlin = daily("2024-01-01", timezone="Europe/Berlin")
    # Berlin's 2024-01-05 is 2024-01-04T23:00Z..2024-01-05T23:00Z: two UTC days
    assert mapping_for(DAYS, berlin).upstream("2024-01-05", SPACE) == ("2024-01-04", "2024-01-05")
    assert mapping_for(DAYS, berlin).downstream("2024-01-05", SPACE) == ("2024-01-05", "2024-01-06")
    hours = hourly("2024-01-01", timezone="Europe/Berlin")
    autumn = mapping_for(hours, berlin).upstream("2024-10-27", SPACE)
    assert len(autumn) == 25 and "2024-10-27T02:00+01:00" in autumn
    assert len(mapping_for(hours, berlin).upstream("2024-03-31", SPACE)) == 23
    assert mapping_for(hours, berlin).downstream("2024-10-27T02:00+01:00", SPACE) == ("2024-10-27",)


def test_a_window_reads_the_windows_relative_to_this_one_cut_at_the_start() -> None:
    rolling = mapping_for(DAYS, DAYS, window(-6, 0))
    assert rolling.upstream("2024-01-10", SPACE) == tuple(f"2024-01-{d:02d}" for d in range(4, 11))
    assert rolling.upstream("2024-01-02", SPACE) == ("2024-01-01", "2024-01-02")
    assert rolling.downstream("2024-01-10", SPACE) == tuple(
        f"2024-01-{d:02d}" for d in range(10, 17)
    )
    ahead = mapping_for(DAYS, DAYS, window(1, 2))
    assert ahead.upstream("2024-01-10", SPACE) == ("2024-01-11", "2024-01-12")


def test_partitioned_and_unpartitioned() -> None:
    assert mapping_for(DAYS, None).upstream(None, SPACE) is ALL
    assert mapping_for(DAYS, None).downstream("2024-01-05", SPACE) == (None,)
    assert mapping_for(None, DAYS).upstream("2024-01-05", SPACE) == (None,)
    assert mapping_for(None, DAYS).downstream(None, SPACE) is ALL
    assert mapping_for(None, None).upstream(None, SPACE) == (None,)


def test_static_keys_that_are_some_of_the_upstreams_map_to_themselves() -> None:
    m = mapping_for(static(["eu", "us", "apac"]), static(["eu", "us"]))
    assert m.upstream("eu", SPACE) == ("eu",)
    assert m.downstream("apac", SPACE) == ()


def test_explicit_mappings_and_their_inverse() -> None:
    m = mapping_for(
        static(["de", "fr", "us"]),
        static(["eu", "na"]),
        explicit({"eu": ["de", "fr"], "na": ["us"]}),
    )
    assert m.upstream("eu", SPACE) == ("de", "fr")
    assert m.downstream("fr", SPACE) == ("eu",)
    assert explicit({"eu": ["de"]}).token() == "explicit({'eu': ['de']})"
    with pytest.raises(DefinitionError) as e:
        mapping_for(static(["de"]), static(["eu"]), explicit({"eu": ["xx"]}))
    assert str(e.value) == (
        "cannot map static(['de']) to static(['eu']): explicit(...): 'xx' is not a partition "
        "key of static(['de']): expected one of de; fix that key."
    )


THREE = multi(date=DAYS, region=static(["eu", "us"]), channel=dynamic("channels"))


def test_multi_to_multi_dimension_by_dimension_with_three_dimensions() -> None:
    two = multi(date=MONTHS, region=static(["eu", "us"]))
    # a month of one region reads that region's days in every channel
    reads = mapping_for(THREE, two).upstream("date=2024-02-01,region=eu", SPACE)
    assert len(reads) == 29 * 2
    assert reads[:2] == (
        "date=2024-02-01,region=eu,channel=web",
        "date=2024-02-01,region=eu,channel=shop",
    )
    assert mapping_for(THREE, two).downstream("date=2024-02-03,region=us,channel=web", SPACE) == (
        "date=2024-02-01,region=us",
    )
    # and the other way: each channel of a day reads its month of the region
    assert mapping_for(two, THREE).downstream("date=2024-02-01,region=eu", SPACE)[:2] == (
        "date=2024-02-01,region=eu,channel=web",
        "date=2024-02-01,region=eu,channel=shop",
    )


def test_multi_and_single_through_the_matching_dimension() -> None:
    assert mapping_for(THREE, DAYS).upstream("2024-01-05", SPACE) == tuple(
        f"date=2024-01-05,region={r},channel={c}" for r in ("eu", "us") for c in ("web", "shop")
    )
    assert mapping_for(DAYS, THREE).upstream("date=2024-01-05,region=eu,channel=web", SPACE) == (
        "2024-01-05",
    )
    assert len(mapping_for(DAYS, THREE).downstream("2024-01-05", SPACE)) == 4
    assert mapping_for(static(["eu", "us"]), THREE).upstream(
        "date=2024-01-05,region=us,channel=web", SPACE
    ) == ("us",)


def test_a_window_on_multi_applies_to_its_time_dimension() -> None:
    m = mapping_for(THREE, THREE, window(-1, 0))
    assert m.upstream("date=2024-01-05,region=eu,channel=web", SPACE) == (
        "date=2024-01-04,region=eu,channel=web",
        "date=2024-01-05,region=eu,channel=web",
    )


def test_many_keys_at_once_agree_with_one_at_a_time() -> None:
    edges: list[tuple[PartitionsDefinition, PartitionsDefinition, object]] = [
        (DAYS, DAYS, window(-6, 0)),
        (DAYS, MONTHS, None),
        (MONTHS, DAYS, None),
        (THREE, DAYS, None),
    ]
    for up, down, spec in edges:
        m = mapping_for(up, down, spec)  # type: ignore[arg-type]
        keys = SPACE.keys(down)
        assert m.upstream_many(keys, SPACE) == [m.upstream(k, SPACE) for k in keys]


# -- one day's source changed: exactly that day, its month, and the 7 rolling windows -------


def test_one_changed_day_fans_out_to_the_day_its_month_and_seven_rolling_windows() -> None:
    """events (daily source) -> clean_events (daily) -> monthly_totals (monthly) and
    rolling_7d (daily, window(-6, 0)), as DESIGN §12's example."""
    parts = {"events": DAYS, "clean_events": DAYS, "monthly_totals": MONTHS, "rolling_7d": DAYS}
    edges = {
        "events": [("clean_events", None)],
        "clean_events": [("monthly_totals", None), ("rolling_7d", window(-6, 0))],
    }
    stale: set[tuple[str, str]] = set()
    todo = [("events", "2024-03-10")]
    while todo:
        asset, key = todo.pop()
        stale.add((asset, key))
        for reader, spec in edges.get(asset, []):
            m = mapping_for(parts[asset], parts[reader], spec)
            todo += [(reader, k) for k in m.downstream(key, SPACE) if isinstance(k, str)]
    assert sorted(stale) == sorted(
        [
            ("events", "2024-03-10"),
            ("clean_events", "2024-03-10"),
            ("monthly_totals", "2024-03-01"),
            *(("rolling_7d", f"2024-03-{d}") for d in range(10, 17)),
        ]
    )
