"""Check results in the state store (both stores alike): appended, the newest of each check
of each step read back whole, forgotten with their asset or step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.sqlite import open_state_store
from assets_core.storage.state import CheckRecord, MemoryStateStore, StateStore

ORDERS = StepKey(AssetKey(["orders"]))
DAY = StepKey(AssetKey(["marts", "events"]), "2024-01-02")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    made: StateStore
    made = MemoryStateStore() if request.param == "memory" else open_state_store(tmp_path / "s")
    yield made
    made.close()


def record(step: StepKey, name: str, passed: bool, at: float, **kw: object) -> CheckRecord:
    return CheckRecord(step, name, "error", passed, "cv", {str(step): "v1"}, at=at, **kw)  # type: ignore[arg-type]


def test_the_newest_result_of_each_check_comes_back_whole(store: StateStore) -> None:
    failed = record(
        ORDERS,
        "unique(id)",
        False,
        2.0,
        run_id="r2",
        failing_rows=2,
        sample=({"id": 1, "n": 2},),
        metadata={"rows": 3},
        error="2 rows share a value of (id) with another (1 values repeat)",
    )
    store.record_checks(
        [record(ORDERS, "unique(id)", True, 1.0), record(DAY, "unique(id)", True, 1.0)]
    )
    store.record_checks([failed])
    found = store.latest_checks()
    assert found == {
        (ORDERS, "unique(id)"): failed,
        (DAY, "unique(id)"): found[(DAY, "unique(id)")],
    }
    assert store.latest_checks([DAY.asset]) == {(DAY, "unique(id)"): found[(DAY, "unique(id)")]}


def test_results_are_forgotten_with_their_asset_or_step(store: StateStore) -> None:
    store.record_checks([record(ORDERS, "a", True, 1.0), record(DAY, "b", True, 1.0)])
    store.forget_steps([DAY])
    assert list(store.latest_checks()) == [(ORDERS, "a")]
    store.forget([ORDERS.asset])
    assert store.latest_checks() == {}
