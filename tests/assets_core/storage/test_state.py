"""The state store contract, run against ``MemoryStateStore`` and ``SQLiteStateStore``.

Then what only the SQLite store promises: WAL, persistence, clear errors for corrupt or newer
files (never reset), and safety across threads and processes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assets_core.errors import StateError
from assets_core.model.keys import AssetKey
from assets_core.storage.sqlite import SCHEMA_VERSION, SQLiteStateStore, open_state_store
from assets_core.storage.state import (
    AssetState,
    EncodedInputs,
    FileObservation,
    LockConflict,
    MaterializationRecord,
    MemoryStateStore,
    Outcome,
    RunRecord,
    StateStore,
    encode_inputs,
)

A = AssetKey.parse("raw/a")
B = AssetKey.parse("b")
C = AssetKey.parse("marts/c")


def rec(
    key: AssetKey, run_id: str = "r1", outcome: Outcome = "materialized", t: float = 1.0, **kw: Any
) -> MaterializationRecord:
    if outcome == "materialized":
        kw.setdefault("code_version", f"code-{key.name}")
        kw.setdefault("data_version", f"data-{key.name}-{run_id}")
    return MaterializationRecord(key, run_id, outcome, started_at=t, ended_at=t + 0.5, **kw)


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
        C,
        inputs={A: "va", B: None},
        code_components={"pkg.mod.c": "h1", "pkg.util.helper": "h2"},
        rows=12,
        bytes=3400,
        location="/data/marts/c.parquet",
        schema=(("id", "int64"), ("name", "string")),
        partition="2024-01-01",
    )
    store.record([full])
    state = store.latest([C])[C]
    assert state == AssetState(full, "materialized", 1.5)
    last = state.last
    assert last is not None
    assert dict(last.inputs) == {A: "va", B: None}
    assert list(last.inputs) == [A, B]
    assert last.inputs[A] == "va"
    assert dict(last.code_components) == {"pkg.mod.c": "h1", "pkg.util.helper": "h2"}
    assert last.schema == (("id", "int64"), ("name", "string"))
    assert store.history(C) == [full]


def test_latest_returns_known_keys_only_and_all_when_none(store: StateStore) -> None:
    assert store.latest() == {}
    assert store.latest([A]) == {}
    store.record([rec(A), rec(B)])
    assert set(store.latest([A, C])) == {A}
    assert set(store.latest()) == {A, B}
    assert store.latest([]) == {}
    assert all(isinstance(k, AssetKey) for k in store.latest())


@pytest.mark.parametrize("detail", [True, False])
def test_latest_of_many_keys_returns_only_those_keys(
    store: StateStore, detail: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a number of keys the SQLite store scans every row; it still filters them."""
    import assets_core.storage.sqlite as sqlite_state

    monkeypatch.setattr(sqlite_state, "_SCAN_ALL_ABOVE", 2)
    keys = [AssetKey.parse(f"k{i}") for i in range(6)]
    store.record([rec(k) for k in keys] + [rec(A, outcome="failed")])
    found = store.latest(keys[:4], detail=detail)
    assert set(found) == set(keys[:4])
    last = found[keys[0]].last
    assert last is not None and last.data_version == "data-k0-r1"


def test_a_failure_keeps_the_last_success(store: StateStore) -> None:
    good = rec(A, "r1", t=1.0)
    store.record([good])
    store.record([rec(A, "r2", "failed", t=5.0, error="ValueError: boom")])
    state = store.latest([A])[A]
    assert state.last == good
    assert state.last_outcome == "failed"
    assert state.last_attempt_at == 5.5


def test_up_to_date_and_skipped_do_not_move_the_success(store: StateStore) -> None:
    good = rec(A, "r1", t=1.0)
    store.record([good])
    store.record([rec(A, "r2", "up_to_date", t=2.0)])
    assert store.latest([A])[A] == AssetState(good, "up_to_date", 2.5)
    store.record([rec(A, "r3", "skipped", t=3.0)])
    assert store.latest([A])[A] == AssetState(good, "skipped", 3.5)


def test_a_key_that_only_failed_has_no_last_success(store: StateStore) -> None:
    store.record([rec(B, "r1", "failed", t=2.0, error="boom")])
    assert store.latest([B]) == {B: AssetState(None, "failed", 2.5)}


def test_a_new_success_replaces_the_old(store: StateStore) -> None:
    store.record([rec(A, "r1", t=1.0)])
    newer = rec(A, "r2", t=2.0)
    store.record([newer])
    assert store.latest([A])[A].last == newer


def test_one_batch_with_several_outcomes_for_a_key(store: StateStore) -> None:
    first, second = rec(A, "r1", t=1.0), rec(A, "r1", t=2.0, partition="p2")
    store.record([first, second, rec(A, "r1", "failed", t=3.0, error="x")])
    assert store.latest([A])[A] == AssetState(second, "failed", 3.5)


def test_last_attempt_falls_back_to_start_time(store: StateStore) -> None:
    store.record([MaterializationRecord(A, "r1", "skipped", started_at=7.0)])
    assert store.latest([A])[A].last_attempt_at == 7.0


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
    assert store.history(C) == []


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
    assert store.acquire_locks("r1", [A, B], me) == []
    assert store.acquire_locks("r1", [A, C], me) == []  # already held by r1: fine
    assert store.acquire_locks("r2", [A, C, B], me) == [  # sorted by key
        LockConflict(B, "r1", me),
        LockConflict(C, "r1", me),
        LockConflict(A, "r1", me),
    ]
    store.release_locks("r2")  # holds nothing: no effect
    store.release_locks("r1", [A])
    assert store.acquire_locks("r2", [A], me) == []
    store.release_locks("r1")
    assert store.acquire_locks("r3", [B, C], me) == []
    assert store.acquire_locks("r3", [], me) == []


def test_a_conflict_takes_nothing(store: StateStore) -> None:
    me = os.getpid()
    assert store.acquire_locks("r1", [A], me) == []
    assert store.acquire_locks("r2", [B, A, C], me) == [LockConflict(A, "r1", me)]
    # r2 took neither B nor C: a third run gets both.
    assert store.acquire_locks("r3", [B, C], me) == []


def test_a_lock_of_a_dead_process_is_taken_over(store: StateStore) -> None:
    gone = dead_pid()
    assert store.acquire_locks("crashed", [A, B], gone) == []
    assert store.acquire_locks("r2", [A], os.getpid()) == []
    # The takeover is complete: the crashed run releasing "all" no longer frees A.
    store.release_locks("crashed")
    assert store.acquire_locks("r3", [A], os.getpid()) == [LockConflict(A, "r2", os.getpid())]
    assert store.acquire_locks("r3", [B], os.getpid()) == []


def test_forget_deletes_records_and_state(store: StateStore) -> None:
    store.record([rec(A), rec(B), rec(A, "r2", "failed", error="x")])
    store.forget([A, C])
    assert set(store.latest()) == {B}
    assert store.history(A) == []
    assert [r.key for r in store.history()] == [B]
    store.forget([])
    store.record([rec(A, "r3", "failed", t=9.0, error="y")])
    assert store.latest([A])[A] == AssetState(None, "failed", 9.5)


def test_file_observations_upsert(store: StateStore) -> None:
    one = FileObservation("/src/a.csv", 10, 1_700_000_000_123_456_789, "d1")
    two = FileObservation("/src/b.csv", 20, 2, "d2")
    assert store.file_observations([one.path]) == {}
    store.save_file_observations([one, two])
    assert store.file_observations([one.path, "/nope"]) == {one.path: one}
    changed = FileObservation("/src/a.csv", 11, 3, "d3")
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
            store.acquire_locks(f"run{n}", [key], os.getpid())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.history(limit=1000)) == 160
    assert len(store.latest()) == 4


def test_recorded_mappings_are_not_shared_with_the_caller(store: StateStore) -> None:
    inputs: dict[AssetKey, str | None] = {A: "v1"}
    store.record([rec(B, inputs=inputs)])
    inputs[A] = "v2"
    last = store.latest([B])[B].last
    assert last is not None
    assert dict(last.inputs) == {A: "v1"}


# -- SQLite only -----------------------------------------------------------------------------


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    with open_state_store(tmp_path / "deep" / "storage") as store:
        assert store.path == tmp_path / "deep" / "storage" / "state.db"
        con = sqlite3.connect(store.path)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        con.close()


def test_data_persists_across_reopen(tmp_path: Path) -> None:
    full = rec(A, inputs={B: "vb"}, code_components={"m.f": "h"}, schema=(("x", "int64"),))
    with open_state_store(tmp_path) as store:
        store.start_run(RunRecord("r1", 1.0, pid=5))
        store.record([full, rec(A, "r2", "failed", t=4.0, error="boom")])
        store.acquire_locks("r2", [A], os.getpid())
        store.save_file_observations([FileObservation("/f", 1, 2, "d")])
    with open_state_store(tmp_path) as store:
        assert store.latest() == {A: AssetState(full, "failed", 4.5)}
        assert store.runs() == [RunRecord("r1", 1.0, pid=5)]
        assert len(store.history(A)) == 2
        assert store.acquire_locks("r3", [A], os.getpid()) == [LockConflict(A, "r2", os.getpid())]
        assert store.file_observations(["/f"]) == {"/f": FileObservation("/f", 1, 2, "d")}


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


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    before = path.read_bytes()
    with pytest.raises(StateError) as info:
        open_state_store(tmp_path)
    assert str(info.value) == (
        f"{path} was written by a newer Lumbung (state schema {SCHEMA_VERSION + 1} > "
        f"{SCHEMA_VERSION}); upgrade Lumbung, or point storage at another folder."
    )
    assert path.read_bytes() == before


def test_a_lock_on_another_host_is_never_taken_over(tmp_path: Path) -> None:
    with open_state_store(tmp_path) as store:
        gone = dead_pid()
        assert store.acquire_locks("r1", [A], gone) == []
        con = sqlite3.connect(store.path)
        con.execute("UPDATE locks SET host = ?", (socket.gethostname() + "-elsewhere",))
        con.commit()
        con.close()
        assert store.acquire_locks("r2", [A], os.getpid()) == [LockConflict(A, "r1", gone)]


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
        assert latest[AssetKey(("shared",))].last is None


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
        assert set(store.latest()) == {A}


def test_inputs_read_back_keep_their_stored_text(tmp_path: Path) -> None:
    """A record read from SQLite keeps the text its inputs were stored as, decoded only on
    use; equal text is what lets the planner skip decoding a fresh asset's inputs."""
    store = open_state_store(tmp_path / "s")
    store.record([rec(C, inputs={A: "va", B: None})])
    last = store.latest([C], detail=False)[C].last
    assert last is not None
    inputs = last.inputs
    assert isinstance(inputs, EncodedInputs)
    assert inputs.text == encode_inputs({A: "va", B: None}) == '{"raw/a":"va","b":null}'
    assert inputs.text != encode_inputs({B: None, A: "va"})  # order is part of the text
    assert dict(inputs) == {A: "va", B: None} and list(inputs) == [A, B]
    assert pickle.loads(pickle.dumps(inputs)) == {A: "va", B: None}
    again = MaterializationRecord(C, "r2", "up_to_date", inputs=inputs)
    store.record([again])  # written back as the very same text
    (row,) = sqlite3.connect(tmp_path / "s" / "state.db").execute(
        "SELECT inputs FROM materializations WHERE run_id = 'r2'"
    )
    assert row == (inputs.text,)
    store.close()


@pytest.mark.parametrize(
    "inputs",
    [
        {},
        {A: "0123abcdef", B: None},
        {C: 'quote"and\\backslash', A: "tab\there"},
        {A: "ünïcödé", B: ""},
    ],
)
def test_encoded_inputs_are_exactly_the_json_encoding(inputs: dict[AssetKey, Any]) -> None:
    """Written directly for digests, through the encoder otherwise: the same text either way."""
    plain = {str(k): v for k, v in inputs.items()}
    text = encode_inputs(inputs)
    assert text == json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(text) == plain
