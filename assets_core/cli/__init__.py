"""The ``lumbung`` command line: a thin typer layer over the Python API.

This package is the only part of ``assets_core`` that may import ``io_managers`` (lazily).
Importing it must stay cheap: ``lumbung --help`` loads no pandas, pyarrow or duckdb.

``entry`` is the console script: ``main``, then the process ends without tearing the
interpreter down (see ``leave``). ``main`` raises ``SystemExit`` like any click program, for
callers that run the command inside their own process (tests).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

#: Set when asset code ran in this process: its objects' finalizers then get to run at exit.
_keep_teardown = False


def keep_teardown() -> None:
    """Exit the ordinary way, finalizers and all (asset code ran and may rely on them)."""
    global _keep_teardown
    _keep_teardown = True


def entry() -> None:
    """The ``lumbung`` console script."""
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    leave(code)


def leave(code: object) -> None:
    """End the process with ``code`` (a ``SystemExit`` code). Tearing down an interpreter
    that imported pandas and a project of 10,000 assets takes longer than planning them
    (freeing every object, one last collection), so when nothing needs it the process runs
    its exit hooks, flushes its output and ends with ``os._exit``. The ordinary exit stays
    for when asset code ran here, or a thread other than daemons is still alive.

    The command has finished and said so: a Ctrl-C (or SIGTERM) from here on is ignored, so
    it cannot turn a finished run into a death by a signal with its exit hooks half run."""
    import signal

    with contextlib.suppress(ValueError):  # not the main thread: nothing to change
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if _keep_teardown or any(not t.daemon for t in others):
        raise SystemExit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # SystemExit("message"): printed, status 1, as the interpreter does
        sys.stderr.write(f"{code}\n")
        status = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(status)


def main() -> None:
    """Entry point of the ``lumbung`` command. SIGTERM is handled like Ctrl-C, from here on:
    one line, and exit 143 (130 for Ctrl-C)."""
    import signal

    from assets_core.execution import interrupts

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupts.default_term_handler)
    try:
        from assets_core.cli.app import run

        run()
    except KeyboardInterrupt as exc:  # before a command took charge of it (importing)
        _ignore_stops()  # a second one must not cut the exit short
        if isinstance(exc, interrupts.Terminated):
            sys.stderr.write("error: terminated\n")
            raise SystemExit(143) from None
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(130) from None
    except SystemExit as exc:
        from assets_core.cli.common import EXIT_INTERRUPTED, EXIT_TERMINATED, interrupt_reported

        # typer turns a Ctrl-C (or SIGTERM) that lands in its own code (building the command,
        # before ours runs) into a silent exit 130: say what happened, in the one line every
        # exit has, with the signal's own code.
        if exc.code == EXIT_INTERRUPTED and not interrupt_reported():
            _ignore_stops()
            if interrupts.terminated():
                sys.stderr.write("error: terminated\n")
                raise SystemExit(EXIT_TERMINATED) from None
            sys.stderr.write("error: interrupted\n")
        raise


def _ignore_stops() -> None:
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
