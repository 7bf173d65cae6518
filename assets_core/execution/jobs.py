"""What each call of a run covers where partitions are involved (``step.Job``).

A partitioned step reads the upstream partitions its plan step maps it to (``Plan.upstream``),
and so does an unpartitioned step reading a partitioned asset: the planned keys exactly, never
"whatever is stored". An asset with ``backfill="single_run"`` runs each contiguous range of its
runnable partitions as one call: the range's first step leads it, and the scheduler decides,
runs and records its steps together (``Scheduler``), each partition still its own step.
"""

from __future__ import annotations

from collections.abc import Sequence

from assets_core.execution.step import Job
from assets_core.model.definitions import Definitions
from assets_core.model.keys import AssetKey, StepKey
from assets_core.planning.planner import Plan

__all__ = ["plan_jobs"]


def plan_jobs(
    plan: Plan, defs: Definitions
) -> tuple[dict[StepKey, Job], dict[StepKey, tuple[StepKey, ...]]]:
    """Each call's ``Job`` by the step that runs it, and each ``single_run`` call's steps by
    its first step (calls of one step are not listed). Empty for a plan without partitions."""
    jobs: dict[StepKey, Job] = {}
    calls: dict[StepKey, tuple[StepKey, ...]] = {}
    if not plan.partitions:
        return jobs, calls
    upstream = plan.upstream
    ranged: dict[AssetKey, list[StepKey]] = {}
    for s in plan.steps:
        step = s.step
        ups = upstream.get(step, ())
        if step[1] is not None and defs.assets[step[0]].spec.backfill == "single_run":
            ranged.setdefault(step[0], []).append(step)
        elif step[1] is not None:
            jobs[step] = Job((step[1],), ups)
        elif any(u[1] is not None for u in ups):
            jobs[step] = Job((), ups)
    for key, steps in ranged.items():
        for run in _contiguous(plan, key, steps):
            reads = tuple(dict.fromkeys(u for s in run for u in upstream.get(s, ())))
            jobs[run[0]] = Job(tuple(s[1] for s in run), reads)  # type: ignore[misc]
            if len(run) > 1:
                calls[run[0]] = tuple(run)
    return jobs, calls


def _contiguous(plan: Plan, key: AssetKey, steps: Sequence[StepKey]) -> list[list[StepKey]]:
    """``steps`` of ``key`` in runs of consecutive existing partitions, in key order."""
    definition, space = plan.partitions[key], plan.space
    assert space is not None
    places = space.positions(definition)
    ordered = sorted(steps, key=lambda s: places.get(s[1], -1))  # type: ignore[arg-type]
    out: list[list[StepKey]] = []
    last = -2
    for s in ordered:
        at = places.get(s[1], -1)  # type: ignore[arg-type]
        if out and at == last + 1:
            out[-1].append(s)
        else:
            out.append([s])
        last = at
    return out
