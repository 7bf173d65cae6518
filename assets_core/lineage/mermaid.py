"""The ``mermaid`` format: a left-to-right flowchart, groups as subgraphs, status as classes.

Node ids are ``n0``, ``n1``, ... (safe whatever the key); the key is the quoted label, with
``"``, ``<`` and ``>`` written as Mermaid entities.
"""

from __future__ import annotations

from assets_core.lineage.model import STATUS_COLORS, Lineage, status_name


def quote(text: str) -> str:
    """``text`` as a quoted Mermaid label."""
    safe = text.replace("#", "#35;").replace('"', "#quot;")
    return '"' + safe.replace("<", "#lt;").replace(">", "#gt;") + '"'


def render(lineage: Lineage) -> str:
    """The flowchart's text, ending with a newline."""
    ids = {n.key: f"n{i}" for i, n in enumerate(lineage.nodes)}
    lines = ["flowchart LR"]
    for status, color in STATUS_COLORS.items():
        lines.append(f"  classDef {status} fill:{color},stroke:#333,color:#fff")
    lines.append("  classDef selected stroke:#000,stroke-width:3px")
    for gi, group in enumerate(lineage.groups):
        lines.append(f"  subgraph g{gi}[{quote(group)}]")
        lines.append("    direction LR")
        lines.extend(f"    {ids[n.key]}[{quote(n.key)}]" for n in lineage.nodes if n.group == group)
        lines.append("  end")
    lines.extend(f"  {ids[a]} --> {ids[b]}" for a, b in lineage.edges)
    by_status: dict[str, list[str]] = {}
    for n in lineage.nodes:
        by_status.setdefault(status_name(n), []).append(ids[n.key])
    for status in STATUS_COLORS:
        if status in by_status:
            lines.append(f"  class {','.join(by_status[status])} {status}")
    chosen = [ids[k] for k in lineage.selected]
    if chosen:
        lines.append(f"  class {','.join(chosen)} selected")
    return "\n".join(lines) + "\n"
