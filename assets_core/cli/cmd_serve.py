"""``lumbung serve``: one foreground process that runs the project's schedules and sensors.

It prints one line per tick (launched or skipped) and one per run that ends; each run is a
``lumbung materialize`` of its own. SIGTERM or Ctrl-C stops launching, waits up to ``--grace``
seconds for running runs (then stops them) and exits 0. A second ``serve`` on the same project
refuses: exit 1. ``LUMBUNG_CLOCK`` (for testing only) runs the server on a clock that starts at
a given instant and runs faster (``assets_core.automation.clock``).
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
from typing import Annotated

import typer

from assets_core.cli.common import EXIT_FAILED, fail, guard, load_session, state_of

SERVE_LOCK = "serve"  # <storage>/locks/serve.lock, held for the server's life


def serve(
    ctx: typer.Context,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            metavar="SECONDS",
            help="On SIGTERM or Ctrl-C, how long to wait for running runs before stopping them.",
        ),
    ] = 30.0,
) -> None:
    """Run the project's schedules and sensors until stopped (SIGTERM or Ctrl-C)."""
    from assets_core.automation.clock import clock_from_env
    from assets_core.automation.evaluate import check_selections
    from assets_core.automation.server import Server, tick_log
    from assets_core.storage import runlock

    with guard(ctx):
        session = load_session(ctx)
        # a long-lived process: the collector goes back on, with what was loaded frozen out
        gc.freeze()
        gc.enable()
        defs = session.defs
        check_selections(session, [*defs.schedules.values(), *defs.sensors.values()])
        clock = clock_from_env()
        tick_log(session)  # opens the state store, which makes the storage folder
        lock = runlock.RunLock(session.storage, SERVE_LOCK)
        if not lock.held and runlock.probe(session.storage, SERVE_LOCK):
            raise fail(
                f"another `lumbung serve` already runs on this project (it holds "
                f"{session.storage / runlock.FOLDER / (SERVE_LOCK + runlock.SUFFIX)}); stop it "
                "first, or give this one another project.",
                EXIT_FAILED,
                state_of(ctx).debug,
            )
        stop = threading.Event()

        def stopping(signum: int, frame: object) -> None:
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stopping)
        server = Server(session, clock, _say, grace=grace)
        _say(
            f"{clock.now().isoformat(timespec='seconds')} serving {len(defs.schedules)} "
            f"schedule(s) and {len(defs.sensors)} sensor(s) of {session.root}; "
            "SIGTERM or Ctrl-C stops"
        )
        try:
            # The loop runs in its own thread; the main thread only waits here (and handles
            # the signals). `serve --ui` serves the web app from this thread instead.
            loop = server.start(stop)
            while loop.is_alive():
                loop.join(timeout=1.0)
        finally:
            lock.release()
            session.close()
        _say(f"{clock.now().isoformat(timespec='seconds')} stopped")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
