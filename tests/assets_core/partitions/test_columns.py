"""How partitions are named in storage: one rule for every IO manager."""

from __future__ import annotations

import pytest

from assets_core.errors import PartitionError
from assets_core.partitions import daily, dynamic, hourly, multi, static
from assets_core.partitions.columns import (
    dimension_names,
    dimension_values,
    join_values,
    sort_keys,
)

SALES = multi(date=daily(start="2024-01-01"), region=static(["us", "eu"]))


@pytest.mark.parametrize(
    "definition",
    [daily(start="2024-01-01"), hourly(start="2024-01-01T00:00"), static(["a"]), dynamic("d")],
)
def test_a_single_definition_has_one_dimension_named_partition(definition: object) -> None:
    assert dimension_names(definition) == ("partition",)  # type: ignore[arg-type]
    assert dimension_values(definition, "k") == ("k",)  # type: ignore[arg-type]


def test_a_multi_definition_has_its_names_in_the_order_declared() -> None:
    assert dimension_names(SALES) == ("date", "region")
    assert dimension_values(SALES, "date=2024-01-05,region=eu") == ("2024-01-05", "eu")
    assert join_values(SALES, ("2024-01-05", "eu")) == "date=2024-01-05,region=eu"
    with pytest.raises(PartitionError):
        dimension_values(SALES, "region=eu,date=2024-01-05")


def test_keys_sort_by_dimension_static_in_declared_order() -> None:
    keys = [
        "date=2024-01-02,region=us",
        "date=2024-01-01,region=eu",
        "date=2024-01-01,region=us",
    ]
    assert sort_keys(SALES, keys) == [keys[2], keys[1], keys[0]]
    hours = ["2024-10-27T03:00", "2024-10-27T02:00+01:00", "2024-10-27T02:00"]
    assert sort_keys(hourly(start="2024-10-27T00:00"), hours) == hours[::-1]
    assert sort_keys(static(["z", "a"]), ["a", "z"]) == ["z", "a"]
