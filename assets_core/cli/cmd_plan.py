"""``lumbung plan``: what ``materialize`` would run with the same selection, and why.

Nothing runs. Every step is printed in dependency order with its status and reasons; the
steps of a partitioned asset are grouped into runs of consecutive partitions with the same
status and reasons (``planning/groups.py``), and steps waiting for upstream partitions that do
not exist yet follow. ``--explain`` adds, per line, the chain down to its root cause (of its
first step); ``--why STEP`` prints one step's chain (``rolling_7d[2024-03-10]``); ``--json``
prints exactly ``Plan.to_dict()``, every step with its partition. Warnings (selection and
plan) go to stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import (
    AsOfOpt,
    ExcludeOpt,
    ForceOpt,
    JsonOpt,
    PartitionOpt,
    PartitionsOpt,
    SelectOpt,
    guard,
    nothing_to_do,
    open_session,
    paint,
    partitions_text,
    plan_selection,
    print_json,
    use_color,
    warn,
    write_lines,
)
from assets_core.cli.printable import printable

if TYPE_CHECKING:
    from assets_core.planning.planner import Plan

#: How each step status is coloured on a terminal.
STEP_STYLE = {
    "missing": "cyan",
    "stale": "yellow",
    "pending": "blue",
    "forced": "magenta",
    "waiting": "red",
}


def plan_command(
    ctx: typer.Context,
    select: SelectOpt = None,
    exclude: ExcludeOpt = None,
    force: ForceOpt = False,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show each step's chain down to its root cause."),
    ] = False,
    why: Annotated[
        str | None,
        typer.Option(
            "--why",
            metavar="STEP",
            help="Print one step's chain down to its root cause: ASSET or ASSET[PARTITION].",
        ),
    ] = None,
    as_json: JsonOpt = False,
    partition: PartitionOpt = None,
    partitions: PartitionsOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Show what would run and why; nothing runs."""
    with guard(ctx), open_session(ctx, read_only=True) as session:
        plan = plan_selection(
            session,
            select,
            exclude,
            force=force,
            partitions=partitions_text(partition, partitions),
            as_of=as_of,
        )
        for message in plan.warnings:
            warn(message)
        if why is not None:
            from assets_core.errors import PlanError
            from assets_core.model.keys import StepKey

            step = StepKey.parse(why)
            key = session.defs.resolve(step.asset)
            if plan.step(key, step.partition) is None:
                raise PlanError(
                    f"--why {why!r}: the plan has no step {StepKey(key, step.partition)}; name "
                    "a selected asset (and one of its existing partitions)."
                )
            write_lines([printable(plan.explain(key, step.partition))])
            return
        if as_json:
            print_json(plan.to_dict())
            return
        render_plan(plan, explain)


def render_plan(plan: Plan, explain: bool = False) -> None:
    """The plan as aligned lines: status, key, then the partitions of a run of steps and
    their reasons (and each line's root-cause chain); waiting steps after the rest."""
    if not plan.steps and not plan.waiting:
        write_lines([nothing_to_do(plan)])
        return
    from assets_core.planning.groups import group_steps

    color = use_color()
    groups = group_steps(plan, plan.steps) + group_steps(plan, plan.waiting)
    n, total = len(plan.steps), len(plan.selected)
    if not plan.steps:
        lines = [nothing_to_do(plan)]
    elif any(s.partition is not None for s in plan.steps):
        lines = [
            f"{n} step{'s' if n != 1 else ''} of {total} selected asset"
            f"{'s' if total != 1 else ''} would run:"
        ]
    else:
        lines = [f"{n} of {total} selected asset{'s' if total != 1 else ''} would run:"]
    width = max(len(str(g.key)) for g in groups)
    for g in groups:
        status = paint(f"{g.status:<8}", STEP_STYLE.get(g.status, ""), color)
        what = g.reasons if g.run is None else f"{g.run}: {g.reasons}"
        lines.append(f"  {status} {g.key!s:<{width}}  {printable(what)}".rstrip())
        if explain:
            chain = plan.explain(g.key, g.first.partition)
            lines.append(f"  {'':<8} why: {printable(chain)}")
    write_lines(lines)
