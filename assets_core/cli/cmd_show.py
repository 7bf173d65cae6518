"""``lumbung show KEY``: everything known about one asset.

Its definition (description, file:line, kind, group, tags, owners, upstream, downstream, IO
manager), its last materialization (location, time, duration, rows, bytes, versions, schema),
and its current status with reasons, from a plan of that asset alone; when an upstream was
never built that plan cannot be made, and the status comes from a plan of the asset with its
ancestors instead (the ``lumbung list`` view).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from assets_core.cli.app import app
from assets_core.cli.common import (
    JsonOpt,
    console,
    first_line,
    guard,
    iso_utc,
    open_definitions,
    print_json,
    seconds,
    size,
    warn,
    when,
)

if TYPE_CHECKING:
    from assets_core.model.definitions import Definitions
    from assets_core.model.spec import AnyAsset
    from assets_core.planning.planner import PlanStep
    from assets_core.storage.state import AssetState, MaterializationRecord


class Current:
    """An asset's status now: ``alone`` from a plan of the asset alone (what
    ``materialize -s KEY`` would do), ``chain`` from a plan with its ancestors (what
    ``lumbung list`` shows); ``alone`` is ``None`` when an ancestor was never built."""

    def __init__(self, defs: Definitions, a: AnyAsset) -> None:
        from assets_core.errors import PlanError
        from assets_core.model.spec import Asset

        self.alone: PlanStep | None = None
        self.chain: PlanStep | None = None
        self.explain: str | None = None
        self.warnings: list[str] = []
        if not isinstance(a, Asset):
            return
        try:
            plan = defs.plan_keys({a.key})
            self.alone = plan.step(a.key)
            self.warnings = list(plan.warnings)
        except PlanError:
            pass
        full = defs.plan_keys(defs.graph.ancestors({a.key}) | {a.key})
        self.chain = full.step(a.key)
        if self.chain is not None and self.chain.status != "fresh":
            self.explain = full.explain(a.key)

    @property
    def step(self) -> PlanStep | None:
        """The status shown: the asset alone, or with its ancestors when that plan failed."""
        return self.alone or self.chain


def describe(
    defs: Definitions, a: AnyAsset, state: AssetState | None, now: Current
) -> dict[str, Any]:
    """The JSON object ``lumbung show --json`` prints, from the asset's latest state and
    its current status (both empty for a source)."""
    key = a.key
    step = now.step
    info = defs.infos[key]
    status: str | None = None
    if step is not None:
        status = "failed" if state and state.last_outcome == "failed" else step.status
    out: dict[str, Any] = {
        "key": str(key),
        "kind": info.kind,
        "description": a.spec.description,
        "file": f"{info.path}:{a.line}",
        "group": info.group,
        "tags": sorted(info.tags),
        "owners": list(info.owners),
        "upstream": [str(k) for k in defs.graph.parents(key)],
        "downstream": [str(k) for k in defs.graph.children(key)],
        "io_manager": info.io_manager or None,
        "location": _location(defs, a, state),
        "last_materialization": _record(state.last) if state and state.last else None,
        "last_outcome": state.last_outcome if state else None,
        "status": status,
        "reasons": [r.to_dict() for r in step.reasons] if step is not None else [],
        "with_upstream": None
        if now.chain is None
        else {"status": now.chain.status, "explain": now.explain},
    }
    if step is None:
        version = defs.observe_sources([key]).get(key)
        out["source"] = {"path": getattr(a, "path", None), "data_version": version}
    if state is not None and state.last_outcome == "failed":
        failure = next((r for r in defs.state.history(key, limit=1) if r.outcome == "failed"), None)
        out["last_error"] = failure.error if failure else None
    return out


def _location(defs: Definitions, a: AnyAsset, state: AssetState | None) -> str | None:
    from assets_core.model.spec import SourceAsset

    if isinstance(a, SourceAsset):
        if a.path is None:
            return None
        return str(defs.root / a.path)
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


@app.command("show")
def show(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The asset's key, e.g. marts/revenue.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one asset: definition, storage, last materialization, and why it is stale."""
    from assets_core.model.spec import Asset

    with guard(ctx), open_definitions(ctx) as defs:
        a = defs.get(key)
        state = defs.state.latest([a.key]).get(a.key) if isinstance(a, Asset) else None
        now = Current(defs, a)
        for message in now.warnings:
            warn(message)
        data = describe(defs, a, state, now)
        if as_json:
            print_json(data)
            return
        _render(data, state)


def _render(data: dict[str, Any], state: AssetState | None) -> None:
    from rich.markup import escape

    from assets_core.planning.planner import short

    out = console()

    def line(label: str, value: object) -> None:
        text = "-" if value is None or value == "" or value == [] else str(value)
        out.print(f"  {label + ':':<16}{escape(text)}", soft_wrap=True)

    out.print(f"[bold]{escape(data['key'])}[/]  ({data['kind']})", soft_wrap=True)
    if data["description"]:
        for text in str(data["description"]).strip().splitlines():
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
    status = data["status"]
    reasons = [r["message"] for r in data["reasons"]]
    line("status", status + (f" ({'; '.join(reasons)})" if reasons else ""))
    chain = data["with_upstream"]
    if chain and chain["explain"]:
        if chain["status"] != data["status"] and data["status"] != "failed":
            line("with upstream", f"{chain['status']}: {chain['explain']}")
        elif " ← " in chain["explain"]:
            line("why", chain["explain"])
    if data.get("last_error"):
        line("last error", first_line(data["last_error"]))
    rec = state.last if state is not None else None
    if rec is None:
        line("last run", "never materialized")
        return
    out.print("  last materialization:")
    line("  run", rec.run_id)
    line("  at", when(rec.ended_at))
    line("  duration", seconds(rec.duration))
    line("  rows", rec.rows)
    line("  bytes", size(rec.bytes))
    line("  data", short(rec.data_version))
    line("  code", short(rec.code_version))
    if rec.schema:
        out.print("  columns:")
        width = max(len(n) for n, _ in rec.schema)
        for name, typ in rec.schema:
            out.print(f"    {escape(name):<{width}}  {escape(typ)}", soft_wrap=True)
