"""Selections of partitions as text (--partitions), and keys written back as runs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from assets_core.errors import PartitionError
from assets_core.partitions import KeySpace, daily, dynamic, hourly, multi, runs, select, static

SPACE = KeySpace(
    datetime(2024, 6, 1, tzinfo=timezone.utc), {"customers": ["acme", "globex", "initech"]}
)
DAYS = daily("2024-01-01")
REGIONS = static(["eu", "us", "apac"])
SALES = multi(date=DAYS, region=REGIONS)


def test_ranges_are_inclusive_and_lists_add_up() -> None:
    assert select(DAYS, "2024-01-30..2024-02-01, 2024-03-01", SPACE) == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
        "2024-03-01",
    ]
    assert len(select(DAYS, "2024-01-01..2024-01-31", SPACE)) == 31
    assert select(DAYS, "2024-01-02,2024-01-01,2024-01-02", SPACE) == ["2024-01-01", "2024-01-02"]


def test_a_time_range_is_cut_at_the_existing_partitions() -> None:
    assert len(select(DAYS, "2023-01-01..2030-01-01", SPACE)) == 152  # 2024-01-01..05-31


def test_static_and_dynamic_ranges_follow_their_order() -> None:
    assert select(REGIONS, "us..apac", SPACE) == ["us", "apac"]
    assert select(dynamic("customers"), "acme..globex,initech", SPACE) == [
        "acme",
        "globex",
        "initech",
    ]


def test_multi_selections_narrow_across_dimensions() -> None:
    assert len(select(SALES, "region=eu", SPACE)) == 152
    assert select(SALES, "date=2024-01-01..2024-01-02,region=eu,region=apac", SPACE) == [
        "date=2024-01-01,region=eu",
        "date=2024-01-01,region=apac",
        "date=2024-01-02,region=eu",
        "date=2024-01-02,region=apac",
    ]
    assert select(SALES, "date=2024-01-05,region=us", SPACE) == ["date=2024-01-05,region=us"]


@pytest.mark.parametrize(
    ("definition", "text", "message"),
    [
        (
            DAYS,
            "2024-01-05..2024-01-01",
            "--partitions '2024-01-05..2024-01-01' runs backwards; write 2024-01-01..2024-01-05.",
        ),
        (
            DAYS,
            "2024-01-01..",
            "--partitions '2024-01-01..': a range needs both ends, e.g. 2024-01-01..2024-01-02.",
        ),
        (
            DAYS,
            "2024-01-01,,2024-01-02",
            "--partitions '2024-01-01,,2024-01-02': give keys or "
            "ranges separated by commas, e.g. 2024-01-01..2024-01-02.",
        ),
        (
            DAYS,
            "2024-1-1",
            "--partitions '2024-1-1': '2024-1-1' is not a partition key of "
            "daily(start='2024-01-01'): expected a date like 2024-01-05.",
        ),
        (
            DAYS,
            "2024-07-01",
            "--partitions '2024-07-01': '2024-07-01' is a partition of "
            "daily(start='2024-01-01') that does not exist yet at 2024-06-01T00:00:00+00:00 (the "
            "last is 2024-05-31); pick an existing one or pin a later time with --as-of.",
        ),
        (
            DAYS,
            "2023-01-01..2023-02-01",
            "--partitions '2023-01-01..2023-02-01' selects no "
            "existing partition of daily(start='2024-01-01') (existing: 2024-01-01..2024-05-31).",
        ),
        (
            SALES,
            "2024-01-01",
            "--partitions '2024-01-01': name the dimension, e.g. "
            "date=2024-01-01 (one of date, region).",
        ),
        (
            SALES,
            "zone=eu",
            f"--partitions 'zone=eu': {SALES!r} has no dimension 'zone' (its "
            "dimensions: date, region).",
        ),
        (
            SALES,
            "region=mars",
            "--partitions 'region=mars': 'mars' is not a partition key of "
            "static(['eu', 'us', 'apac']): expected one of eu, us, apac.",
        ),
        (
            dynamic("customers"),
            "hooli",
            "--partitions 'hooli': 'hooli' is not a key of the "
            "dynamic set 'customers' (yet); add it first.",
        ),
    ],
)
def test_bad_selections_name_the_piece_and_the_fix(
    definition: object, text: str, message: str
) -> None:
    with pytest.raises(PartitionError) as e:
        select(definition, text, SPACE)  # type: ignore[arg-type]
    assert str(e.value) == message


def test_runs_group_consecutive_keys() -> None:
    keys = DAYS.keys(SPACE.now)
    chosen = [*keys[:91], keys[100], *keys[102:104], keys[0]]
    assert [str(r) for r in runs(DAYS, reversed(chosen), SPACE)] == [
        "2024-01-01..2024-03-31 (91 partitions)",
        "2024-04-10",
        "2024-04-12..2024-04-13 (2 partitions)",
    ]
    assert runs(DAYS, [], SPACE) == []


def test_keys_that_no_longer_exist_come_last_each_alone() -> None:
    assert [str(r) for r in runs(REGIONS, ["us", "mars", "eu"], SPACE)] == [
        "eu..us (2 partitions)",
        "mars",
    ]


def test_multi_runs_step_along_the_time_dimension() -> None:
    keys = select(SALES, "date=2024-01-01..2024-01-31,region=eu,region=apac", SPACE)
    keys.append("date=2024-03-01,region=us")
    assert [str(r) for r in runs(SALES, keys, SPACE)] == [
        "date=2024-01-01..2024-01-31,region=eu (31 partitions)",
        "date=2024-01-01..2024-01-31,region=apac (31 partitions)",
        "date=2024-03-01,region=us",
    ]


def test_a_run_reads_back_as_its_keys() -> None:
    for definition, text in [
        (DAYS, "2024-01-03..2024-01-09,2024-02-01"),
        (SALES, "date=2024-01-01..2024-01-04,region=us"),
        (REGIONS, "eu,apac"),
        (hourly("2024-05-30", timezone="Europe/Berlin"), "2024-05-30T22:00..2024-05-31T02:00"),
    ]:
        keys = select(definition, text, SPACE)
        back = [k for r in runs(definition, keys, SPACE) for k in select(definition, r.text, SPACE)]
        assert back == keys
