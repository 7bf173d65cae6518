"""The ``dot`` format: a Graphviz digraph, left to right, groups as clusters, filled by status.

Node ids are ``n0``, ``n1``, ... (safe whatever the key); the key is the quoted label.
"""

from __future__ import annotations

from assets_core.lineage.model import STATUS_COLORS, Lineage, status_name


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render(lineage: Lineage) -> str:
    """The digraph's text, ending with a newline."""
    ids = {n.key: f"n{i}" for i, n in enumerate(lineage.nodes)}
    lines = [
        "digraph lineage {",
        "  rankdir=LR;",
        '  graph [fontname="Helvetica", fontsize=11];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
        'fontcolor="white", color="#333333"];',
        '  edge [color="#888888", arrowsize=0.7];',
    ]
    for gi, group in enumerate(lineage.groups):
        lines.append(f"  subgraph cluster_{gi} {{")
        lines.append(f'    label={quote(group)}; style="rounded,dashed"; color="#999999";')
        for n in lineage.nodes:
            if n.group != group:
                continue
            status = status_name(n)
            attrs = [
                f"label={quote(n.key)}",
                f'fillcolor="{STATUS_COLORS[status]}"',
                f"tooltip={quote(status)}",
            ]
            if n.selected:
                attrs.append("penwidth=3")
            lines.append(f"    {ids[n.key]} [{', '.join(attrs)}];")
        lines.append("  }")
    lines.extend(f"  {ids[a]} -> {ids[b]};" for a, b in lineage.edges)
    lines.append("}")
    return "\n".join(lines) + "\n"
