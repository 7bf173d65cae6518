"""The app served by uvicorn in a thread (as a scheduler serves it beside its loop), on a
socket bound by the caller; the URL to open, with the token when bound elsewhere."""

from __future__ import annotations

import json
import socket
import urllib.request
from typing import Any

from assets_core.web.app import build_app
from assets_core.web.server import start_in_thread, url_of


def test_served_in_a_thread_answers_then_stops(session: Any) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    app = build_app(session)
    url = url_of(app, sock)
    assert url == f"http://127.0.0.1:{sock.getsockname()[1]}/"
    running = start_in_thread(app, sock)
    try:
        with urllib.request.urlopen(url + "api/meta", timeout=10) as r:
            assert json.load(r)["token"] == app.state.ui.token
    finally:
        running.stop()
    assert not running.thread.is_alive()


def test_bound_elsewhere_the_url_carries_the_token(session: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        app = build_app(session, host="0.0.0.0")
        assert url_of(app, sock).endswith(f"/#token={app.state.ui.token}")
        read_only = build_app(session, host="0.0.0.0", read_only=True)
        assert "#token" not in url_of(read_only, sock)
