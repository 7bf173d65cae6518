"""One asset as ``lumbung show --json`` prints it and the web UI's asset page reads it: its
definition, storage, last materialization, and its status now with reasons by the one status
rule (``assets_core.planning.status``), plus the chain down to the root cause."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assets_core.model.keys import step_of
from assets_core.reports.checks import checks_of
from assets_core.reports.records import iso_utc

if TYPE_CHECKING:
    from assets_core.model.keys import AssetKey
    from assets_core.model.kinds import AnyAsset
    from assets_core.planning.partstatus import PartitionCounts
    from assets_core.planning.planner import Plan, PlanStep
    from assets_core.planning.status import AssetStatus
    from assets_core.session import Session
    from assets_core.storage.state import MaterializationRecord, StepState


class Current:
    """An asset's status now, by the one status rule: ``status`` from a plan of the asset
    alone (what ``materialize -s KEY`` would do); ``chain`` from a plan with its ancestors,
    which explains what an ancestor's change means for it. Both ``None`` for a source. When
    every ancestor is fresh in the plan with its ancestors, the asset's step there is its
    step in a plan of it alone, and that plan is not made.

    ``known``: a plan made just now with every ancestor of the asset selected too (the
    status plan of every asset, which a server keeps): the chain is read from it instead of
    planning the ancestors again. Its steps of the asset and its ancestors are those of the
    plan with the ancestors selected, since a step depends on its upstream alone."""

    def __init__(
        self,
        session: Session,
        a: AnyAsset,
        as_of: str | None = None,
        partitions: str | None = None,
        known: Plan | None = None,
    ) -> None:
        self.status: AssetStatus | None = None
        self.chain: PlanStep | None = None
        self.explain: str | None = None
        self.counts: PartitionCounts | None = None
        if a.observed:
            return
        if a.key in session.defs.partitions:  # its worst partition's status, and the counts,
            from assets_core.planning.partstatus import partition_counts  # from one plan

            plan = session.status_plan([a.key], as_of)
            every = partition_counts(plan, a.key)
            self.status = _worst(plan, a.key, every)
            self.counts = every
            if partitions is not None and plan.space is not None:
                chosen = session.chosen_partitions(frozenset([a.key]), partitions, plan.space)
                self.counts = partition_counts(plan, a.key, chosen.get(a.key))
            return
        ups = session.graph.ancestors({a.key})
        full = known
        if full is None or a.key not in full.selected:
            full = session.plan_keys(ups | {a.key})
        self.chain = full.step(a.key)
        if self.chain is not None and self.chain.status != "fresh":
            self.explain = full.explain(a.key)
        if self.chain is not None and not any(s.key in ups for s in (*full.steps, *full.waiting)):
            # Every ancestor is fresh selected, so it reads the same unselected (a selected
            # step only adds conditions to being fresh): the plan of it alone is this one.
            from assets_core.planning.status import status_of

            self.status = status_of(self.chain)
        else:
            self.status = session.statuses([a.key]).get(a.key)


def _worst(plan: Plan, key: AssetKey, counts: PartitionCounts | None) -> AssetStatus:
    """A partitioned asset's status (``status_of_steps``: its worst partition's, the first
    in key order among equals) without a ``PlanStep`` per fresh partition: only its first
    step and those not counted fresh can be the worst."""
    from assets_core.planning.status import status_of_steps

    if counts is None:
        return status_of_steps(plan.steps_of(key), key)
    not_fresh = {p for s, ps in counts.keys.items() if s != "fresh" for p in ps}
    keys = plan.space.keys(plan.partitions[key]) if plan.space is not None else ()
    picked = [p for i, p in enumerate(keys) if i == 0 or p in not_fresh]
    steps = [s for p in picked if (s := plan.step(key, p)) is not None]
    return status_of_steps(steps, key)


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


def latest_state(
    session: Session,
    a: AnyAsset,
    counts: PartitionCounts | None,
    records: list[MaterializationRecord] | None = None,
) -> StepState | None:
    """The asset's state; of a partitioned asset, that of its partition materialized last
    (among those counted): the one whose success ended last among the asset's newest
    records (``records``, newest first, as ``history`` gives them; read when not given),
    else among every partition's state."""
    if counts is None:
        return session.state.latest([a.key]).get(step_of(a.key))
    counted = {p for keys in counts.keys.values() for p in keys}
    if records is None:
        records = session.state.history(a.key, limit=RECORDS_LOOKED_AT)
    found = _from_records(records, counted)
    if found is not None:
        return found
    best: StepState | None = None
    for step, st in session.state.latest([a.key]).items():
        if st.last is None or step[1] not in counted:
            continue
        if best is None or best.last is None or st.last.ended_at > best.last.ended_at:
            best = st
    return best


#: a partitioned asset's newest records searched for its partition materialized last
RECORDS_LOOKED_AT = 50


def _from_records(records: list[MaterializationRecord], counted: set[str]) -> StepState | None:
    """The state of the counted partition whose success ended last among ``records`` (newest
    first), read from them as the state store keeps it: a step's last outcome is that of its
    newest record, its last success its newest success, and every record of that partition
    newer than that success is among ``records`` too. ``None`` when no counted partition
    succeeded among them."""
    from assets_core.storage.state import StepState

    best = None
    for rec in records:
        if (
            rec.outcome == "materialized"
            and rec.step[1] in counted
            and (best is None or rec.ended_at > best.ended_at)
        ):
            best = rec
    if best is None:
        return None
    mine = [r for r in records if r.step == best.step]  # its records, newest first
    last = next(r for r in mine if r.outcome == "materialized")
    newest = mine[0]
    failure = newest if newest.outcome == "failed" else None
    return StepState(last, newest.outcome, newest.ended_at or newest.started_at, failure)
