"""Worker processes die with the run that started them.

A worker, or the fork server workers are forked from, must never outlive its run: a late
worker would finish its step after the run is gone and overwrite what a newer run stored.
Three things see to it; each is enough on its own where it works:

- ``die_with_parent``: on Linux the kernel kills the process (SIGKILL) when its parent ends
  (``prctl(PR_SET_PDEATHSIG)``, through ctypes). A worker's parent is the fork server (or the
  run's process); the fork server's is the run's process.
- ``watch``: a daemon thread that checks a few times a second that the run's process still
  runs, by its pid and start time (``liveness.is_running``), and ends this process at once
  (``os._exit``) when it does not. It works on every platform, and also where the parent is
  not the run's process.
- ``drop_forkserver_pipe``: multiprocessing hands every process the fork server starts the
  write end of the server's "alive" pipe (so that it could use the server too). The server
  ends only when every holder of that end has closed it, so one worker left running kept the
  server up, and the server's children with it. A worker closes it: the server then sees the
  run's process end, and ends.

A worker also asks, right before it publishes an output (``assets_core.storage.fencing``)
and before it hands back a result, whether its run still lives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

from assets_core.storage.liveness import Holder, is_running

__all__ = ["EXIT_ORPHANED", "POLL_S", "die_with_parent", "drop_forkserver_pipe", "watch"]

POLL_S = 0.2  # seconds between two looks at the run's process
EXIT_ORPHANED = 70  # the status of a process that ended because its run had
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> bool:
    """Ask the kernel to kill this process when its parent (``parent``, as ``os.getppid()``
    said before) ends; end at once if it has ended already. Whether the platform can."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):  # no libc with prctl (a static build, say)
        return False
    if os.getppid() != parent:  # the parent ended before the kernel was told
        os._exit(EXIT_ORPHANED)
    return True


def watch(owner: Holder, poll: float = POLL_S) -> threading.Thread:
    """Start a daemon thread ending this process (``os._exit``) once ``owner`` is gone."""

    def loop() -> None:
        while True:
            time.sleep(poll)
            if not is_running(owner):
                os._exit(EXIT_ORPHANED)

    thread = threading.Thread(target=loop, name="lumbung-lifeline", daemon=True)
    thread.start()
    return thread


def drop_forkserver_pipe() -> None:
    """In a process the fork server started: close the server's "alive" pipe (see the module
    docstring). Elsewhere nothing changes."""
    try:
        from multiprocessing import forkserver
    except ImportError:  # pragma: no cover - a platform without it
        return
    server = forkserver._forkserver
    if server.get_inherited_fds() is None:  # not started by a fork server
        return
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is None:
        return
    setattr(server, "_forkserver_alive_fd", None)  # noqa: B010  (private, untyped)
    with contextlib.suppress(OSError):
        os.close(fd)
