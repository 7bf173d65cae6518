"""The ASGI app: the API sections' routes, the static page, and the guards every request
passes.

- Reads are GET and answer JSON; bad input is ``{"error": "..."}`` with 400 (404 for an
  unknown asset or run), and changes nothing.
- Actions are POST and need the per-process token in the ``X-Lumbung-Token`` header (403
  without it); ``read_only`` refuses them all (403). The page learns the token from
  ``/api/meta`` only when the app is bound to a loopback address; bound elsewhere, the user
  opens the URL ``lumbung ui`` prints, which carries it.
- Bound to a loopback address, requests must name a loopback host (``Host`` header), so a
  web page elsewhere cannot reach the app through DNS rebinding.
- The session is used by one request at a time (``UiState.lock``); the state store is read
  afresh by each request, so runs made by other processes show at once.
"""

from __future__ import annotations

import hmac
import inspect
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from assets_core.errors import LumbungError, UnknownAssetError

if TYPE_CHECKING:
    from assets_core.session import Session
    from assets_core.web.launch import Launcher

TOKEN_HEADER = "X-Lumbung-Token"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
#: the page's files: the UI's own, then the lineage page's it extends
STATIC = {
    "ui.js": ("assets_core.web", "text/javascript"),
    "ui.css": ("assets_core.web", "text/css"),
    "page.js": ("assets_core.lineage", "text/javascript"),
    "page.css": ("assets_core.lineage", "text/css"),
}
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

    @contextmanager
    def using(self) -> Iterator[Session]:
        """The session, held by this request alone; edits to the project reload it."""
        with self.lock:
            yield self.session


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


def answer(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=SECURITY_HEADERS)


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


def meta(request: Request) -> dict[str, Any]:
    ui = ui_state(request)
    return {
        "project": ui.session.root.name,
        "root": str(ui.session.root),
        "read_only": ui.read_only,
        "token": ui.token if ui.loopback and not ui.read_only else None,
        "token_header": TOKEN_HEADER,
    }


def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    found = STATIC.get(name)
    if found is None:
        return error(f"no file {name!r} here.", 404)
    package, media = found
    text = resources.files(package).joinpath("static").joinpath(name).read_text("utf-8")
    return Response(text, media_type=media, headers=SECURITY_HEADERS)


def index(request: Request) -> Response:
    text = resources.files("assets_core.web").joinpath("static/index.html").read_text("utf-8")
    return Response(text, media_type="text/html", headers=SECURITY_HEADERS)


def http_error(request: Request, exc: Exception) -> Response:
    """starlette's own errors (no such route, a method it does not take) as JSON."""
    status = getattr(exc, "status_code", 500)
    if status == 404:
        return error(f"no such page: {request.url.path}", 404)
    return error(f"{request.method} {request.url.path}: {getattr(exc, 'detail', exc)}", status)


def sections() -> list[BaseRoute]:
    """Every API section's routes (one module per concern)."""
    from assets_core.web import api_assets, api_runs

    return [*api_assets.ROUTES, *api_runs.ROUTES]


def build_app(
    session: Session,
    *,
    read_only: bool = False,
    host: str = "127.0.0.1",
    project: str | None = None,
    token: str | None = None,
) -> Starlette:
    """The UI's ASGI app over ``session`` (which the caller keeps and closes).

    ``host`` is the address it is served on: a loopback address keeps requests to loopback
    host names and gives the page the token; ``project`` is how runs the UI starts find the
    project (``--project``; default the session's folder); ``token`` fixes the action token
    (default: a fresh random one, ``app.state.ui.token``)."""
    from assets_core.web.launch import Launcher

    loopback = is_loopback(host)
    ui = UiState(session, read_only=read_only, loopback=loopback, project=project)
    if token is not None:
        ui.token = token
    ui.launcher = Launcher(project or str(session.root))
    middleware = []
    if loopback:
        middleware.append(
            Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])
        )
    routes: list[BaseRoute] = [
        Route("/", index),
        Route("/static/{name}", static_file),
        Route("/api/meta", endpoint(meta)),
        *sections(),
    ]
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error}
    )
    app.state.ui = ui
    return app
