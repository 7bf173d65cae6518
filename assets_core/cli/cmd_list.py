"""``lumbung list``: every selected asset with its group, IO manager, kind and status.

``--output name`` is the stable machine form (one key per line, in dependency order, nothing
else) and never computes statuses; ``table`` and ``json`` do.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assets_core.cli.app import app
from assets_core.cli.common import (
    ExcludeOpt,
    SelectOpt,
    Statuses,
    columns,
    guard,
    open_definitions,
    print_json,
    select_keys,
    write_lines,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from assets_core.model.definitions import Definitions
    from assets_core.model.keys import AssetKey

#: How each status is coloured in the table.
STATUS_STYLE = {"fresh": "green", "stale": "yellow", "missing": "cyan", "failed": "bold red"}


class Output(str, Enum):
    """The forms ``lumbung list`` prints."""

    table = "table"
    name = "name"
    json = "json"


def asset_row(defs: Definitions, key: AssetKey, status: str | None) -> dict[str, Any]:
    """The JSON object ``list --output json`` prints for one asset."""
    a = defs.assets[key]
    info = defs.infos[key]
    return {
        "key": str(key),
        "group": info.group,
        "tags": sorted(info.tags),
        "owners": list(info.owners),
        "io_manager": info.io_manager or None,
        "kind": info.kind,
        "status": status,
        "description": a.spec.description,
        "file": f"{info.path}:{a.line}",
    }


@app.command("list")
def list_assets(
    ctx: typer.Context,
    select: SelectOpt = None,
    exclude: ExcludeOpt = None,
    output: Annotated[
        Output,
        typer.Option(
            "--output",
            "-o",
            case_sensitive=False,
            help="table (default), name (one key per line, nothing else) or json.",
        ),
    ] = Output.table,
) -> None:
    """List assets: key, group, io manager, kind and status (fresh/stale/missing/failed)."""
    with guard(ctx), open_definitions(ctx) as defs:
        statuses = Statuses(defs)
        keys = defs.graph.toposorted(select_keys(defs, select, exclude, statuses))
        if output is Output.name:
            if keys:
                typer.echo("\n".join(str(k) for k in keys))
            return
        found = statuses() if keys else {}
        if output is Output.json:
            print_json([asset_row(defs, k, found.get(k)) for k in keys])
            return
        _table(defs, keys, found)


def _table(defs: Definitions, keys: list[AssetKey], found: Mapping[AssetKey, str]) -> None:
    if not keys:
        write_lines(["No assets selected."])
        return
    rows = [["key", "group", "io manager", "kind", "status"]]
    styles = [["bold"] * 5]
    counts: dict[str, int] = {}
    infos = defs.infos
    for k in keys:
        info = infos[k]
        status = found.get(k)
        rows.append([str(k), info.group, info.io_manager or "-", info.kind, status or "-"])
        styles.append(["", "", "", "", STATUS_STYLE.get(status or "", "")])
        name = status or "source"
        counts[name] = counts.get(name, 0) + 1
    order = ("fresh", "stale", "missing", "failed", "source")
    summary = ", ".join(
        f"{counts[s]} {s}{'s' if s == 'source' and counts[s] != 1 else ''}"
        for s in order
        if s in counts
    )
    plural = "s" if len(keys) != 1 else ""
    write_lines([*columns(rows, styles), f"{len(keys)} asset{plural}: {summary}"])
