"""``lumbung list``: every selected asset with its group, IO manager, kind, status and checks
(how many of its data checks pass, warn, fail or never ran).

``--output name`` is the stable machine form (one key per line, in dependency order, nothing
else) and never computes statuses; ``table`` and ``json`` do, by the one status rule
(``assets_core.planning.status``): what ``materialize`` with the same selection would do.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assets_core.cli.common import (
    AsOfOpt,
    ExcludeOpt,
    SelectOpt,
    columns,
    guard,
    open_session,
    print_json,
    select_keys,
    write_lines,
)
from assets_core.cli.printable import printable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from assets_core.model.keys import AssetKey
    from assets_core.planning.partstatus import PartitionCounts
    from assets_core.planning.status import AssetStatus
    from assets_core.session import Session

#: How each status is coloured in the table.
STATUS_STYLE = {"fresh": "green", "stale": "yellow", "missing": "cyan", "failed": "bold red"}
#: How the checks column is coloured, by its first (worst) verdict.
CHECK_STYLE = {"fail": "bold red", "warn": "yellow", "pass": "green"}


class Output(str, Enum):
    """The forms ``lumbung list`` prints."""

    table = "table"
    name = "name"
    json = "json"


def check_counts(session: Session, keys: list[AssetKey]) -> dict[AssetKey, dict[str, int]]:
    """For each of ``keys`` with data checks: how many are at each verdict (``pass``,
    ``warn``, ``fail``, ``not run``), each check by its newest result."""
    from assets_core.execution.checks import last_results, verdict

    out: dict[AssetKey, dict[str, int]] = {}
    for k, results in last_results(session.defs, session.state, keys).items():
        counts = dict.fromkeys(CHECK_VERDICTS, 0)
        for _, record in results:
            counts[verdict(record)] += 1
        out[k] = counts
    return out


#: the order the checks column lists verdicts in
CHECK_VERDICTS = ("fail", "warn", "pass", "not run")


def checks_cell(counts: dict[str, int] | None) -> str:
    """``4 pass, 1 warn``; ``-`` for an asset without checks."""
    if not counts:
        return "-"
    return ", ".join(f"{n} {v}" for v, n in counts.items() if n)


def asset_row(
    session: Session,
    key: AssetKey,
    status: AssetStatus | None,
    counts: PartitionCounts | None = None,
    checks: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The JSON object ``list --output json`` prints for one asset (a partitioned asset's
    ``partitions``: its partitions' count and their counts by status)."""
    a = session.defs.assets[key]
    info = session.infos[key]
    row: dict[str, Any] = {
        "key": str(key),
        "group": info.group,
        "tags": sorted(info.tags),
        "owners": list(info.owners),
        "io_manager": info.io_manager or None,
        "kind": info.kind,
        "status": status.status if status is not None else None,
        "upstream_stale": str(status.upstream_stale)
        if status is not None and status.upstream_stale is not None
        else None,
        "description": a.spec.description,
        "file": f"{info.path}:{a.line}",
        "checks": checks or {},
    }
    if counts is not None:
        from assets_core.planning.partstatus import PARTITION_STATUSES

        by_status = {s: counts.count(s) for s in PARTITION_STATUSES}
        row["partitions"] = {"total": counts.total, **by_status}
    return row


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
    as_of: AsOfOpt = None,
) -> None:
    """List assets: key, group, io manager, kind and status (fresh/stale/missing/failed; a
    partitioned asset's as "340/366 fresh")."""
    with guard(ctx), open_session(ctx, read_only=True) as session:
        keys = session.graph.toposorted(select_keys(session, select, exclude))
        if output is Output.name:
            if keys:
                typer.echo("\n".join(str(k) for k in keys))
            return
        found = session.statuses(keys, as_of) if keys else {}
        parts = session.partition_counts(keys, as_of) if keys else {}
        checks = check_counts(session, keys)
        if output is Output.json:
            print_json(
                [asset_row(session, k, found.get(k), parts.get(k), checks.get(k)) for k in keys]
            )
            return
        _table(session, keys, found, parts, checks)


def _table(
    session: Session,
    keys: list[AssetKey],
    found: Mapping[AssetKey, AssetStatus],
    parts: Mapping[AssetKey, PartitionCounts],
    checks: Mapping[AssetKey, dict[str, int]],
) -> None:
    if not keys:
        write_lines(["No assets selected."])
        return
    rows = [["key", "group", "io manager", "kind", "status", "checks"]]
    styles = [["bold"] * 6]
    counts: dict[str, int] = {}
    infos = session.infos
    hints: list[str] = []
    for k in keys:
        info = infos[k]
        status = found.get(k)
        part = parts.get(k)
        shown = str(part) if part else str(status) if status is not None else "-"
        cell = checks_cell(checks.get(k))
        rows.append([str(k), info.group, info.io_manager or "-", info.kind, shown, cell])
        name = status.status if status is not None else "source"
        check_style = CHECK_STYLE.get(cell.split(" ", 2)[1] if " " in cell else "", "")
        styles.append(["", "", "", "", STATUS_STYLE.get(name, ""), check_style])
        counts[name] = counts.get(name, 0) + 1
        if status is not None and status.hint is not None:
            hints.append(printable(f"{k}: {status.hint}."))
    order = ("fresh", "stale", "missing", "failed", "source")
    summary = ", ".join(
        f"{counts[s]} {s}{'s' if s == 'source' and counts[s] != 1 else ''}"
        for s in order
        if s in counts
    )
    plural = "s" if len(keys) != 1 else ""
    write_lines([*columns(rows, styles), f"{len(keys)} asset{plural}: {summary}", *hints])
