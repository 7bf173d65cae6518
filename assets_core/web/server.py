"""Serving the app with uvicorn on a socket already bound: in the foreground until Ctrl-C
(``lumbung ui``), or in a thread beside another loop (a scheduler's ``serve --ui``)."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette


#: on stop, how long requests still open get to end before they are cancelled, in seconds
#: (the live streams end by themselves within a poll: ``UiState.stopping``)
STOP_GRACE = 5


def _server(app: Starlette) -> uvicorn.Server:
    import uvicorn

    stopping = app.state.ui.stopping

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            threading.Thread(target=_warm, args=(app,), name="lumbung-ui-warm", daemon=True).start()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            stopping.set()  # the page's live streams end, so their connections close
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=STOP_GRACE,
    )
    return Server(config)


def _warm(app: Starlette) -> None:
    """Make the graph's layout while the user opens the page (its first request), so the
    first load draws as fast as the next; an error is left for that request to answer."""
    from assets_core.web.api_assets import layout

    with contextlib.suppress(Exception):
        layout(app.state.ui)


def url_of(app: Starlette, sock: socket.socket) -> str:
    """The URL to open: the socket's address, with the action token after ``#token=`` when
    the app is bound elsewhere than loopback (the page is not given it then)."""
    shown = sock.getsockname()
    where = f"[{shown[0]}]" if ":" in shown[0] else shown[0]
    url = f"http://{where}:{shown[1]}/"
    ui = app.state.ui
    if not ui.loopback and not ui.read_only:
        url += f"#token={ui.token}"
    return url


def close_app(app: Starlette) -> None:
    """Stop the runs the app started that still go (they end cleanly, SIGTERM), and let go
    of what it kept."""
    launcher = app.state.ui.launcher
    if launcher is not None:
        launcher.close()
    app.state.ui.kept.close()


def serve(app: Starlette, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C or SIGTERM (a normal stop: no exception)."""
    try:
        _server(app).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn has shut down; the signal it re-raised ends here
        pass
    finally:
        close_app(app)
        sock.close()


@dataclass
class Running:
    """The app served in a thread; ``stop`` ends it and waits."""

    server: uvicorn.Server
    thread: threading.Thread
    app: Starlette
    sock: socket.socket

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        close_app(self.app)
        self.sock.close()


def start_in_thread(app: Starlette, sock: socket.socket) -> Running:
    """Serve ``app`` on ``sock`` in a daemon thread (uvicorn installs no signal handlers off
    the main thread: the caller's loop keeps its own)."""
    server = _server(app)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="lumbung-ui", daemon=True
    )
    thread.start()
    return Running(server, thread, app, sock)
