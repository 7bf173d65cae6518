"""Step locks and their holders in the SQLite store, on real processes: who holds a lock is
decided by the run's OS lock first (the kernel's word), then by the holder's identity; what
``lumbung unlock`` reads and breaks; and a planted link at the state file is refused."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assets_core.errors import StateError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage import runlock
from assets_core.storage.liveness import holder_of
from assets_core.storage.sqlite import SQLiteStateStore, open_state_store
from assets_core.storage.state import LockConflict, MemoryStateStore, RunRecord, StateStore

SA, SB = StepKey(AssetKey.parse("raw/a")), StepKey(AssetKey.parse("b"))
posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
linux = pytest.mark.skipif(
    not Path("/proc/self/ns/pid").exists(), reason="PID namespaces and start times: Linux /proc"
)

HOLDER = """
import sys, time
from pathlib import Path
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.sqlite import open_state_store
store = open_state_store(Path(sys.argv[1]))
import os
assert store.acquire_locks("held", [StepKey(AssetKey.parse("raw/a"))], os.getpid()) == []
print("holding", flush=True)
time.sleep(600)
"""


def _holding(storage: Path) -> subprocess.Popen[str]:
    """A process that took lock ``raw/a`` for run ``held`` and keeps it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(storage)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
    return proc


def _set(store: SQLiteStateStore, sql: str) -> None:
    con = sqlite3.connect(store.path)
    con.execute(sql)
    con.commit()
    con.close()


@linux
def test_a_lock_names_its_holder_and_holds_the_runs_os_lock(tmp_path: Path) -> None:
    with open_state_store(tmp_path) as store:
        assert store.acquire_locks("r1", [SA, SB], os.getpid()) == []
        me = holder_of(os.getpid())
        con = sqlite3.connect(store.path)
        rows = con.execute("SELECT DISTINCT pid, host, boot_id, pid_ns, started FROM locks")
        assert rows.fetchall() == [(me.pid, me.host, me.boot_id, me.pid_ns, me.started)]
        con.close()
        assert runlock.probe(tmp_path, "r1") is True
        store.release_locks("r1", [SA])  # some: the run still holds B, and its OS lock
        assert runlock.probe(tmp_path, "r1") is True
        store.release_locks("r1")
        assert runlock.probe(tmp_path, "r1") is None
        assert list((tmp_path / runlock.FOLDER).iterdir()) == []


@linux
@posix
def test_the_os_lock_of_a_killed_holder_decides_where_its_pid_cannot(tmp_path: Path) -> None:
    proc = _holding(tmp_path)
    with open_state_store(tmp_path) as store:
        try:
            # As if it ran in another PID namespace (a container): its pid says nothing here.
            _set(store, "UPDATE locks SET pid_ns = 'pid:[1]'")
            conflict = LockConflict(SA, "held", proc.pid)
            assert store.acquire_locks("r2", [SA], os.getpid()) == [conflict]
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        store.start_run(RunRecord("held", 1.0, pid=proc.pid))
        assert store.acquire_locks("r2", [SA], os.getpid()) == []
        assert [r.status for r in store.runs() if r.run_id == "held"] == ["interrupted"]
        assert runlock.probe(tmp_path, "held") is None  # its file went with its locks
        store.release_locks("r2")


@linux
@posix
def test_a_live_holder_keeps_its_locks_whatever_its_identity_says(tmp_path: Path) -> None:
    proc = _holding(tmp_path)
    try:
        with open_state_store(tmp_path) as store:
            _set(store, "UPDATE locks SET started = started - 1")  # looks like a reused pid
            assert store.acquire_locks("r2", [SA], os.getpid()) == [
                LockConflict(SA, "held", proc.pid)
            ]
    finally:
        proc.kill()
        proc.wait()


def test_without_an_os_lock_a_reused_pid_is_recognised(tmp_path: Path) -> None:
    with open_state_store(tmp_path) as store:
        # Taken for another pid (this one, a live process): no OS lock; the identity decides.
        parent = os.getppid()
        assert store.acquire_locks("old", [SA], parent) == []
        assert store.acquire_locks("r2", [SA], os.getpid()) == [LockConflict(SA, "old", parent)]
        if holder_of(parent).started is None:
            pytest.skip("this platform gives no process start times")
        _set(store, "UPDATE locks SET started = started - 1")
        assert store.acquire_locks("r2", [SA], os.getpid()) == []


def test_a_lock_file_left_without_locks_is_swept(tmp_path: Path) -> None:
    (tmp_path / runlock.FOLDER).mkdir()
    (tmp_path / runlock.FOLDER / "killed-early.lock").write_text("")
    with open_state_store(tmp_path) as store:
        assert store.acquire_locks("r1", [SA], os.getpid()) == []
        assert sorted(p.name for p in (tmp_path / runlock.FOLDER).iterdir()) == ["r1.lock"]
        store.release_locks("r1")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    if request.param == "memory":
        return MemoryStateStore()
    return open_state_store(tmp_path)


def test_locks_are_listed_with_their_holders_and_broken_by_run(store: StateStore) -> None:
    me = os.getpid()
    store.start_run(RunRecord("r1", 1.0, pid=me))
    assert store.acquire_locks("r1", [SB, SA], me) == []
    assert store.acquire_locks("r2", [StepKey(AssetKey.parse("c"))], me) == []
    listed = store.locks()
    assert [(h.run_id, str(h.step), h.holder.pid, h.alive) for h in listed] == [
        ("r1", "b", me, True),
        ("r1", "raw/a", me, True),
        ("r2", "c", me, True),
    ]
    assert store.break_locks(["r1", "nope"]) == 2
    assert [h.run_id for h in store.locks()] == ["r2"]
    assert [r.status for r in store.runs()] == ["interrupted"]
    assert store.break_locks([]) == 0


@posix
@pytest.mark.parametrize("name", ["state.db", "state.db-wal", "state.db-shm"])
def test_a_planted_link_at_the_state_file_is_refused(tmp_path: Path, name: str) -> None:
    storage = tmp_path / ".lumbung"
    storage.mkdir()
    target = tmp_path / "elsewhere"
    (storage / name).symlink_to(target)
    with pytest.raises(StateError) as info:
        open_state_store(storage)
    assert str(info.value) == (
        f"{storage / name} is a symbolic link, and Lumbung never follows links in its storage "
        "folder; remove it (to keep the state it points to, move that file into its place)."
    )
    assert not target.exists()
    assert sorted(p.name for p in storage.iterdir()) == [name]
