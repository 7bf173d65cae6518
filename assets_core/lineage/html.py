"""The ``html`` format: one self-contained page (no network at view time).

The layout is computed here (``layout.py``) and embedded as JSON beside the page's own
script and stylesheet (``static/page.js``, ``static/page.css``, inlined). The page draws on a
single ``<canvas>`` only what is in view, so it stays quick at thousands of assets: pan by
dragging, zoom with the wheel, search to jump to an asset, click one for its side panel and
its whole upstream and downstream highlighted.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from assets_core.lineage.jsonfmt import iso, node_dict
from assets_core.lineage.layout import NODE_H, NODE_W, layout
from assets_core.lineage.model import CHECK_COLORS, STATUS_COLORS, Lineage


@cache
def static(name: str) -> str:
    """The text of one of the page's static files (package data)."""
    return (
        resources.files("assets_core.lineage").joinpath("static").joinpath(name).read_text("utf-8")
    )


def page_data(lineage: Lineage) -> dict[str, Any]:
    """What the page's script reads: nodes with positions, edges as index pairs, bands."""
    placed = layout(lineage)
    index = {n.key: i for i, n in enumerate(lineage.nodes)}
    nodes = []
    for n in lineage.nodes:
        d = node_dict(n)
        x, y = placed.positions[n.key]
        d["x"], d["y"] = x, y
        d["ended_at"] = n.last.ended_at if n.last else None  # epoch seconds, for ages
        nodes.append(d)
    return {
        "nodes": nodes,
        "edges": [[index[a], index[b]] for a, b in lineage.edges],
        "bands": [{"group": b.group, "y0": b.y0, "y1": b.y1} for b in placed.bands],
        "size": {
            "width": placed.width,
            "height": placed.height,
            "node_w": NODE_W,
            "node_h": NODE_H,
        },
        "colors": dict(STATUS_COLORS),
        "check_colors": dict(CHECK_COLORS),
        "selected": list(lineage.selected),
        "generated_at": iso(lineage.generated_at),
    }


def _embed(data: dict[str, Any]) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(lineage: Lineage, title: str = "Lineage") -> str:
    """The whole page."""
    from html import escape

    n = len(lineage.nodes)
    heading = f"{title} · {n} asset{'s' if n != 1 else ''}"
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(heading)}</title>\n"
        f"<style>\n{static('page.css')}</style>\n"
        "</head>\n<body>\n"
        '<header id="bar">\n'
        f'  <strong id="title">{escape(heading)}</strong>\n'
        '  <div id="find"><input id="search" type="search" placeholder="Search assets (/)"'
        ' autocomplete="off" spellcheck="false" aria-label="Search assets">'
        '<ul id="results" role="listbox" hidden></ul></div>\n'
        '  <button id="fit" type="button" title="Show everything">Fit</button>\n'
        '  <div id="legend"></div>\n'
        "</header>\n"
        '<main id="main">\n'
        '  <canvas id="canvas" aria-label="Lineage graph"></canvas>\n'
        '  <aside id="panel" hidden><button id="close" type="button" title="Close">&times;</button>'
        '<div id="details"></div></aside>\n'
        "</main>\n"
        f'<script type="application/json" id="lineage-data">{_embed(page_data(lineage))}'
        "</script>\n"
        f"<script>\n{static('page.js')}</script>\n"
        "</body>\n</html>\n"
    )
