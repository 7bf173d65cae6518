"""``lumbung plan``: what ``materialize`` would run with the same selection, and why.

Nothing runs. Every step is printed in dependency order with its status and reasons;
``--explain`` adds, per step, the chain down to its root cause; ``--json`` prints exactly
``Plan.to_dict()``. Warnings (selection and plan) go to stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.app import app
from assets_core.cli.common import (
    ExcludeOpt,
    ForceOpt,
    JsonOpt,
    SelectOpt,
    console,
    guard,
    open_definitions,
    plan_selection,
    print_json,
    warn,
)

if TYPE_CHECKING:
    from assets_core.planner import Plan

#: How each step status is coloured on a terminal.
STEP_STYLE = {"missing": "cyan", "stale": "yellow", "pending": "blue", "forced": "magenta"}


def nothing_to_do(n: int) -> str:
    """The line an empty plan prints."""
    if n == 1:
        return "Nothing to do: 1 selected asset is fresh."
    return f"Nothing to do: {n} selected assets are fresh."


@app.command("plan")
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
    with guard(ctx), open_definitions(ctx) as defs:
        plan = plan_selection(defs, select, exclude, force=force)
        for message in plan.warnings:
            warn(message)
        if as_json:
            print_json(plan.to_dict())
            return
        render_plan(plan, explain)


def render_plan(plan: Plan, explain: bool = False) -> None:
    """The plan as aligned lines: status, key, reasons (and the root-cause chain)."""
    from rich.markup import escape

    out = console()
    if not plan.steps:
        out.print(nothing_to_do(len(plan.selected)))
        return
    n = len(plan.steps)
    plural = "s" if len(plan.selected) != 1 else ""
    out.print(f"{n} of {len(plan.selected)} selected asset{plural} would run:", soft_wrap=True)
    width = max(len(str(s.key)) for s in plan.steps)
    for step in plan.steps:
        style = STEP_STYLE.get(step.status, "")
        reasons = "; ".join(r.message for r in step.reasons)
        status = f"[{style}]{step.status:<8}[/]" if style else f"{step.status:<8}"
        key = escape(str(step.key))
        out.print(f"  {status} {key:<{width}}  {escape(reasons)}", soft_wrap=True)
        if explain:
            out.print(f"  {'':<8} why: {escape(plan.explain(step.key))}", soft_wrap=True)
