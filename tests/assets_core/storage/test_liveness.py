"""Whether a process is alive (``assets_core.storage.liveness``) and a run's OS lock
(``assets_core.storage.runlock``), on real processes: a zombie is dead, a reused pid is not
its old process, a pid of another PID namespace or another machine is never judged, and the
OS lock of a process killed with SIGKILL is free at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from assets_core.storage import runlock
from assets_core.storage.liveness import (
    Holder,
    boot_id,
    holder_alive,
    holder_of,
    pid_alive,
    this_host,
)

LINUX = sys.platform.startswith("linux") and Path("/proc/self/stat").exists()
needs_proc = pytest.mark.skipif(not LINUX, reason="process start times come from Linux /proc")
posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")


def _state(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_bytes()
    return text[text.rfind(b")") + 2 :].split()[0].decode()


def _zombie() -> subprocess.Popen[bytes]:
    """A child that has exited and is not reaped yet."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    while _state(proc.pid) != "Z":  # exits at once; the kernel keeps it until reaped
        time.sleep(0.01)
    return proc


@needs_proc
def test_a_zombie_is_not_alive() -> None:
    proc = _zombie()
    try:
        assert not pid_alive(proc.pid)
        assert holder_alive(Holder(proc.pid, this_host(), boot_id())) is False
    finally:
        proc.wait()
    assert not pid_alive(proc.pid)


def test_this_process_and_a_reaped_one() -> None:
    assert pid_alive(os.getpid())
    assert holder_alive(holder_of(os.getpid())) is True
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)


@needs_proc
def test_a_reused_pid_is_not_the_process_that_held_it() -> None:
    me = holder_of(os.getpid())
    assert me.started is not None and me.boot_id and me.pid_ns
    earlier = replace(me, started=me.started - 1)  # same pid, another start: pid reused
    assert holder_alive(earlier) is False


@needs_proc
def test_a_pid_of_another_namespace_or_machine_is_never_judged() -> None:
    me = holder_of(os.getpid())
    assert holder_alive(replace(me, pid_ns="pid:[1]", started=1)) is None
    elsewhere = Holder(os.getpid(), "another-host", "another-boot", me.pid_ns, 1)
    assert holder_alive(elsewhere) is None
    # the same host name with another boot id: this machine before it rebooted
    assert holder_alive(replace(me, boot_id="an-earlier-boot")) is False


@needs_proc
def test_the_os_lock_decides_for_a_holder_of_this_machine_only() -> None:
    me = holder_of(os.getpid())
    assert holder_alive(replace(me, pid_ns="pid:[1]"), os_lock=False) is False
    assert holder_alive(replace(me, pid_ns="pid:[1]"), os_lock=True) is True
    elsewhere = Holder(1, "another-host", "another-boot")
    assert holder_alive(elsewhere, os_lock=False) is None


HOLD = """
import sys, time
from pathlib import Path
from assets_core.storage.runlock import RunLock
lock = RunLock(Path(sys.argv[1]), "run-1")
print("held" if lock.held else "not held", flush=True)
time.sleep(600)
"""


@posix
def test_a_run_lock_is_free_once_its_process_is_killed(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        assert runlock.probe(tmp_path, "run-1") is True
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert runlock.probe(tmp_path, "run-1") is False
        runlock.sweep(tmp_path, keep=set())
        assert list((tmp_path / runlock.FOLDER).iterdir()) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@posix
def test_a_run_lock_is_held_while_its_run_lives_and_its_file_goes_with_it(
    tmp_path: Path,
) -> None:
    lock = runlock.RunLock(tmp_path, "r-2")
    assert lock.held
    assert runlock.probe(tmp_path, "r-2") is True  # another open file: held
    runlock.sweep(tmp_path, keep=set())  # a held lock is never swept
    assert runlock.probe(tmp_path, "r-2") is True
    lock.release()
    assert runlock.probe(tmp_path, "r-2") is None  # no file: nothing to ask
    assert runlock.probe(tmp_path, "../escape") is None


@posix
def test_a_planted_link_is_never_followed(tmp_path: Path) -> None:
    folder = tmp_path / runlock.FOLDER
    folder.mkdir()
    target = tmp_path / "target"
    (folder / "r-3.lock").symlink_to(target)
    lock = runlock.RunLock(tmp_path, "r-3")
    assert not lock.held and not target.exists()
    assert runlock.probe(tmp_path, "r-3") is None
