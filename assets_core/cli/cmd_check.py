"""``lumbung check``: run the data checks of stored outputs, without materializing.

Only the checks whose data or code changed since they last ran are run (``--force``: every
one); the others' last results stand and are shown. One line per check of each selected
step: pass, fail or warn, then what was found. Exit 1 when a blocking check fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import (
    EXIT_FAILED,
    ExcludeOpt,
    JsonOpt,
    PartitionOpt,
    PartitionsOpt,
    SelectOpt,
    guard,
    open_session,
    paint,
    partitions_text,
    print_json,
    use_color,
    write_lines,
)
from assets_core.cli.printable import printable
from assets_core.reports.checks import record_json  # engine imports stay inside it

if TYPE_CHECKING:
    from assets_core.storage.state import CheckRecord

#: how each verdict is coloured on a terminal
VERDICT_STYLE = {"pass": "green", "fail": "red", "warn": "yellow"}


def check(
    ctx: typer.Context,
    select: SelectOpt = None,
    exclude: ExcludeOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run every selected check, changed or not.")
    ] = False,
    as_json: JsonOpt = False,
    partition: PartitionOpt = None,
    partitions: PartitionsOpt = None,
) -> None:
    """Run the data checks of stored outputs whose data or code changed; exit 1 when a
    blocking check fails."""
    with guard(ctx), open_session(ctx) as session:
        run = session.check(
            select, exclude, force, partitions=partitions_text(partition, partitions)
        )
        ran = {(str(s), n) for s, n in run.ran}
        if as_json:
            print_json(
                {
                    "ran": len(run.ran),
                    "unchanged": len(run.results) - len(run.ran),
                    "failed": len(run.failed),
                    "missing": [str(s) for s in run.missing],
                    "checks": [
                        {**record_json(r), "ran": (str(r.step), r.name) in ran} for r in run.results
                    ],
                }
            )
        else:
            write_lines(_lines(run.results, ran, [str(s) for s in run.missing]))
    if run.failed:
        raise typer.Exit(EXIT_FAILED)


def _lines(results: list[CheckRecord], ran: set[tuple[str, str]], missing: list[str]) -> list[str]:
    from assets_core.execution.checks import verdict

    if not results and not missing:
        return ["No selected asset has checks."]
    color = use_color()
    width = max((len(str(r.step)) for r in results), default=0)
    name_width = max((len(r.name) for r in results), default=0)
    lines = []
    for r in results:
        v = verdict(r)
        shown = paint(f"{v:<4}", VERDICT_STYLE[v], color)
        what = r.error or ""
        if (str(r.step), r.name) not in ran:
            what = f"{what} (unchanged)".strip()
        lines.append(
            printable(f"  {shown} {r.step!s:<{width}}  {r.name:<{name_width}}  {what}").rstrip()
        )
    for step in missing:
        lines.append(f"  none {step}  not materialized yet: nothing to check")
    failed = sum(1 for r in results if not r.passed and r.blocking)
    warned = sum(1 for r in results if not r.passed and not r.blocking)
    n_ran = sum(1 for r in results if (str(r.step), r.name) in ran)
    lines.append(
        f"{len(results)} check{'s' if len(results) != 1 else ''}: {n_ran} ran, "
        f"{len(results) - n_ran} unchanged; {failed} failed, {warned} warned."
    )
    return lines
