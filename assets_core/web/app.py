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

from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from assets_core.web.common import (
    SECURITY_HEADERS,
    TOKEN_HEADER,
    UiState,
    endpoint,
    error,
    ui_state,
)

if TYPE_CHECKING:
    from assets_core.session import Session

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
#: the page's files: the UI's own, then the lineage page's it extends
STATIC = {
    "ui.js": ("assets_core.web", "text/javascript"),
    "ui.css": ("assets_core.web", "text/css"),
    "page.js": ("assets_core.lineage", "text/javascript"),
    "page.css": ("assets_core.lineage", "text/css"),
}


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def meta(request: Request) -> dict[str, Any]:
    """What the page needs first; asked once per load of the page, so it also drops the kept
    status plan (a refresh shows what changed behind Lumbung's back, ``kept.py``)."""
    from assets_core.web.kept import STATUS_PLAN

    ui = ui_state(request)
    ui.kept.drop(STATUS_PLAN)
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
    from assets_core.web import api_assets, api_runs, api_schedules

    return [*api_assets.ROUTES, *api_runs.ROUTES, *api_schedules.ROUTES]


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
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/meta", endpoint(meta)),
        *sections(),
    ]
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error}
    )
    app.state.ui = ui
    return app
