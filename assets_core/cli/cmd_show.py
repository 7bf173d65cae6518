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
    iso_utc,
    open_session,
    partitions_text,
    print_json,
    seconds,
    size,
    when,
)
from assets_core.cli.printable import printable, printable_lines
from assets_core.model.keys import step_of

if TYPE_CHECKING:
    from assets_core.model.kinds import AnyAsset
    from assets_core.planning.partstatus import PartitionCounts
    from assets_core.planning.planner import PlanStep
    from assets_core.planning.status import AssetStatus
    from assets_core.session import Session
    from assets_core.storage.state import MaterializationRecord, StepState


class Current:
    """An asset's status now, by the one status rule: ``status`` from a plan of the asset
    alone (what ``materialize -s KEY`` would do); ``chain`` from a plan with its ancestors,
    which explains what an ancestor's change means for it. Both ``None`` for a source."""

    def __init__(
        self,
        session: Session,
        a: AnyAsset,
        as_of: str | None = None,
        partitions: str | None = None,
    ) -> None:
        self.status: AssetStatus | None = None
        self.chain: PlanStep | None = None
        self.explain: str | None = None
        self.counts: PartitionCounts | None = None
        if a.observed:
            return
        if a.key in session.defs.partitions:  # its worst partition's status, and the counts
            self.status = session.statuses([a.key], as_of).get(a.key)
            self.counts = session.partition_counts([a.key], as_of, partitions).get(a.key)
            return
        self.status = session.statuses([a.key]).get(a.key)
        full = session.plan_keys(session.graph.ancestors({a.key}) | {a.key})
        self.chain = full.step(a.key)
        if self.chain is not None and self.chain.status != "fresh":
            self.explain = full.explain(a.key)


def describe(
    session: Session, a: AnyAsset, state: StepState | None, now: Current
) -> dict[str, Any]:
    """The JSON object ``lumbung show --json`` prints, from the asset's latest state and
    its current status (both empty for a source)."""
    key = a.key
    current = now.status
    step = current.step if current is not None else None
    info = session.infos[key]
    out: dict[str, Any] = {
        "key": str(key),
        "kind": info.kind,
        "description": a.spec.description,
        "file": f"{info.path}:{a.line}",
        "group": info.group,
        "tags": sorted(info.tags),
        "owners": list(info.owners),
        "upstream": [str(k) for k in session.graph.parents(key)],
        "downstream": [str(k) for k in session.graph.children(key)],
        "io_manager": info.io_manager or None,
        "location": _location(session, a, state),
        "last_materialization": _record(state.last) if state and state.last else None,
        "last_outcome": state.last_outcome if state else None,
        "status": current.status if current is not None else None,
        "upstream_stale": None
        if current is None or current.upstream_stale is None
        else str(current.upstream_stale),
        "hint": current.hint if current is not None else None,
        "reasons": [r.to_dict() for r in step.reasons] if step is not None else [],
        "with_upstream": None
        if now.chain is None
        else {"status": now.chain.status, "explain": now.explain},
    }
    out["checks"] = _checks(session, a)
    if now.counts is not None:
        out["partitions"] = now.counts.to_dict()
        out["partition"] = state.last.step[1] if state and state.last else None
    source = session.defs.sources.get(key)
    if source is not None:
        version = session.observe_sources([key]).get(step_of(key))
        out["source"] = {"path": source.path, "data_version": version}
    if state is not None and state.last_outcome == "failed":
        failure = state.failure
        out["last_error"] = failure.error if failure else None
    return out


def _checks(session: Session, a: AnyAsset) -> list[dict[str, Any]]:
    """Each data check of the asset with its last result (of a partitioned asset: the newest
    among its partitions), ``result`` ``None`` when it never ran."""
    from assets_core.cli.cmd_check import record_json
    from assets_core.execution.checks import last_results

    out = []
    for c, record in last_results(session.defs, session.state, [a.key]).get(a.key, []):
        if record is None:
            out.append({"check": c.name, "severity": c.severity, "result": None})
        else:
            found = record_json(record)
            del found["asset"]
            out.append(found)
    return out


def _location(session: Session, a: AnyAsset, state: StepState | None) -> str | None:
    source = session.defs.sources.get(a.key)
    if source is not None:
        return None if source.path is None else str(session.root / source.path)
    if state is not None and state.last is not None:
        return state.last.location
    return None


def _record(rec: MaterializationRecord) -> dict[str, Any]:
    return {
        "run_id": rec.run_id,
        "started_at": iso_utc(rec.started_at),
        "ended_at": iso_utc(rec.ended_at),
        "duration": round(rec.duration, 6),
        "rows": rec.rows,
        "bytes": rec.bytes,
        "data_version": rec.data_version,
        "code_version": rec.code_version,
        "schema": [{"name": n, "type": t} for n, t in rec.schema],
    }


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
        state = None if a.observed else _latest(session, a, now.counts)
        data = describe(session, a, state, now)
        if as_json:
            print_json(data)
            return
        _render(data, state)


def _latest(session: Session, a: AnyAsset, counts: PartitionCounts | None) -> StepState | None:
    """The asset's state; of a partitioned asset, that of its partition materialized last
    (among those counted)."""
    found = session.state.latest([a.key])
    if counts is None:
        return found.get(step_of(a.key))
    counted = {p for keys in counts.keys.values() for p in keys}
    best: StepState | None = None
    for step, st in found.items():
        if st.last is None or step[1] not in counted:
            continue
        if best is None or best.last is None or st.last.ended_at > best.last.ended_at:
            best = st
    return best


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
