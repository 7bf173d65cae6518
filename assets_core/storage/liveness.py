"""Whether a process is alive: the one place Lumbung asks, for run locks, for the temporary
files killed writers leave behind, and for workers watching the run that started them.

A pid alone names nothing for long: the kernel hands it out again, and inside a container
(a PID namespace) the first process is pid 1 every time. So a process is named by a
``Holder``: its pid, its host, and on Linux the machine's boot id, its PID namespace and its
start time (clock ticks since boot, from ``/proc/<pid>/stat``). Elsewhere the platform says
less (the pid and the host), and a pid that exists counts as that process.

``holder_is_gone`` decides for a lock: first by the run's OS lock, when there is one
(``assets_core.storage.runlock``: the kernel releases it when the process dies, in whatever
namespace it ran), else by the identity above. A holder on another machine is never assumed
dead; ``lumbung unlock`` is for those. A zombie (a process that has exited and waits for its
parent to reap it) is dead: it holds no lock and writes no file.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Holder",
    "boot_id",
    "holder_alive",
    "holder_is_gone",
    "holder_of",
    "is_running",
    "pid_alive",
    "same_machine",
    "this_host",
]


@functools.lru_cache(maxsize=1)
def this_host() -> str:
    """This machine's name, as recorded with every lock it takes."""
    return socket.gethostname()


@functools.lru_cache(maxsize=1)
def boot_id() -> str | None:
    """This boot of this machine (Linux: the kernel's random boot id, shared by every
    container on it); None where the platform has none."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _pid_namespace(pid: int) -> str | None:
    """The PID namespace ``pid`` lives in (``pid:[4026531836]``), when the platform says."""
    try:
        return str(Path(f"/proc/{pid}/ns/pid").readlink())
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, start time in clock ticks since boot)`` of ``pid`` from ``/proc``, or None
    when ``/proc`` does not show it (no such process, no ``/proc``, or hidden from us)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    # "pid (comm) S ppid ...": comm may hold spaces and parentheses; fields follow the last ')'
    fields = text[text.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode("ascii"), int(fields[19])
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


@dataclass(frozen=True, slots=True)
class Holder:
    """A process as another process can recognise it later (see the module docstring)."""

    pid: int | None
    host: str | None
    boot_id: str | None = None
    pid_ns: str | None = None
    started: int | None = None  # clock ticks since boot (Linux)


def holder_of(pid: int) -> Holder:
    """``pid`` of this machine, named as fully as the platform allows."""
    stat = _proc_stat(pid)
    return Holder(
        pid,
        this_host(),
        boot_id(),
        _pid_namespace(pid),
        stat[1] if stat is not None else None,
    )


def same_machine(holder: Holder) -> bool:
    """Whether ``holder`` ran on this machine: the same boot id where both are known (every
    container on one kernel shares it), else the same host name."""
    mine = boot_id()
    if holder.boot_id is not None and mine is not None:
        return holder.boot_id == mine
    return holder.host == this_host()


def _rebooted_since(holder: Holder) -> bool:
    """Whether ``holder`` ran on this host before its last boot: the same host name, another
    boot id."""
    mine = boot_id()
    return (
        holder.host == this_host()
        and holder.boot_id is not None
        and mine is not None
        and holder.boot_id != mine
    )


def holder_alive(holder: Holder, os_lock: bool | None = None) -> bool | None:
    """Whether the process ``holder`` names still runs: True, False, or None when that
    cannot be told from here (another machine, another PID namespace, no pid).

    ``os_lock`` is what the run's OS lock said, if there is one (True held, False free;
    ``assets_core.storage.runlock.probe``); it is believed for a holder on this machine only
    (a lock on a network file system may be local to each client). Without it, the identity
    decides: the pid names a live process (not a zombie) that started when the holder did."""
    if os_lock is not None and same_machine(holder):
        return os_lock
    if _rebooted_since(holder):
        return False
    if holder.pid is None or holder.pid <= 0 or not same_machine(holder):
        return None
    if holder.pid_ns is not None:
        mine = _pid_namespace(os.getpid())
        if mine is not None and mine != holder.pid_ns:
            return None  # its pid means something else here
    stat = _proc_stat(holder.pid)
    if stat is None:
        return pid_alive(holder.pid)
    state, started = stat
    if state in ("Z", "X"):
        return False
    return holder.started is None or holder.started == started


def is_running(holder: Holder) -> bool:
    """Whether ``holder`` may still run: alive, or not known to be dead."""
    return holder_alive(holder) is not False


def holder_is_gone(holder: Holder, os_lock: bool | None = None) -> bool:
    """Whether a lock's holder is known to be dead (see ``holder_alive``)."""
    return holder_alive(holder, os_lock) is False


if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there

    def pid_alive(pid: int) -> bool:
        """Whether ``pid`` names a running process, asked of the Windows kernel."""
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(kernel32.GetLastError() != 87)  # ERROR_INVALID_PARAMETER: no such pid
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)

else:

    def pid_alive(pid: int) -> bool:
        """Whether ``pid`` names a live process of this host (of this PID namespace). A
        zombie is not alive; one owned by another user is, and so is one the platform will
        not say anything about."""
        if pid == os.getpid():
            return True
        stat = _proc_stat(pid)
        if stat is not None:
            return stat[0] not in ("Z", "X")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # PermissionError: alive, owned by another user
            return True
        return True
