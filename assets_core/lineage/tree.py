"""The ``tree`` format: rich trees upstream and downstream of each selected asset.

Each line shows a key coloured by status, its IO manager, its status and the age of its last
materialization (``3m ago``); a partitioned asset's line gives its partitions' counts instead
(``31/45 fresh``). A key reached twice in one tree is expanded once; later
mentions end with ``(see above)``. With no selection, the trees grow downstream from every
root of the shown graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from assets_core.lineage.model import Lineage, LineageNode, age, status_name

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.tree import Tree

#: rich styles per status.
STYLES: Mapping[str, str] = {
    "fresh": "green",
    "stale": "yellow",
    "missing": "cyan",
    "failed": "bold red",
    "source": "bright_black",
}


def label(node: LineageNode, now: float | None = None) -> str:
    """One node as rich markup: key (coloured by status), then io manager, status, age (a
    partitioned asset: io manager and its partitions' counts, ``31/45 fresh``)."""
    from rich.markup import escape

    status = status_name(node)
    style = STYLES[status]
    parts = [node.kind]
    if node.partitions is not None:  # each partition has its own age
        parts = [node.io_manager or node.kind, str(node.partitions)]
    elif node.status is not None:
        parts = [
            node.io_manager or node.kind,
            status,
            age(node.last.ended_at if node.last else None, now),
        ]
    key = (
        f"[bold {style}]{escape(node.key)}[/]"
        if node.selected
        else f"[{style}]{escape(node.key)}[/]"
    )
    return f"{key}  [dim]{escape(' · '.join(parts))}[/]"


def _grow(
    tree: Tree,
    key: str,
    step: Mapping[str, tuple[str, ...]],
    lineage: Lineage,
    depth: int | None,
    seen: set[str],
    now: float | None,
) -> None:
    if depth is not None and depth <= 0:
        return
    for nxt in step[key]:
        node = lineage.by_key[nxt]
        if nxt in seen:
            tree.add(label(node, now) + "  [dim](see above)[/]")
            continue
        seen.add(nxt)
        branch = tree.add(label(node, now))
        _grow(branch, nxt, step, lineage, None if depth is None else depth - 1, seen, now)


def render(lineage: Lineage, now: float | None = None) -> list[RenderableType]:
    """The trees to print, one per selected asset (or per root when nothing is selected)."""
    from rich.tree import Tree

    if not lineage.nodes:
        return ["No assets selected."]
    out: list[RenderableType] = []
    if not lineage.selected:
        seen: set[str] = set()
        for node in lineage.nodes:
            if lineage.parents[node.key]:
                continue
            seen.add(node.key)
            tree = Tree(label(node, now))
            _grow(tree, node.key, lineage.children, lineage, None, seen, now)
            out.append(tree)
        return out
    for key in lineage.selected:
        node = lineage.by_key[key]
        tree = Tree(label(node, now))
        up, down = lineage.upstream, lineage.downstream
        if lineage.parents[key] and up != 0:
            branch = tree.add("[dim]upstream[/]")
            _grow(branch, key, lineage.parents, lineage, up, {key}, now)
        if lineage.children[key] and down != 0:
            branch = tree.add("[dim]downstream[/]")
            _grow(branch, key, lineage.children, lineage, down, {key}, now)
        out.append(tree)
    return out


def column_lines(found: Lineage) -> list[str]:
    """``--columns``: each selected SQL asset (every shown one when nothing is selected) as
    its key, then a line per output column, ``name <- asset.column, ...`` (``(no input
    column)`` for a literal or ``count(*)``), then a note on what could not be traced.
    Assets of other kinds are named with why they have none. Plain text, no markup."""
    from assets_core.lineage.columns import Columns
    from assets_core.lineage.jsonfmt import columns_note

    keys = found.selected or tuple(n.key for n in found.nodes)
    out: list[str] = []
    for key in keys:
        node = found.by_key[key]
        if node.columns is None:
            out.append(f"{key}: a {node.kind} asset; column lineage covers SQL assets only")
            continue
        out.append(key)
        if isinstance(node.columns, Columns):
            width = max((len(c.column) for c in node.columns.columns), default=0)
            for c in node.columns.columns:
                sources = ", ".join(f"{a}.{col}" for a, col in c.sources) or "(no input column)"
                out.append(f"  {c.column:<{width}}  <- {sources}")
        note = columns_note(node.columns)
        if note is not None:
            out.append(f"  ({note})")
    return out
