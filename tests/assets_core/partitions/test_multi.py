"""Multi-dimensional partitions: keys name every dimension in the declared order."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from assets_core.errors import DefinitionError, PartitionError
from assets_core.partitions import daily, dynamic, multi, static

NOW = datetime(2024, 1, 3, tzinfo=timezone.utc)
SALES = multi(date=daily("2024-01-01"), region=static(["eu", "us"]), channel=dynamic("channels"))


def test_keys_are_every_combination_first_dimension_slowest() -> None:
    keys = SALES.keys(NOW, {"channels": ["web", "shop"]})
    assert len(keys) == 2 * 2 * 2
    assert keys[:3] == [
        "date=2024-01-01,region=eu,channel=web",
        "date=2024-01-01,region=eu,channel=shop",
        "date=2024-01-01,region=us,channel=web",
    ]
    assert keys[-1] == "date=2024-01-02,region=us,channel=shop"


def test_declared_order_is_kept_and_part_of_the_value() -> None:
    assert SALES.names == ("date", "region", "channel")
    other = multi(
        region=static(["eu", "us"]), date=daily("2024-01-01"), channel=dynamic("channels")
    )
    assert other != SALES
    assert SALES.token() == (
        "multi(date=daily(start='2024-01-01'), region=static(['eu', 'us']), "
        "channel=dynamic('channels'))"
    )


def test_split_join_and_window() -> None:
    key = "date=2024-01-02,region=us,channel=web"
    assert SALES.split(key) == ("2024-01-02", "us", "web")
    assert SALES.join(SALES.split(key)) == key
    start, end = SALES.window(key)
    assert (start.isoformat(), end.isoformat()) == (
        "2024-01-02T00:00:00+00:00",
        "2024-01-03T00:00:00+00:00",
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "region=us,date=2024-01-02,channel=web",
            "'region=us,date=2024-01-02,channel=web' is not a partition key of "
            f"{SALES!r}: expected date=<daily key>,region=<static key>,channel=<dynamic key>, "
            "every dimension once, in that order.",
        ),
        (
            "date=2024-01-02,region=xx,channel=web",
            "'date=2024-01-02,region=xx,channel=web' is not a partition key of "
            f"{SALES!r}: dimension region: 'xx' is not a partition key of static(['eu', 'us']): "
            "expected one of eu, us.",
        ),
    ],
)
def test_bad_multi_keys_name_the_key_and_the_form(key: str, message: str) -> None:
    with pytest.raises(PartitionError) as e:
        SALES.check(key)
    assert str(e.value) == message


def test_bad_multi_definitions() -> None:
    with pytest.raises(DefinitionError) as e:
        multi(date=daily("2024-01-01"), inner=multi(region=static(["eu"])))  # type: ignore[arg-type]
    assert str(e.value).startswith("multi(inner=multi(region=static(['eu']))): a dimension is ")
    with pytest.raises(DefinitionError):
        multi()
