"""``lumbung ui``: the local web UI (``assets_core.web``), served by uvicorn until Ctrl-C.

It binds to 127.0.0.1 by default. Bound elsewhere (``--host 0.0.0.0``), actions need the
token in the URL it prints. ``--read-only`` refuses every action. A port in use is one
``error:`` line and exit 2; ``--port 0`` takes a free port (the line it prints names it).
starlette and uvicorn are imported here only, so other commands start without them.
"""

from __future__ import annotations

import errno
import gc
import socket
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import EXIT_USAGE, fail, guard, state_of

if TYPE_CHECKING:
    from assets_core.session import Session

DEFAULT_PORT = 3000


def bind(host: str, port: int, debug: bool = False) -> socket.socket:
    """A listening socket on ``host``:``port``; a port in use or an address this machine
    does not have is one error line (exit 2)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise fail(
            f"--host {host}: no such address; use 127.0.0.1 (the default).", EXIT_USAGE, debug
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise fail(
                f"port {port} on {host} is in use; choose another with --port.", EXIT_USAGE, debug
            ) from None
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}.", EXIT_USAGE, debug) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def ui(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, metavar="PORT", help="Port (0: a free one)."),
    ] = DEFAULT_PORT,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Show everything; refuse every action.")
    ] = False,
) -> None:
    """Serve the web UI: the asset graph, each asset, runs and logs, live."""
    cli = state_of(ctx)
    with guard(ctx):
        from assets_core.session import load_project

        session = load_project(cli.project, read_only=True)
        # a long-lived process: what was loaded lives until it ends, so the collector's
        # passes leave it out (as ``serve`` does)
        gc.freeze()
        try:
            sock = bind(host, port, cli.debug)
            _serve(session, sock, host, read_only, cli.project)
        finally:
            session.close()


def _serve(
    session: Session, sock: socket.socket, host: str, read_only: bool, project: str | None
) -> None:
    from assets_core.web.app import build_app
    from assets_core.web.server import serve, url_of

    app = build_app(session, read_only=read_only, host=host, project=project)
    mode = " (read-only)" if read_only else ""
    url = url_of(app, sock)
    sys.stdout.write(f"Lumbung UI for {session.root.name}{mode}: {url}\nCtrl-C stops it.\n")
    sys.stdout.flush()
    serve(app, sock)
