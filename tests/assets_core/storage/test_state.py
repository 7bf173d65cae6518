"""The state store contract, run against ``MemoryStateStore`` and ``SQLiteStateStore``.

Everything is keyed by step (asset key + partition key): partitions of one asset are steps of
their own. Then what only the SQLite store promises: WAL, persistence, locations relative to the
storage folder, clear errors for corrupt files (never reset), and safety across threads and
processes. Schema upgrades are in ``test_migrations.py``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from assets_core.errors import StateError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.planstate import PlanState
from assets_core.storage.sqlite import SCHEMA_VERSION, SQLiteStateStore, open_state_store
from assets_core.storage.state import (
    EncodedInputs,
    FileObservation,
    LockConflict,
    LogLine,
    MaterializationRecord,
    MemoryStateStore,
    Outcome,
    RunRecord,
    StateStore,
    StepState,
    encode_inputs,
)

A = AssetKey.parse("raw/a")
B = AssetKey.parse("b")
C = AssetKey.parse("marts/c")
SA, SB, SC = StepKey(A), StepKey(B), StepKey(C)
DAY1, DAY2 = StepKey(C, "2024-01-01"), StepKey(C, "2024-01-02")


def rec(
    step: StepKey | AssetKey,
    run_id: str = "r1",
    outcome: Outcome = "materialized",
    t: float = 1.0,
    **kw: Any,
) -> MaterializationRecord:
    if isinstance(step, AssetKey):
        step = StepKey(step)
    if outcome == "materialized":
        kw.setdefault("code_version", f"code-{step}")
        kw.setdefault("data_version", f"data-{step}-{run_id}")
    return MaterializationRecord(step, run_id, outcome, started_at=t, ended_at=t + 0.5, **kw)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    made: StateStore
    made = MemoryStateStore() if request.param == "memory" else open_state_store(tmp_path / "s")
    yield made
    made.close()


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- the shared contract ---------------------------------------------------------------------


def test_record_round_trips_every_field(store: StateStore) -> None:
    full = rec(
        DAY1,
        inputs={SA: "va", SB: None, StepKey(A, "2024-01-01"): "vd"},
        code_components={"pkg.mod.c": "h1", "pkg.util.helper": "h2"},
        rows=12,
        bytes=3400,
        location="/data/marts/c.parquet",
        schema=(("id", "int64"), ("name", "string")),
        fingerprint="3400:1733400000123456789",
    )
    store.record([full])
    state = store.latest([C])[DAY1]
    assert state == StepState(full, "materialized", 1.5)
    planned = store.latest([C], detail=False)[DAY1].last  # what planning compares
    assert planned is not None and planned.fingerprint == "3400:1733400000123456789"
    last = state.last
    assert last is not None
    assert last.key == C and last.partition == "2024-01-01"
    assert dict(last.inputs) == {SA: "va", SB: None, StepKey(A, "2024-01-01"): "vd"}
    assert list(last.inputs) == [SA, SB, StepKey(A, "2024-01-01")]
    assert last.inputs[SA] == "va"
    assert dict(last.code_components) == {"pkg.mod.c": "h1", "pkg.util.helper": "h2"}
    assert last.schema == (("id", "int64"), ("name", "string"))
    assert store.history(C) == [full]


def _fingerprint(store: StateStore, step: StepKey, detail: bool = True) -> str | None:
    last = store.latest([step[0]], detail=detail)[step].last
    assert last is not None
    return last.fingerprint


def test_a_remembered_fingerprint_is_the_last_successs_until_the_next(
    store: StateStore,
) -> None:
    store.record([rec(A, fingerprint="10:1"), rec(B, fingerprint="20:1")])
    # Found again under new fingerprints: A with its recorded data, B's as another version by
    # now (a success recorded meanwhile), which is left alone.
    store.remember_fingerprints({SA: ("10:2", f"data-{SA}-r1"), SB: ("20:2", "another")})
    for detail in (True, False):
        assert [_fingerprint(store, s, detail) for s in (SA, SB)] == ["10:2", "20:1"]
    assert store.history(A)[0].fingerprint == "10:1"  # the record itself is as it was written
    store.record([rec(A, "up_to_date", "r2")])  # not a success: still the remembered one
    assert _fingerprint(store, SA) == "10:2"
    store.record([rec(A, run_id="r3", fingerprint="11:3")])  # a new success: its own
    assert _fingerprint(store, SA, detail=False) == "11:3"


def test_latest_returns_known_keys_only_and_all_when_none(store: StateStore) -> None:
    assert store.latest() == {}
    assert store.latest([A]) == {}
    store.record([rec(A), rec(B)])
    assert set(store.latest([A, C])) == {SA}
    assert set(store.latest()) == {SA, SB}
    assert store.latest([]) == {}
    assert all(type(k) is StepKey and k.partition is None for k in store.latest())


@pytest.mark.parametrize("detail", [True, False])
def test_latest_of_many_keys_returns_only_those_keys(
    store: StateStore, detail: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a number of keys the SQLite store scans every row; it still filters them, also
    the partitions and the failures of assets not asked for."""
    import assets_core.storage.sqlite as sqlite_state

    monkeypatch.setattr(sqlite_state, "_SCAN_ALL_ABOVE", 2)
    keys = [AssetKey.parse(f"k{i}") for i in range(6)]
    store.record(
        [rec(k) for k in keys]
        + [rec(A, outcome="failed"), rec(StepKey(keys[5], "p"), outcome="failed")]
        + [rec(StepKey(keys[0], "p")), rec(StepKey(keys[1], "p"), outcome="failed")]
    )
    found = store.latest(keys[:4], detail=detail)
    assert set(found) == {StepKey(k) for k in keys[:4]} | {
        StepKey(keys[0], "p"),
        StepKey(keys[1], "p"),
    }
    last = found[StepKey(keys[0])].last
    assert last is not None and last.data_version == "data-k0-r1"
    failure = found[StepKey(keys[1], "p")].failure
    assert failure is not None and failure.step == StepKey(keys[1], "p")


def test_a_failure_keeps_the_last_success(store: StateStore) -> None:
    good = rec(A, "r1", t=1.0)
    store.record([good])
    failed = rec(
        A, "r2", "failed", t=5.0, code_version="code-2", inputs={SB: "vb"}, error="ValueError: boom"
    )
    store.record([failed])
    state = store.latest([A])[SA]
    assert state == StepState(good, "failed", 5.5, failed)


def test_the_failure_planning_reads_has_what_decides_a_retry(store: StateStore) -> None:
    """``detail=False`` may leave out run id and error, never the code version and inputs a
    step failed with, nor when."""
    store.record([rec(A, "r1", t=1.0)])
    store.record([rec(A, "r2", "failed", t=5.0, code_version="code-2", inputs={SB: "vb"})])
    failure = store.latest([A], detail=False)[SA].failure
    assert failure is not None
    assert (failure.step, failure.outcome, failure.code_version) == (SA, "failed", "code-2")
    assert dict(failure.inputs) == {SB: "vb"}
    assert failure.ended_at == 5.5
    assert store.latest(detail=False)[SA].failure == failure  # reading every step
    last = store.latest([A], detail=False)[SA].last
    assert last is not None and last.data_version == "data-raw/a-r1"


def test_a_success_after_a_failure_clears_it(store: StateStore) -> None:
    store.record([rec(A, "r1", "failed", t=1.0, error="boom")])
    good = rec(A, "r2", t=2.0)
    store.record([good])
    assert store.latest([A])[SA] == StepState(good, "materialized", 2.5)
    assert store.latest([A], detail=False)[SA].failure is None


def test_up_to_date_and_skipped_do_not_move_the_success(store: StateStore) -> None:
    good = rec(A, "r1", t=1.0)
    store.record([good])
    store.record([rec(A, "r2", "up_to_date", t=2.0)])
    assert store.latest([A])[SA] == StepState(good, "up_to_date", 2.5)
    store.record([rec(A, "r3", "skipped", t=3.0)])
    assert store.latest([A])[SA] == StepState(good, "skipped", 3.5)


def test_a_key_that_only_failed_has_no_last_success(store: StateStore) -> None:
    failed = rec(B, "r1", "failed", t=2.0, error="boom")
    store.record([failed])
    assert store.latest([B]) == {SB: StepState(None, "failed", 2.5, failed)}


def test_a_new_success_replaces_the_old(store: StateStore) -> None:
    store.record([rec(A, "r1", t=1.0)])
    newer = rec(A, "r2", t=2.0)
    store.record([newer])
    assert store.latest([A])[SA].last == newer


def test_one_batch_with_several_outcomes_for_a_step(store: StateStore) -> None:
    first, second = rec(A, "r1", t=1.0), rec(A, "r1", t=2.0)
    failed = rec(A, "r1", "failed", t=3.0, error="x")
    store.record([first, second, failed])
    assert store.latest([A])[SA] == StepState(second, "failed", 3.5, failed)


def test_last_attempt_falls_back_to_start_time(store: StateStore) -> None:
    store.record([MaterializationRecord(SA, "r1", "skipped", started_at=7.0)])
    assert store.latest([A])[SA].last_attempt_at == 7.0


def test_record_nothing_is_a_no_op(store: StateStore) -> None:
    store.record([])
    assert store.history() == []


def test_history_is_newest_first_and_limited(store: StateStore) -> None:
    records = [rec(A, "r1", t=1.0), rec(B, "r1", t=2.0), rec(A, "r2", "failed", t=3.0)]
    store.record(records[:2])
    store.record(records[2:])
    assert store.history() == records[::-1]
    assert store.history(limit=2) == [records[2], records[1]]
    assert store.history(A) == [records[2], records[0]]
    assert store.history(A, limit=1) == [records[2]]
    assert store.history(A, limit=0) == []
    assert store.history(C) == []


def test_history_by_run_takes_whole_runs(store: StateStore) -> None:
    r1 = [rec(A, "r1", t=1.0), rec(B, "r1", t=2.0)]
    r2 = [rec(A, "r2", t=3.0), rec(B, "r2", t=4.0), rec(C, "r2", t=5.0)]
    r3 = [rec(B, "r3", t=6.0)]
    store.record(r1)
    store.record(r2)
    store.record(r3)
    assert store.history(limit=2, by_run=True) == [*r3, *r2[::-1]]
    assert store.history(limit=1, by_run=True) == r3
    assert store.history(A, limit=1, by_run=True) == [r2[0]]  # runs that hold A
    assert store.history(A, limit=5, by_run=True) == [r2[0], r1[0]]
    assert store.history(limit=0, by_run=True) == []
    assert store.history(limit=10**20, by_run=True) == [*r3, *r2[::-1], *r1[::-1]]
    assert len(store.runs(limit=10**20)) == 0  # no run was started, and no overflow


def test_runs_newest_first_and_finish(store: StateStore) -> None:
    store.start_run(RunRecord("r1", 10.0, selection="*", pid=11))
    store.start_run(RunRecord("r2", 20.0))
    store.start_run(RunRecord("r3", 20.0))
    store.finish_run("r1", "success", 15.0)
    store.finish_run("unknown", "failed", 1.0)
    assert store.runs() == [
        RunRecord("r3", 20.0),
        RunRecord("r2", 20.0),
        RunRecord("r1", 10.0, "success", 15.0, "*", 11),
    ]
    assert [r.run_id for r in store.runs(limit=1)] == ["r3"]


def test_locks_are_taken_released_and_reentrant(store: StateStore) -> None:
    me = os.getpid()
    assert store.acquire_locks("r1", [SA, SB], me) == []
    assert store.acquire_locks("r1", [SA, SC], me) == []  # already held by r1: fine
    assert store.acquire_locks("r2", [SA, SC, SB], me) == [  # sorted by step
        LockConflict(SB, "r1", me),
        LockConflict(SC, "r1", me),
        LockConflict(SA, "r1", me),
    ]
    store.release_locks("r2")  # holds nothing: no effect
    store.release_locks("r1", [SA])
    assert store.acquire_locks("r2", [SA], me) == []
    store.release_locks("r1")
    assert store.acquire_locks("r3", [SB, SC], me) == []
    assert store.acquire_locks("r3", [], me) == []


def test_a_conflict_takes_nothing(store: StateStore) -> None:
    me = os.getpid()
    assert store.acquire_locks("r1", [SA], me) == []
    assert store.acquire_locks("r2", [SB, SA, SC], me) == [LockConflict(SA, "r1", me)]
    # r2 took neither B nor C: a third run gets both.
    assert store.acquire_locks("r3", [SB, SC], me) == []


def test_a_lock_of_a_dead_process_is_taken_over(store: StateStore) -> None:
    gone = dead_pid()
    assert store.acquire_locks("crashed", [SA, SB], gone) == []
    assert store.acquire_locks("r2", [SA], os.getpid()) == []
    # The takeover is complete: the crashed run releasing "all" no longer frees A.
    store.release_locks("crashed")
    assert store.acquire_locks("r3", [SA], os.getpid()) == [LockConflict(SA, "r2", os.getpid())]
    assert store.acquire_locks("r3", [SB], os.getpid()) == []


def test_a_crashed_run_is_marked_interrupted_when_its_locks_are_taken(
    store: StateStore,
) -> None:
    gone = dead_pid()
    store.start_run(RunRecord("crashed", 1.0, pid=gone))
    assert store.acquire_locks("crashed", [DAY1], gone) == []
    assert store.acquire_locks("r2", [DAY1], os.getpid()) == []
    (run,) = store.runs()
    assert run.status == "interrupted" and run.ended_at is not None


def test_forget_deletes_records_and_state(store: StateStore) -> None:
    store.record([rec(A), rec(B), rec(A, "r2", "failed", error="x")])
    store.forget([A, C])
    assert set(store.latest()) == {SB}
    assert store.history(A) == []
    assert [r.key for r in store.history()] == [B]
    store.forget([])
    failed = rec(A, "r3", "failed", t=9.0, error="y")
    store.record([failed])
    assert store.latest([A])[SA] == StepState(None, "failed", 9.5, failed)


def test_file_observations_upsert(store: StateStore) -> None:
    one = FileObservation("/src/a.csv", 10, 1_700_000_000_123_456_789, 5, "d1")
    two = FileObservation("/src/b.csv", 20, 2, 6, "d2")
    assert store.file_observations([one.path]) == {}
    store.save_file_observations([one, two])
    assert store.file_observations([one.path, "/nope"]) == {one.path: one}
    changed = FileObservation("/src/a.csv", 11, 3, 7, "d3")
    store.save_file_observations([changed])
    store.save_file_observations([])
    assert store.file_observations([one.path, two.path]) == {one.path: changed, two.path: two}
    assert store.file_observations([]) == {}


def test_one_store_is_safe_across_threads(store: StateStore) -> None:
    def work(n: int) -> None:
        key = AssetKey((f"t{n}",))
        for i in range(40):
            store.record([rec(key, f"run{n}", t=float(i))])
            store.latest([key])
            store.acquire_locks(f"run{n}", [StepKey(key)], os.getpid())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.history(limit=1000)) == 160
    assert len(store.latest()) == 4


def test_recorded_mappings_are_not_shared_with_the_caller(store: StateStore) -> None:
    inputs: dict[StepKey, str | None] = {SA: "v1"}
    store.record([rec(B, inputs=inputs)])
    inputs[SA] = "v2"
    last = store.latest([B])[SB].last
    assert last is not None
    assert dict(last.inputs) == {SA: "v1"}


# -- partitions: steps of their own ----------------------------------------------------------


def test_two_partitions_of_one_asset_are_independent_steps(store: StateStore) -> None:
    one, two = rec(DAY1, "r1", t=1.0), rec(DAY2, "r1", t=2.0)
    store.record([one, two])
    failed = rec(DAY2, "r2", "failed", t=3.0, error="boom")
    store.record([failed])
    assert store.latest([C]) == {
        DAY1: StepState(one, "materialized", 1.5),
        DAY2: StepState(two, "failed", 3.5, failed),
    }
    newer = rec(DAY1, "r3", t=4.0)
    store.record([newer])
    state = store.latest([C])
    assert state[DAY1].last == newer
    assert state[DAY2].last == two


@pytest.mark.parametrize("detail", [True, False])
def test_latest_of_an_asset_returns_every_partition(store: StateStore, detail: bool) -> None:
    days = [StepKey(C, f"2024-01-{d:02d}") for d in range(1, 6)]
    store.record([rec(d) for d in days] + [rec(A)])
    found = store.latest([C], detail=detail)
    assert set(found) == set(days)
    assert {s: st.last.data_version for s, st in found.items() if st.last} == {
        d: f"data-{d}-r1" for d in days
    }
    assert set(store.latest(detail=detail)) == {*days, SA}


def test_history_of_one_partition(store: StateStore) -> None:
    records = [rec(DAY1, "r1", t=1.0), rec(DAY2, "r1", t=2.0), rec(DAY1, "r2", t=3.0)]
    store.record(records)
    assert store.history(C) == records[::-1]
    assert store.history(C, partition="2024-01-01") == [records[2], records[0]]
    assert store.history(C, partition="2024-01-01", limit=1) == [records[2]]
    assert store.history(C, partition="2099-01-01") == []


def test_forget_drops_every_partition(store: StateStore) -> None:
    store.record([rec(DAY1), rec(DAY2), rec(A), rec(DAY2, "r2", "failed")])
    store.forget([C])
    assert set(store.latest()) == {SA}
    assert store.history(C) == []


def test_locks_are_per_partition(store: StateStore) -> None:
    me = os.getpid()
    assert store.acquire_locks("r1", [DAY1], me) == []
    assert store.acquire_locks("r2", [DAY2], me) == []  # another partition: free
    assert store.acquire_locks("r3", [DAY2, DAY1, SC], me) == [
        LockConflict(DAY1, "r1", me),
        LockConflict(DAY2, "r2", me),
    ]
    assert store.acquire_locks("r3", [SC], me) == []  # the unpartitioned step is its own
    assert store.acquire_locks("r4", [SC, DAY1], me) == [  # unpartitioned first
        LockConflict(SC, "r3", me),
        LockConflict(DAY1, "r1", me),
    ]
    store.release_locks("r1", [DAY2])  # not r1's: no effect
    assert store.acquire_locks("r4", [DAY2], me) == [LockConflict(DAY2, "r2", me)]
    store.release_locks("r1", [DAY1])
    assert store.acquire_locks("r4", [DAY1], me) == []
    assert LockConflict(DAY1, "r1", me).key == C


# -- step logs ---------------------------------------------------------------------------------


def line(step: StepKey, seq: int, message: str, run_id: str = "r1", **kw: Any) -> LogLine:
    return LogLine(
        step,
        run_id,
        seq,
        kw.get("at", 100.0 + seq),
        kw.get("stream", "log"),
        kw.get("level", "INFO"),
        message,
    )


def test_logs_are_ordered_by_step_then_seq(store: StateStore) -> None:
    lines = [
        line(DAY2, 0, "second day"),
        line(SA, 1, "a again", stream="stdout", level=None),
        line(DAY1, 0, "first day", stream="stderr", level=None),
        line(SC, 0, "whole c", level="WARNING"),
        line(SA, 0, "a"),
        line(SA, 0, "another run", run_id="r2"),
    ]
    store.append_logs(lines[:3])
    store.append_logs(lines[3:])
    store.append_logs([])
    assert store.logs("r1") == [lines[3], lines[2], lines[0], lines[4], lines[1]]
    assert store.logs("r1", C) == [lines[3], lines[2], lines[0]]
    assert store.logs("r1", A) == [lines[4], lines[1]]
    assert store.logs("r2") == [lines[5]]
    assert store.logs("r1", B) == []
    assert store.logs("nope") == []


def test_a_log_line_sent_again_is_stored_once(store: StateStore) -> None:
    first = line(SA, 0, "hello")
    store.append_logs([first, line(SA, 1, "world")])
    store.append_logs([first])
    assert [x.message for x in store.logs("r1")] == ["hello", "world"]


def test_log_text_round_trips(store: StateStore) -> None:
    odd = line(DAY1, 7, 'ünïcödé\nsecond line\ttab "quote" \'', stream="stderr", level=None)
    store.append_logs([odd])
    assert store.logs("r1") == [odd]


def test_dynamic_partitions_keys_in_the_order_added(store: StateStore) -> None:
    assert store.dynamic_keys() == {}
    assert store.add_dynamic_keys("customers", ["globex", "acme", "globex"]) == ["globex", "acme"]
    assert store.add_dynamic_keys("customers", ["acme", "initech"]) == ["initech"]
    assert store.add_dynamic_keys("regions", ["eu"]) == ["eu"]
    assert store.dynamic_keys(["customers"]) == {"customers": ["globex", "acme", "initech"]}
    assert store.remove_dynamic_keys("customers", ["acme", "hooli"]) == ["acme"]
    assert store.dynamic_keys() == {"customers": ["globex", "initech"], "regions": ["eu"]}
    assert store.remove_dynamic_keys("regions", ["eu"]) == ["eu"]
    assert store.dynamic_keys(["regions", "nothing"]) == {}
    assert store.add_dynamic_keys("customers", ["acme"]) == ["acme"]  # added again: last
    assert store.dynamic_keys(["customers"]) == {"customers": ["globex", "initech", "acme"]}


# -- SQLite only -----------------------------------------------------------------------------


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    with open_state_store(tmp_path / "deep" / "storage") as store:
        assert store.path == tmp_path / "deep" / "storage" / "state.db"
        con = sqlite3.connect(store.path)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        con.close()


def test_data_persists_across_reopen(tmp_path: Path) -> None:
    full = rec(A, inputs={SB: "vb"}, code_components={"m.f": "h"}, schema=(("x", "int64"),))
    failed = rec(A, "r2", "failed", t=4.0, error="boom")
    with open_state_store(tmp_path) as store:
        store.start_run(RunRecord("r1", 1.0, pid=5))
        store.record([full, failed])
        store.acquire_locks("r2", [SA], os.getpid())
        store.save_file_observations([FileObservation("/f", 1, 2, 3, "d")])
        store.append_logs([line(SA, 0, "hi", run_id="r2")])
    with open_state_store(tmp_path) as store:
        assert store.latest() == {SA: StepState(full, "failed", 4.5, failed)}
        assert store.runs() == [RunRecord("r1", 1.0, pid=5)]
        assert len(store.history(A)) == 2
        assert store.acquire_locks("r3", [SA], os.getpid()) == [LockConflict(SA, "r2", os.getpid())]
        assert store.file_observations(["/f"]) == {"/f": FileObservation("/f", 1, 2, 3, "d")}
        assert store.logs("r2") == [line(SA, 0, "hi", run_id="r2")]


def test_locations_under_the_storage_folder_are_kept_relative(tmp_path: Path) -> None:
    storage = tmp_path / "project" / ".lumbung"
    parquet = storage / "parquet" / "raw" / "a.parquet"
    part = storage / "parquet" / "marts" / "c" / "2024-01-01" / "part.parquet"
    table = f"{storage / 'warehouse.duckdb'}::marts.c"
    elsewhere = str(tmp_path / "elsewhere" / "b.parquet")
    records = [
        rec(A, location=str(parquet)),
        rec(DAY1, location=str(part)),
        rec(SC, location=table),
        rec(B, location=elsewhere),
        rec(StepKey(B, "p"), location="memory://b/p"),
        rec(StepKey(B, "q"), location="s3://bucket/b/q.parquet"),
    ]
    with open_state_store(storage) as store:
        store.record(records)
    stored = dict(
        sqlite3.connect(storage / "state.db").execute(
            "SELECT key || '[' || \"partition\" || ']', location FROM materializations"
        )
    )
    assert stored == {
        "raw/a[]": "./parquet/raw/a.parquet",
        "marts/c[2024-01-01]": "./parquet/marts/c/2024-01-01/part.parquet",
        "marts/c[]": "./warehouse.duckdb::marts.c",
        "b[]": elsewhere,
        "b[p]": "memory://b/p",
        "b[q]": "s3://bucket/b/q.parquet",
    }
    with open_state_store(storage) as store:  # read back absolute, as they were handed in
        for detail in (True, False):
            found = {s: st.last.location for s, st in _read(store, detail).items() if st.last}
            assert found == {r.step: r.location for r in records}
        assert [r.location for r in store.history()] == [r.location for r in records[::-1]]


def _read(store: SQLiteStateStore, detail: bool) -> Mapping[StepKey, StepState]:
    """Every step's state; as planning reads it (``detail=False``), with the rest of each
    step's state read while the store is open."""
    state = store.latest(detail=detail)
    if isinstance(state, PlanState):
        state.read_details(list(state))
    return state


def test_a_moved_storage_folder_finds_its_outputs_at_the_new_place(tmp_path: Path) -> None:
    old, new = tmp_path / "old" / ".lumbung", tmp_path / "new" / ".lumbung"
    with open_state_store(old) as store:
        store.record(
            [
                rec(A, location=str(old / "parquet" / "raw" / "a.parquet")),
                rec(C, location=f"{old / 'warehouse.duckdb'}::marts.c"),
                rec(B, location="memory://b"),
            ]
        )
    new.parent.mkdir()
    shutil.move(old, new)
    with open_state_store(new) as store:
        for detail in (True, False):
            found = {s: st.last.location for s, st in _read(store, detail).items() if st.last}
            assert found == {
                SA: str(new / "parquet" / "raw" / "a.parquet"),
                SC: f"{new / 'warehouse.duckdb'}::marts.c",
                SB: "memory://b",
            }


def test_a_storage_folder_named_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with open_state_store(link) as store:
        store.record(
            [
                rec(A, location=str(link / "parquet" / "a.parquet")),
                rec(B, location=str(real / "parquet" / "b.parquet")),
            ]
        )
        found = {s: st.last.location for s, st in store.latest().items() if st.last}
    assert found == {
        SA: str(link / "parquet" / "a.parquet"),
        SB: str(link / "parquet" / "b.parquet"),
    }


def test_a_garbage_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    garbage = b"this is not a database, just some bytes\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(StateError) as info:
        SQLiteStateStore(path)
    assert str(info.value) == (
        f"{path} is not a readable Lumbung state store (file is not a database); move it aside "
        "to start a new one — it is never reset automatically."
    )
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]


def test_a_database_of_another_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StateError) as info:
        open_state_store(tmp_path)
    assert str(info.value) == (
        f"{path} is not a readable Lumbung state store (a SQLite database with tables that are "
        "not ours); move it aside to start a new one — it is never reset automatically."
    )


def test_a_lock_on_another_host_is_never_taken_over(tmp_path: Path) -> None:
    with open_state_store(tmp_path) as store:
        gone = dead_pid()
        assert store.acquire_locks("r1", [SA], gone) == []
        con = sqlite3.connect(store.path)
        con.execute(
            "UPDATE locks SET host = ?, boot_id = 'another-machine'",
            (socket.gethostname() + "-elsewhere",),
        )
        con.commit()
        con.close()
        assert store.acquire_locks("r2", [SA], os.getpid()) == [LockConflict(SA, "r1", gone)]


def _record_many(storage: str, worker: int, count: int) -> None:
    """Runs in a spawned process: record ``count`` records, one transaction each."""
    with open_state_store(Path(storage)) as store:
        key = AssetKey((f"w{worker}",))
        for i in range(count):
            store.record([rec(key, f"run{worker}", t=float(i))])
            store.record([rec(AssetKey(("shared",)), f"run{worker}", "up_to_date", t=float(i))])


def test_two_processes_recording_at_once_lose_nothing(tmp_path: Path) -> None:
    open_state_store(tmp_path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(str(tmp_path), n, 100)) for n in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    with open_state_store(tmp_path) as store:
        history = store.history(limit=10_000)
        assert len(history) == 400
        assert {r.key: sum(1 for h in history if h.key == r.key) for r in history} == {
            AssetKey(("w1",)): 100,
            AssetKey(("w2",)): 100,
            AssetKey(("shared",)): 200,
        }
        latest = store.latest()
        assert {str(k) for k in latest} == {"w1", "w2", "shared"}
        assert latest[StepKey(AssetKey(("shared",)))].last is None


def _open_and_close(storage: str, count: int) -> None:
    """Runs in a spawned process: open and close the store ``count`` times."""
    for _ in range(count):
        open_state_store(Path(storage)).close()


def test_opening_the_store_while_others_write_loses_nothing(tmp_path: Path) -> None:
    # Opening must never close a descriptor of state.db of its own: that drops every POSIX
    # lock the process holds on the file, SQLite's included, and a closing connection
    # elsewhere then thinks it is the last one and checkpoints the WAL away under a writer.
    open_state_store(tmp_path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(str(tmp_path), n, 100)) for n in (1, 2)]
    procs.append(ctx.Process(target=_open_and_close, args=(str(tmp_path), 200)))
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    with open_state_store(tmp_path) as store:
        assert len(store.history(limit=10_000)) == 400


def _open_at_the_gate(path: str, gate: Any, results: Any) -> None:
    gate.wait()
    try:
        with open_state_store(Path(path)) as store:
            store.latest()
        results.put("ok")
    except Exception as exc:  # reported to the test, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_creating_a_new_store_at_once_all_open_it(tmp_path: Path) -> None:
    """While one process creates the file or switches it to WAL, SQLite fails another's
    statements at once ("database is locked"), busy timeout or not: opening retries them.
    Before the fix, about one round in three failed here; 15 rounds of 3 processes."""
    ctx = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    for round_ in range(15):
        folder = tmp_path / f"s{round_}"
        gate, results = ctx.Barrier(3), ctx.Queue()
        procs = [
            ctx.Process(target=_open_at_the_gate, args=(str(folder), gate, results))
            for _ in range(3)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
        assert [results.get(timeout=5) for _ in procs] == ["ok"] * 3, round_


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "state.db"
    with pytest.raises(StateError) as info:
        SQLiteStateStore(path)
    assert str(info.value) == (
        f"{path} cannot be opened (unable to open database file); check that its folder "
        "exists and that this user may read and write it."
    )


def test_a_failing_batch_records_nothing_and_the_store_stays_usable(tmp_path: Path) -> None:
    unbindable: Any = ["not", "an", "int"]
    with open_state_store(tmp_path) as store:
        with pytest.raises(sqlite3.Error):
            store.record([rec(A), rec(B, rows=unbindable)])
        assert store.history() == []
        assert store.latest() == {}
        store.record([rec(A)])
        assert set(store.latest()) == {SA}


def test_inputs_read_back_keep_their_stored_text(tmp_path: Path) -> None:
    """A record read from SQLite keeps the text its inputs were stored as, decoded only on
    use; equal text is what lets the planner skip decoding a fresh asset's inputs. The text
    of unpartitioned inputs is what schema 1 stored, so upgraded records compare equal."""
    store = open_state_store(tmp_path / "s")
    store.record([rec(C, inputs={SA: "va", SB: None})])
    last = store.latest([C], detail=False)[SC].last
    assert last is not None
    inputs = last.inputs
    assert isinstance(inputs, EncodedInputs)
    assert inputs.text == encode_inputs({SA: "va", SB: None}) == '{"raw/a":"va","b":null}'
    assert inputs.text != encode_inputs({SB: None, SA: "va"})  # order is part of the text
    assert dict(inputs) == {SA: "va", SB: None} and list(inputs) == [SA, SB]
    assert pickle.loads(pickle.dumps(inputs)) == {SA: "va", SB: None}
    again = MaterializationRecord(SC, "r2", "up_to_date", inputs=inputs)
    store.record([again])  # written back as the very same text
    (row,) = sqlite3.connect(tmp_path / "s" / "state.db").execute(
        "SELECT inputs FROM materializations WHERE run_id = 'r2'"
    )
    assert row == (inputs.text,)
    store.close()


def test_partitioned_inputs_are_stored_as_step_text(tmp_path: Path) -> None:
    with open_state_store(tmp_path) as store:
        store.record([rec(DAY1, inputs={StepKey(A, "2024-01-01"): "va", SB: "vb"})])
        last = store.latest([C])[DAY1].last
    assert last is not None
    assert isinstance(last.inputs, EncodedInputs)
    assert last.inputs.text == '{"raw/a[2024-01-01]":"va","b":"vb"}'
    assert dict(last.inputs) == {StepKey(A, "2024-01-01"): "va", SB: "vb"}


@pytest.mark.parametrize(
    "inputs",
    [
        {},
        {SA: "0123abcdef", SB: None},
        {SC: 'quote"and\\backslash', SA: "tab\there"},
        {SA: "ünïcödé", SB: ""},
        {StepKey(A, "2024-01-01"): "0123abcdef", StepKey(C, 'odd"key'): "ab"},
        {StepKey(A, "date=2024-01-01,region=eu"): None},
    ],
)
def test_encoded_inputs_are_exactly_the_json_encoding(inputs: dict[StepKey, Any]) -> None:
    """Written directly for digests, through the encoder otherwise: the same text either way."""
    plain = {str(k): v for k, v in inputs.items()}
    text = encode_inputs(inputs)
    assert text == json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(text) == plain


def test_a_batch_moves_each_steps_latest_to_its_newest_record_and_success(
    store: StateStore,
) -> None:
    store.record([rec(A, "r1", t=1.0), rec(B, "r1", t=1.0)])
    store.forget([B])  # its ids are gone: the next rows' ids still follow the largest given
    batch = [
        rec(A, "r2", t=2.0),
        rec(A, "r2", "failed", t=3.0, error="boom"),
        rec(B, "r2", "failed", t=2.0, error="boom"),
        rec(B, "r2", t=3.0),
        rec(C, "r2", "failed", t=2.0, error="boom"),
    ]
    store.record(batch)
    latest = store.latest()
    a, b, c = latest[SA], latest[SB], latest[SC]
    assert a.last is not None and a.last.data_version == f"data-{SA}-r2"
    assert (a.last_outcome, a.last_attempt_at) == ("failed", 3.5)
    assert a.failure is not None and a.failure.error == "boom"
    assert b.last is not None and b.last.data_version == f"data-{SB}-r2"
    assert (b.last_outcome, b.last_attempt_at, b.failure) == ("materialized", 3.5, None)
    assert c.last is None and c.last_outcome == "failed"
    assert c.failure is not None and c.failure.started_at == 2.0
