"""Static and dynamic partitions: keys are themselves, by the segment rule."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from assets_core.errors import DefinitionError, PartitionError
from assets_core.partitions import dynamic, static

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_static_keys_keep_their_declared_order() -> None:
    regions = static(["eu", "us", "apac"])
    assert regions.keys(NOW) == ["eu", "us", "apac"]
    assert regions == static(("eu", "us", "apac")) != static(["us", "eu", "apac"])
    assert regions.token() == "static(['eu', 'us', 'apac'])"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            ["eu", "2024"],
            "static(...): '2024' cannot be a partition key; a key starts with a "
            "letter or '_' and holds only letters, digits and '_'.",
        ),
        (["eu", "eu"], "static(...): 'eu' is listed twice; list it once."),
        ([], "static([]) has no keys; list at least one, e.g. static(['eu'])."),
        ("eu", "static('eu'): give a list of keys, e.g. static(['eu'])."),
    ],
)
def test_bad_static_keys_are_named(keys: list[str], message: str) -> None:
    with pytest.raises(DefinitionError) as e:
        static(keys)
    assert str(e.value) == message


def test_checking_a_static_key() -> None:
    regions = static(["eu", "us"])
    assert regions.check("eu") == "eu"
    with pytest.raises(PartitionError) as e:
        regions.check("apac")
    assert str(e.value) == (
        "'apac' is not a partition key of static(['eu', 'us']): expected one of eu, us."
    )
    with pytest.raises(PartitionError) as e:
        regions.check("../x")
    assert str(e.value) == (
        "'../x' is not a partition key of static(['eu', 'us']): a key starts with a letter or "
        "'_' and holds only letters, digits and '_'."
    )


def test_dynamic_keys_come_from_outside() -> None:
    customers = dynamic("customers")
    assert customers.keys(NOW) == []
    assert customers.keys(NOW, {"customers": ["acme", "globex"], "other": ["x"]}) == [
        "acme",
        "globex",
    ]
    assert customers.token() == "dynamic('customers')"
    with pytest.raises(PartitionError) as e:
        customers.keys(NOW, {"customers": ["a b"]})
    assert str(e.value) == (
        "'a b' is not a partition key of dynamic('customers'): a key starts with a letter or "
        "'_' and holds only letters, digits and '_'."
    )
    with pytest.raises(DefinitionError):
        dynamic("my-set")
