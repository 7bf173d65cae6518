"""One asset as ``lumbung show --json`` prints it and the web UI's asset page reads it: its
definition, storage, last materialization, and its status now with reasons by the one status
rule (``assets_core.planning.status``), plus the chain down to the root cause."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assets_core.model.keys import step_of
from assets_core.reports.checks import checks_of
from assets_core.reports.records import iso_utc

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
        if a.key in session.defs.partitions:  # its worst partition's status, and the counts,
            from assets_core.planning.partstatus import partition_counts  # from one plan
            from assets_core.planning.status import status_of_steps

            plan = session.status_plan([a.key], as_of)
            self.status = status_of_steps(plan.steps_of(a.key), a.key)
            only = None
            if partitions is not None and plan.space is not None:
                chosen = session.chosen_partitions(frozenset([a.key]), partitions, plan.space)
                only = chosen.get(a.key)
            self.counts = partition_counts(plan, a.key, only)
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
    out["checks"] = checks_of(session, a)
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


def latest_state(session: Session, a: AnyAsset, counts: PartitionCounts | None) -> StepState | None:
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
