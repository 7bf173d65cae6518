"""``lumbung show KEY``: everything known about one asset.

Its definition (description, file:line, kind, group, tags, owners, upstream, downstream, IO
manager), its last materialization (location, time, duration, rows, bytes, versions, schema),
and its current status with reasons by the one status rule (``assets_core.planning.status``):
what ``materialize -s KEY`` would do. A plan with its ancestors adds why an ancestor's change
matters to it. A partitioned asset shows its partitions' counts by status ("340/366 fresh";
``--partition``/``--partitions`` count only those) and the latest materialization among them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from assets_core.cli.common import (
    AsOfOpt,
    JsonOpt,
    PartitionOpt,
    PartitionsOpt,
    console,
    first_line,
    guard,
    open_session,
    partitions_text,
    print_json,
    seconds,
    size,
    when,
)
from assets_core.cli.printable import printable, printable_lines
from assets_core.reports.asset import Current, describe, latest_state

if TYPE_CHECKING:
    from assets_core.storage.state import StepState


def show(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The asset's key, e.g. marts/revenue.")],
    as_json: JsonOpt = False,
    partition: PartitionOpt = None,
    partitions: PartitionsOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Show one asset: definition, storage, last materialization, and why it is stale (a
    partitioned asset: its partitions' counts by status)."""
    with guard(ctx), open_session(ctx, read_only=True) as session:
        a = session.get(key)
        text = partitions_text(partition, partitions)
        now = Current(session, a, as_of, text)
        state = None if a.observed else latest_state(session, a, now.counts)
        data = describe(session, a, state, now)
        if as_json:
            print_json(data)
            return
        _render(data, state)


def _render(data: dict[str, Any], state: StepState | None) -> None:
    from rich.markup import escape

    from assets_core.planning.planner import short

    out = console()

    def line(label: str, value: object) -> None:
        text = "-" if value is None or value == "" or value == [] else printable(value)
        out.print(f"  {label + ':':<16}{escape(text)}", soft_wrap=True)

    out.print(f"[bold]{escape(data['key'])}[/]  ({data['kind']})", soft_wrap=True)
    if data["description"]:
        for text in printable_lines(str(data["description"]).strip()):
            out.print(f"  {escape(text.strip())}", soft_wrap=True)
    line("defined in", data["file"])
    line("group", data["group"])
    line("tags", ", ".join(data["tags"]))
    line("owners", ", ".join(data["owners"]))
    line("upstream", ", ".join(data["upstream"]))
    line("downstream", ", ".join(data["downstream"]))
    if "source" in data:
        line("path", data["location"])
        line("version", short(data["source"]["data_version"]))
        return
    line("io manager", data["io_manager"])
    line("location", data["location"])
    parts = data.get("partitions")
    if parts is not None:
        counts = parts["counts"]
        fresh = f"{counts['fresh']}/{parts['partitions']} fresh"
        rest = ", ".join(f"{n} {s}" for s, n in counts.items() if n and s != "fresh")
        line("partitions", fresh + (f"; {rest}" if rest else ""))
        line("status", data["status"])
    else:
        status = data["status"] + (" (upstream stale)" if data["upstream_stale"] else "")
        reasons = [r["message"] for r in data["reasons"]]
        line("status", status + (f" ({'; '.join(reasons)})" if reasons else ""))
    if data["hint"]:
        line("hint", data["hint"])
    chain = data["with_upstream"]
    if chain and chain["explain"]:
        if chain["status"] != data["status"] and data["status"] != "failed":
            line("with upstream", f"{chain['status']}: {chain['explain']}")
        elif " ← " in chain["explain"]:
            line("why", chain["explain"])
    if data.get("last_error"):
        line("last error", first_line(data["last_error"]))
    if data["checks"]:
        out.print("  checks:")
        width = max(len(c["check"]) for c in data["checks"])
        for c in data["checks"]:
            verdict = c["result"] or "never run"
            where = f" [{c['partition']}]" if c.get("partition") else ""
            said = f"  {c['message']}" if c.get("message") else ""
            text = printable(f"{c['check']:<{width}}  {verdict}{where}{said}")
            out.print(f"    {escape(text)}", soft_wrap=True)
    rec = state.last if state is not None else None
    if rec is None:
        line("last run", "never materialized")
        return
    of = f" ({data['partition']})" if data.get("partition") else ""
    out.print(f"  last materialization{of}:")
    line("  run", rec.run_id)
    line("  at", when(rec.ended_at))
    line("  duration", seconds(rec.duration))
    line("  rows", rec.rows)
    line("  bytes", size(rec.bytes))
    line("  data", short(rec.data_version))
    line("  code", short(rec.code_version))
    if rec.schema:
        out.print("  columns:")
        schema = [(printable(n), printable(t)) for n, t in rec.schema]
        width = max(len(n) for n, _ in schema)
        for name, typ in schema:
            out.print(f"    {escape(name.ljust(width))}  {escape(typ)}", soft_wrap=True)
