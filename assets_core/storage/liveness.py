"""Whether a process is alive: the one place Lumbung asks, for run locks and for the temporary
files killed writers leave behind.

A holder on another host, or one without a pid, is never assumed dead.
"""

from __future__ import annotations

import functools
import os
import socket
import sys

__all__ = ["holder_is_gone", "pid_alive", "this_host"]


@functools.lru_cache(maxsize=1)
def this_host() -> str:
    """This machine's name, as recorded with every lock it takes."""
    return socket.gethostname()


def holder_is_gone(pid: int | None, host: str | None) -> bool:
    """Whether a lock's holder is known to be dead: a process of this host that no longer
    exists."""
    if pid is None or pid <= 0 or host != this_host():
        return False
    return not pid_alive(pid)


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
        """Whether ``pid`` names a process of this host (a zombie still counts; so does one
        owned by another user, or one the platform will not say anything about)."""
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # PermissionError: alive, owned by another user
            return True
        return True
