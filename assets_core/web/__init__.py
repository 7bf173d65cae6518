"""The local web UI (DESIGN §17): a starlette app over one ``Session``, a JSON API plus one
static page that extends the lineage page (``assets_core.lineage.static``).

``build_app(session, ...)`` (``app.py``) makes the ASGI app; ``server.py`` serves it with
uvicorn, in the foreground (``lumbung ui``, ``cli/cmd_ui.py``) or in a thread beside another
loop (``start_in_thread``: a scheduler's ``serve --ui``).
Each concern is one API section with its own ``ROUTES`` (``api_assets.py``, ``api_runs.py``),
built on what they share (``common.py``); a new page (checks, schedules) adds a section
module and lists it in ``app.sections()``, and adds its view to ``static/ui.js``.
starlette and uvicorn are imported only here and by ``lumbung ui``, never by other commands.
"""
