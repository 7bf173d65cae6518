"""The local web UI (DESIGN §17): a starlette app over one ``Session``, a JSON API plus one
static page that extends the lineage page (``assets_core.lineage.static``).

``build_app(session, ...)`` (``app.py``) makes the ASGI app; ``lumbung ui`` serves it with
uvicorn (``cli/cmd_ui.py``), and a scheduler process may mount the same app beside itself.
Each concern is one API section with its own routes (``api_assets.py``, ``api_runs.py``):
a new page (checks, schedules) adds a section and lists its routes in ``app.SECTIONS``.
starlette and uvicorn are imported only here and by ``lumbung ui``, never by other commands.
"""
