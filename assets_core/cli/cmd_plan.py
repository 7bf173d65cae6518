"""``lumbung plan``: what ``materialize`` would run with the same selection, and why.

Nothing runs. Every step is printed in dependency order with its status and reasons;
``--explain`` adds, per step, the chain down to its root cause; ``--json`` prints exactly
``Plan.to_dict()``. Warnings (selection and plan) go to stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import (
    ExcludeOpt,
    ForceOpt,
    JsonOpt,
    SelectOpt,
    guard,
    nothing_to_do,
    open_session,
    paint,
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
STEP_STYLE = {"missing": "cyan", "stale": "yellow", "pending": "blue", "forced": "magenta"}


def plan_command(
    ctx: typer.Context,
    select: SelectOpt = None,
    exclude: ExcludeOpt = None,
    force: ForceOpt = False,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show each step's chain down to its root cause."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show what would run and why; nothing runs."""
    with guard(ctx), open_session(ctx, read_only=True) as session:
        plan = plan_selection(session, select, exclude, force=force)
        for message in plan.warnings:
            warn(message)
        if as_json:
            print_json(plan.to_dict())
            return
        render_plan(plan, explain)


def render_plan(plan: Plan, explain: bool = False) -> None:
    """The plan as aligned lines: status, key, reasons (and the root-cause chain)."""
    if not plan.steps:
        write_lines([nothing_to_do(plan)])
        return
    color = use_color()
    n, total = len(plan.steps), len(plan.selected)
    lines = [f"{n} of {total} selected asset{'s' if total != 1 else ''} would run:"]
    width = max(len(str(s.key)) for s in plan.steps)
    for step in plan.steps:
        status = paint(f"{step.status:<8}", STEP_STYLE.get(step.status, ""), color)
        reasons = printable("; ".join(r.message for r in step.reasons))
        lines.append(f"  {status} {step.key!s:<{width}}  {reasons}".rstrip())
        if explain:
            lines.append(f"  {'':<8} why: {printable(plan.explain(step.key))}")
    write_lines(lines)
