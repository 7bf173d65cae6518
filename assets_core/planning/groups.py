"""Plan steps as people read them: the steps of one asset with the same status and reasons,
grouped into runs of consecutive partition keys (DESIGN §12):

    missing  clean_events  2024-01-01..2024-03-31 (91 partitions): never materialized

A reason is shown as its message, except that ``waits on`` names the upstream asset alone (a
day waits on its own day upstream; the days of a run would otherwise never share a reason).
``--explain`` and ``plan --json`` keep every step and its own reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assets_core.model.keys import AssetKey
from assets_core.partitions.ranges import Run, runs
from assets_core.planning.planner import Plan, PlanStep, Reason

__all__ = ["StepGroup", "group_steps", "reasons_text"]


@dataclass(frozen=True, slots=True)
class StepGroup:
    """Steps of one asset with one status and one reasons text: the asset's one step
    (``run`` is ``None``), or a run of consecutive partitions."""

    key: AssetKey
    status: str
    reasons: str
    run: Run | None
    first: PlanStep

    def __str__(self) -> str:
        if self.run is None:
            return f"{self.status}  {self.key}  {self.reasons}".rstrip()
        return f"{self.status}  {self.key}  {self.run}: {self.reasons}"


def _shown(reason: Reason) -> str:
    if reason.code == "waits_on" and reason.upstream is not None:
        return f"waits on {reason.upstream}"
    return reason.message


def reasons_text(step: PlanStep) -> str:
    """A step's reasons as one line, the way groups share them."""
    return "; ".join(dict.fromkeys(_shown(r) for r in step.reasons))


def group_steps(plan: Plan, steps: Sequence[PlanStep]) -> list[StepGroup]:
    """``steps`` (in plan order) grouped: each asset's steps once, where it first appears;
    within it, runs of consecutive keys with the same status and reasons, in key order."""
    order: dict[AssetKey, list[PlanStep]] = {}
    for s in steps:
        order.setdefault(s.key, []).append(s)
    out: list[StepGroup] = []
    for key, mine in order.items():
        definition = plan.partitions.get(key)
        if definition is None or plan.space is None:
            out += [StepGroup(key, s.status, reasons_text(s), None, s) for s in mine]
            continue
        space = plan.space
        positions = space.positions(definition)
        classes: dict[tuple[str, str], list[PlanStep]] = {}
        for s in mine:
            classes.setdefault((s.status, reasons_text(s)), []).append(s)
        found: list[tuple[int, StepGroup]] = []
        for (status, text), members in classes.items():
            by_key = {s.partition: s for s in members}
            for run in runs(definition, [p for p in by_key if p is not None], space):
                first = by_key[run.first]
                found.append(
                    (
                        positions.get(run.first, len(positions)),
                        StepGroup(key, status, text, run, first),
                    )
                )
        found.sort(key=lambda pair: pair[0])
        out += [g for _, g in found]
    return out
