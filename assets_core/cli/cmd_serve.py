"""``lumbung serve``: one foreground process that runs the project's schedules and sensors.

It prints one line per tick (launched or skipped) and one per run that ends; each run is a
``lumbung materialize`` of its own. SIGTERM or Ctrl-C stops launching, waits up to ``--grace``
seconds for running runs (then stops them) and exits 0. A second ``serve`` on the same project
refuses: exit 1. ``--ui`` also serves the web UI (``lumbung ui``'s, with its ``--host``,
``--port`` and ``--read-only``) from the same process, over a session of its own; the stop
above stops it too. ``LUMBUNG_CLOCK`` (for testing only) runs the server on a clock that starts at
a given instant and runs faster (``assets_core.automation.clock``).
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.cmd_ui import DEFAULT_PORT
from assets_core.cli.common import EXIT_FAILED, EXIT_USAGE, fail, guard, load_session, state_of

if TYPE_CHECKING:
    import socket

    from assets_core.web.server import Running

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
    ui: Annotated[
        bool, typer.Option("--ui", help="Also serve the web UI (as `lumbung ui`) meanwhile.")
    ] = False,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="With --ui: address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port", min=0, max=65535, metavar="PORT", help="With --ui: port (0: a free one)."
        ),
    ] = DEFAULT_PORT,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="With --ui: the UI refuses every action.")
    ] = False,
) -> None:
    """Run the project's schedules and sensors until stopped (SIGTERM or Ctrl-C)."""
    from assets_core.automation.clock import clock_from_env
    from assets_core.automation.evaluate import check_selections
    from assets_core.automation.server import Server, tick_log
    from assets_core.storage import runlock

    with guard(ctx):
        if not ui and (host != "127.0.0.1" or port != DEFAULT_PORT or read_only):
            raise fail(
                "--host, --port and --read-only go with --ui (the web UI); add --ui.",
                EXIT_USAGE,
                state_of(ctx).debug,
            )
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
        sock = None
        if ui:
            from assets_core.cli.cmd_ui import bind

            try:
                sock = bind(host, port, state_of(ctx).debug)
            except BaseException:
                lock.release()
                raise
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
        web = None
        try:
            if sock is not None:
                web = _start_ui(ctx, sock, host, read_only)
            # The loop runs in its own thread, which lives until every run has ended (a run
            # ends with the thread that started it); the main thread only waits here (and
            # handles the signals), while uvicorn serves the UI from a thread of its own.
            loop = server.start(stop)
            while loop.is_alive():
                loop.join(timeout=1.0)
        finally:
            if web is not None:
                web.stop()
                web.app.state.ui.session.close()
            elif sock is not None:
                sock.close()
            lock.release()
            session.close()
        _say(f"{clock.now().isoformat(timespec='seconds')} stopped")


def _start_ui(ctx: typer.Context, sock: socket.socket, host: str, read_only: bool) -> Running:
    """The web app over a session of its own (a request never waits on the loop's), served
    in a thread; its URL printed."""
    from assets_core.session import load_project
    from assets_core.web.app import build_app
    from assets_core.web.server import start_in_thread, url_of

    project = state_of(ctx).project
    web_session = load_project(project, read_only=True)
    try:
        app = build_app(web_session, read_only=read_only, host=host, project=project)
        running = start_in_thread(app, sock)
    except BaseException:
        web_session.close()
        raise
    mode = " (read-only)" if read_only else ""
    _say(f"Lumbung UI for {web_session.root.name}{mode}: {url_of(app, sock)}")
    return running


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
