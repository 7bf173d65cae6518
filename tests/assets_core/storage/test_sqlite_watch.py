"""``StateWatch``: its number moves with every commit to the state file, by this process's
store or another's, and stays while nothing is written."""

from __future__ import annotations

from pathlib import Path

from assets_core.storage.sqlite import SQLiteStateStore
from assets_core.storage.sqlite_watch import StateWatch
from assets_core.storage.ticks import TickRecord


def _tick(name: str) -> TickRecord:
    return TickRecord(
        name=name, tick="t", kind="schedule", scheduled_at=0.0, recorded_at=0.0, outcome="launched"
    )


def test_the_number_moves_with_each_commit_by_any_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store, other = SQLiteStateStore(path), SQLiteStateStore(path)
    store.insert_tick(_tick("a"))  # the file and its schema exist
    watch = StateWatch()
    try:
        first = watch.version(store)
        assert first is not None and watch.version(store) == first  # nothing written since
        store.insert_tick(_tick("b"))
        second = watch.version(store)
        assert second is not None and second != first
        other.insert_tick(_tick("c"))
        assert watch.version(store) not in (None, second)
        assert not store.insert_tick(_tick("c"))  # refused: nothing written, nothing moves
        assert watch.version(other) == watch.version(store)
    finally:
        watch.close()
        store.close()
        other.close()


def test_a_store_it_cannot_read_gives_none(tmp_path: Path) -> None:
    watch = StateWatch()
    assert watch.version(object()) is None
    path = tmp_path / "state.db"
    store = SQLiteStateStore(path)
    store.insert_tick(_tick("a"))
    store.close()
    path.unlink()  # gone (a wiped storage folder): the watch opens it read-only, never makes it
    assert watch.version(store) is None
    assert not path.exists()
