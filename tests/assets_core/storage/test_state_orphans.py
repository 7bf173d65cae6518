"""What ``lumbung wipe --orphans`` asks of the state store, against ``MemoryStateStore`` and
``SQLiteStateStore``: every recorded key, every location each step's successes name, and
forgetting the records of outputs at given locations (a step whose last success is one of them
is forgotten whole)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.sqlite import SQLiteStateStore, open_state_store
from assets_core.storage.state import MemoryStateStore, StateStore
from tests.assets_core.storage.test_state import rec

A = AssetKey.parse("raw/a")
B = AssetKey.parse("b")
C = AssetKey.parse("marts/c")
SA, SB, SC = StepKey(A), StepKey(B), StepKey(C)
DAY1 = StepKey(C, "2024-01-01")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    made: StateStore
    made = MemoryStateStore() if request.param == "memory" else open_state_store(tmp_path / "s")
    yield made
    made.close()


def _where(store: StateStore, name: str) -> str:
    """An absolute location under the store's storage folder (kept relative by SQLite)."""
    folder = store.path.parent if isinstance(store, SQLiteStateStore) else Path("/storage")
    return str(folder / name)


def test_recorded_keys_are_every_key_with_a_record(store: StateStore) -> None:
    assert store.recorded_keys() == set()
    store.record([rec(A), rec(B, outcome="failed", error="x"), rec(DAY1)])
    assert store.recorded_keys() == {A, B, C}
    store.forget([B])
    assert store.recorded_keys() == {A, C}


def test_output_locations_are_distinct_and_newest_first(store: StateStore) -> None:
    pq, db = _where(store, "parquet/b.parquet"), _where(store, "warehouse.duckdb::main.b")
    store.record([rec(B, "r1", t=1.0, location=pq)])
    store.record([rec(B, "r2", t=2.0, location=db)])
    store.record([rec(B, "r3", t=3.0, location=pq)])
    store.record([rec(B, "r4", "failed", t=4.0, error="x"), rec(A, "r4", "up_to_date", t=4.0)])
    store.record([rec(DAY1, location=_where(store, "parquet/marts/c/2024-01-01/part.parquet"))])
    found = store.output_locations()
    assert found == {
        SB: (pq, db),
        DAY1: (_where(store, "parquet/marts/c/2024-01-01/part.parquet"),),
    }
    assert store.output_locations([B]) == {SB: (pq, db)}
    assert store.output_locations([A]) == {}
    assert store.output_locations([]) == {}


def test_forget_outputs_keeps_a_step_whose_last_success_is_elsewhere(store: StateStore) -> None:
    pq, db = _where(store, "parquet/b.parquet"), _where(store, "warehouse.duckdb::main.b")
    store.record([rec(B, "r1", t=1.0, location=pq), rec(A, "r1", t=1.0, location=pq)])
    store.record([rec(B, "r2", t=2.0, location=db)])
    store.forget_outputs([(SB, pq)])
    assert [r.run_id for r in store.history(B)] == ["r2"]
    last = store.latest([B])[SB].last
    assert last is not None and (last.run_id, last.location) == ("r2", db)
    assert store.output_locations() == {SB: (db,), SA: (pq,)}  # A's record has another step


def test_forget_outputs_forgets_a_step_whose_last_success_is_there(store: StateStore) -> None:
    pq, db = _where(store, "parquet/b.parquet"), _where(store, "warehouse.duckdb::main.b")
    store.record([rec(B, "r1", t=1.0, location=db)])
    store.record([rec(B, "r2", t=2.0, location=pq), rec(A, "r2", t=2.0, location=db)])
    store.forget_outputs([(SB, pq)])
    assert store.history(B) == []
    assert SB not in store.latest()
    assert store.recorded_keys() == {A}
    store.forget_outputs([])


def test_forget_outputs_is_per_partition(store: StateStore) -> None:
    day1 = _where(store, "parquet/marts/c/2024-01-01/part.parquet")
    day2 = StepKey(C, "2024-01-02")
    store.record([rec(DAY1, location=day1), rec(day2, location=day1.replace("01-01", "01-02"))])
    store.forget_outputs([(DAY1, day1)])
    assert set(store.latest([C])) == {day2}


def test_locations_outside_the_storage_folder_are_matched_as_written(tmp_path: Path) -> None:
    with open_state_store(tmp_path / "s") as store:
        store.record([rec(B, location="s3://bucket/b.parquet")])
        assert store.output_locations() == {SB: ("s3://bucket/b.parquet",)}
        store.forget_outputs([(SB, "s3://bucket/b.parquet")])
        assert store.recorded_keys() == set()
