"""Validation of mappings: every message names both assets and the fix."""

from __future__ import annotations

import pytest

from assets_core.errors import DefinitionError, Problem
from assets_core.partitions import (
    daily,
    dynamic,
    explicit,
    hourly,
    mapping_for,
    mapping_problems,
    monthly,
    multi,
    static,
    window,
)

DAYS = daily("2024-01-01")


@pytest.mark.parametrize(
    ("down", "up", "spec", "message"),
    [
        (
            static(["eu"]),
            DAYS,
            None,
            "cannot map the partitions of 'events' (daily(start='2024-01-01')) to its own "
            "(static(['eu'])): daily partitions cannot be matched to static partitions; give both "
            "assets the same kind of partitions, or map the keys with "
            "ins={'events': explicit({...})}.",
        ),
        (
            static(["eu", "us"]),
            static(["eu"]),
            None,
            "cannot map the partitions of 'events' (static(['eu'])) to its own "
            "(static(['eu', 'us'])): 'us' is not among the upstream's keys; add it to the "
            "upstream's static([...]), or map the keys with ins={'events': explicit({...})}.",
        ),
        (
            dynamic("a"),
            dynamic("b"),
            None,
            "cannot map the partitions of 'events' (dynamic('b')) to its own (dynamic('a')): the "
            "dynamic sets 'b' and 'a' differ; use one dynamic set for both, or map the keys with "
            "ins={'events': explicit({...})}.",
        ),
        (
            DAYS,
            monthly("2024-01-01"),
            window(-6, 0),
            "cannot map the partitions of 'events' (monthly(start='2024-01-01')) to its own "
            "(daily(start='2024-01-01')): window(-6, 0) counts windows of one unit and time "
            "zone, and these are monthly in UTC and daily in UTC; give both the same unit and "
            "time zone, or drop the window to read the overlapping windows.",
        ),
        (
            multi(a=DAYS, b=hourly("2024-01-01")),
            monthly("2024-01-01"),
            None,
            "cannot map the partitions of 'events' (monthly(start='2024-01-01')) to its own "
            "(multi(a=daily(start='2024-01-01'), b=hourly(start='2024-01-01T00:00'))): several "
            "dimensions (a, b) could match monthly(start='2024-01-01'); give the multi "
            "definition exactly one matching dimension, or map the keys with "
            "ins={'events': explicit({...})}.",
        ),
        (
            multi(date=DAYS, region=static(["eu", "us"])),
            multi(date=DAYS, region=static(["eu"])),
            None,
            "cannot map the partitions of 'events' (multi(date=daily(start='2024-01-01'), "
            "region=static(['eu']))) to its own (multi(date=daily(start='2024-01-01'), "
            "region=static(['eu', 'us']))): dimension region: 'us' is not among the upstream's "
            "keys; add it to the upstream's static([...]), or map the keys with "
            "ins={'events': explicit({...})}.",
        ),
    ],
)
def test_incompatible_pairs(down: object, up: object, spec: object, message: str) -> None:
    problems = mapping_problems("sales", "events", down, up, spec)  # type: ignore[arg-type]
    assert problems == [Problem(message, "sales")]
    assert str(problems[0]) == f"sales: {message}"
    with pytest.raises(DefinitionError):
        mapping_for(up, down, spec)  # type: ignore[arg-type]


def test_a_window_on_an_unpartitioned_asset() -> None:
    assert mapping_problems("rolling_7d", "raw/events", DAYS, None, window(-6, 0)) == [
        Problem(
            "reads 'raw/events' with window(-6, 0), but 'raw/events' is not partitioned; a window "
            "needs partitions on both sides: partition 'raw/events', or drop window(-6, 0) from "
            "ins={'events': ...}.",
            "rolling_7d",
        )
    ]
    assert mapping_problems("report", "events", None, DAYS, window(-6, 0), param="ev") == [
        Problem(
            "reads 'events' with window(-6, 0), but 'report' itself is not partitioned; a window "
            "needs partitions on both sides: partition 'report' itself, or drop window(-6, 0) "
            "from ins={'ev': ...}.",
            "report",
        )
    ]


def test_compatible_pairs_have_no_problems() -> None:
    for down, up, spec in [
        (DAYS, DAYS, None),
        (monthly("2024-01-01"), DAYS, None),
        (DAYS, hourly("2023-01-01", timezone="Europe/Berlin"), None),
        (DAYS, DAYS, window(-6, 0)),
        (None, DAYS, None),
        (DAYS, None, None),
        (multi(date=DAYS, region=static(["eu"])), DAYS, None),
        (static(["eu"]), static(["de"]), explicit({"eu": ["de"]})),
    ]:
        assert mapping_problems("a", "b", down, up, spec) == []  # type: ignore[arg-type]


def test_bad_mapping_values() -> None:
    with pytest.raises(DefinitionError) as e:
        window(0, -6)
    assert str(e.value) == "window(0, -6) runs backwards; write window(-6, 0)."
    with pytest.raises(DefinitionError) as e:
        explicit({"eu": "de"})
    assert str(e.value) == "explicit({'eu': 'de'}): give a list of upstream keys, e.g. ['de']."
