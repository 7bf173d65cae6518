"""Locations relative to the storage folder: the function pair the state store and the migration
share, and the built-in layouts a migration recognises in another folder."""

from __future__ import annotations

import pytest

from assets_core.storage.locations import (
    absolute_location,
    relative_location,
    stored_location,
    written_under,
)

ROOT = "/p/.lumbung"


@pytest.mark.parametrize(
    ("location", "stored"),
    [
        ("/p/.lumbung/parquet/a/b.parquet", "./parquet/a/b.parquet"),
        (
            "/p/.lumbung/parquet/a/b/day=2024-01-05/part.parquet",
            "./parquet/a/b/day=2024-01-05/part.parquet",
        ),
        ("/p/.lumbung/warehouse.duckdb::a.b", "./warehouse.duckdb::a.b"),
        ("/p/.lumbung/custom.bin", "./custom.bin"),
    ],
)
def test_a_location_under_the_folder_is_stored_relative_and_read_back(
    location: str, stored: str
) -> None:
    assert stored_location(location, [ROOT]) == stored
    assert absolute_location(stored, ROOT) == location
    assert absolute_location(stored, "/q/other") == "/q/other" + location[len(ROOT) :]


@pytest.mark.parametrize(
    "location",
    [
        "memory://a/b",
        "s3://bucket/p/.lumbung/a.parquet",
        "/p/.lumbungish/a.parquet",  # a sibling whose name starts alike
        "/p/.lumbung",  # the folder itself
        "/p/.lumbung/",
        "/p/.lumbung/a/../../etc/passwd",  # climbs out
        "/p/.lumbung//a.parquet",
        "/elsewhere/warehouse.duckdb::a.b",
        "orders_table",  # an IO manager's own name for something: never re-rooted
        "postgres:public.orders",
    ],
)
def test_anything_else_is_kept_as_it_is(location: str) -> None:
    assert relative_location(location, ROOT) is None
    assert stored_location(location, [ROOT]) == location
    assert absolute_location(location, "/q") == location


def test_the_first_folder_spelling_that_holds_it() -> None:
    assert stored_location("/real/s/a.parquet", ["/link/s", "/real/s"]) == "./a.parquet"
    assert stored_location("/link/s/a.parquet", ["/link/s", "/real/s"]) == "./a.parquet"


def test_the_filesystem_root_as_folder() -> None:
    assert relative_location("/a.parquet", "/") == "./a.parquet"
    assert absolute_location("./a.parquet", "/") == "/a.parquet"


@pytest.mark.parametrize(
    ("location", "key", "partition", "folder"),
    [
        ("/old/s/parquet/a/b.parquet", "a/b", None, "/old/s"),
        ("/old/s/parquet/a/b/day=2024-01-05/part.parquet", "a/b", "2024-01-05", "/old/s"),
        (
            "/old/s/parquet/a/b/date=2024-01-05/region=eu/part.parquet",
            "a/b",
            "date=2024-01-05,region=eu",
            "/old/s",
        ),
        ("/old/s/warehouse.duckdb::a.b[2024-01-05]", "a/b", "2024-01-05", "/old/s"),
        ("/old/s/warehouse.duckdb::a.b", "a/b", None, "/old/s"),
        ("/old/s/parquet/parquet/a.parquet", "parquet/a", None, "/old/s"),
        ("/old/s/parquet/a/b.parquet", "b", None, None),  # another key's file
        ("/old/s/parquet/a/b.parquet", "a/b", "p", None),  # a partition is in a folder
        ("/old/s/a/b.parquet", "a/b", None, None),
        ("/old/s/other.duckdb::a.b", "a/b", None, None),
        ("/old/s/warehouse.duckdb::", "a/b", None, None),
        ("memory://a/b", "a/b", None, None),
        ("/parquet/a.parquet", "a", None, None),  # no folder before it
    ],
)
def test_built_in_layouts_name_the_folder_they_were_written_under(
    location: str, key: str, partition: str | None, folder: str | None
) -> None:
    assert written_under(location, key, partition) == folder
