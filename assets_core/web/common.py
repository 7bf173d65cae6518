"""What every API section shares: the app's state (``UiState``), errors answered as JSON
(``ApiError``), route functions run as endpoints, and the guard of actions (the token, and
``--read-only``). The rules they enforce are in ``app.py``'s docstring."""

from __future__ import annotations

import hmac
import inspect
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from assets_core.errors import LumbungError, UnknownAssetError

if TYPE_CHECKING:
    from assets_core.session import Session
    from assets_core.storage.state import MaterializationRecord
    from assets_core.web.kept import Kept
    from assets_core.web.launch import Launcher

TOKEN_HEADER = "X-Lumbung-Token"
#: headers on every answer: nothing is loaded from elsewhere, nothing framed
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ApiError(Exception):
    """Bad input to the API: answered as ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UiState:
    """What the routes share: the session (one request at a time), the options, the token."""

    session: Session
    read_only: bool = False
    loopback: bool = True
    project: str | None = None  # as given to `--project`, for the runs the UI starts
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    lock: threading.RLock = field(default_factory=threading.RLock)
    launcher: Launcher | None = None
    #: answers kept while the project and the state store are unchanged (``kept.py``)
    kept: Kept = field(default_factory=lambda: _kept())
    #: set when the server stops: the live streams end (else they would hold it open)
    stopping: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def using(self) -> Iterator[Session]:
        """The session, held by this request alone; edits to the project reload it."""
        with self.lock:
            yield self.session


def _kept() -> Kept:
    from assets_core.web.kept import Kept

    return Kept()


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


def answer(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=SECURITY_HEADERS)


def encoded(data: Any) -> bytes:
    """``data`` as the JSON bytes ``answer`` sends (an answer kept encoded)."""
    return bytes(JSONResponse(data).body)


def answer_bytes(body: bytes) -> Response:
    """An answer of JSON already encoded (``encoded``)."""
    return Response(body, media_type="application/json", headers=SECURITY_HEADERS)


def check_action(request: Request) -> UiState:
    """The app's state for an action; ``ApiError`` 403 when the app is read-only or the
    request lacks the token."""
    ui = ui_state(request)
    if ui.read_only:
        raise ApiError("this UI is read-only (started with --read-only); nothing was done.", 403)
    given = request.headers.get(TOKEN_HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), ui.token.encode()):
        raise ApiError(
            f"this action needs the UI's token in the {TOKEN_HEADER} header (the URL "
            "`lumbung ui` printed carries it); nothing was done.",
            403,
        )
    return ui


def endpoint(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """A route's function as a starlette endpoint: run in a worker thread, its value answered
    as JSON, ``ApiError`` and project errors answered as ``{"error": ...}``."""
    from starlette.concurrency import run_in_threadpool

    async def handle(request: Request) -> Response:
        try:
            if inspect.iscoroutinefunction(fn):
                found = await fn(request)
            else:
                found = await run_in_threadpool(fn, request)
        except ApiError as exc:
            return error(str(exc), exc.status)
        except UnknownAssetError as exc:
            return error(str(exc), 404)
        except LumbungError as exc:
            return error(str(exc), 400)
        return found if isinstance(found, Response) else answer(found)

    return handle


def step_dict(rec: MaterializationRecord) -> dict[str, Any]:
    """A record as ``history --json`` prints it, with its partition (``None`` for an
    unpartitioned asset's step): the runs and asset pages list steps."""
    from assets_core.reports.records import record_dict

    return {**record_dict(rec), "partition": rec.step[1]}
