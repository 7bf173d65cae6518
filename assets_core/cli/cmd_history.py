"""``lumbung history [KEY]``: materializations (of one asset, or all), newest first, under the
run each belongs to; failures show their error's first line (``--json``: the whole error)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import (
    JsonOpt,
    first_line,
    guard,
    open_session,
    paint,
    print_json,
    seconds,
    use_color,
    when,
    write_lines,
)
from assets_core.cli.printable import printable
from assets_core.reports.records import record_dict, run_dict

if TYPE_CHECKING:
    from assets_core.storage.state import MaterializationRecord, RunRecord
    from assets_core.storage.ticks import TickRecord

#: Runs looked up to describe the runs of the records shown (a run not among them is shown
#: by its id alone).
RUNS_LOOKED_UP = 1000
#: The largest ``--limit`` (the state store counts in 64-bit integers; no store holds more).
MAX_LIMIT = 1_000_000_000
OUTCOME_STYLE = {"materialized": "green", "up_to_date": "dim", "failed": "red", "skipped": "yellow"}


def history(
    ctx: typer.Context,
    key: Annotated[
        str | None, typer.Argument(metavar="KEY", help="Only this asset's records.")
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            min=1,
            max=MAX_LIMIT,
            metavar="N",
            help="How many runs to show (each with all its records).",
        ),
    ] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Show past materializations, newest first, with the runs they belong to."""
    with guard(ctx), open_session(ctx, read_only=True) as session:
        asset_key = None
        if key is not None:
            from assets_core.errors import AmbiguousAssetError, UnknownAssetError
            from assets_core.model.keys import AssetKey

            try:
                asset_key = session.defs.resolve(key)  # a bare name, as everywhere
            except AmbiguousAssetError:
                raise
            except UnknownAssetError:
                asset_key = AssetKey.parse(key)  # a removed asset keeps its history
                if not session.state.history(asset_key, limit=1):
                    raise
        records = session.state.history(asset_key, limit=limit, by_run=True)
        wanted = dict.fromkeys(r.run_id for r in records)
        known = {r.run_id: r for r in session.state.runs(limit=RUNS_LOOKED_UP)} if wanted else {}
        runs = [known[r] for r in wanted if r in known]
        from assets_core.automation.runs import started_by

        ticks = started_by(session, wanted)
        if as_json:
            print_json(
                {
                    "runs": [run_dict(r, ticks.get(r.run_id)) for r in runs],
                    "materializations": [record_dict(r) for r in records],
                }
            )
            return
        _render(records, known, key, ticks)


def _render(
    records: list[MaterializationRecord],
    runs: dict[str, RunRecord],
    key: str | None,
    ticks: dict[str, TickRecord],
) -> None:
    from assets_core.automation.runs import tick_text

    if not records:
        write_lines([f"No materializations of {key} yet." if key else "No runs yet."])
        return
    color = use_color()
    width = max(len(str(r.key)) for r in records)
    lines = []
    current = None
    for rec in records:
        if rec.run_id != current:
            current = rec.run_id
            run = runs.get(rec.run_id)
            head = f"run {rec.run_id}"
            if run is not None:
                took = seconds(run.ended_at - run.started_at) if run.ended_at else "-"
                head += f"  {run.status}  {when(run.started_at)}  {took}"
                if run.selection:
                    head += f"  -s {run.selection}"
            tick = ticks.get(rec.run_id)
            if tick is not None:
                head += f"  ({tick_text(tick)})"
            lines.append(paint(printable(head), "bold", color))
        parts = [paint(f"{rec.outcome:<12}", OUTCOME_STYLE.get(rec.outcome, ""), color)]
        parts.append(f"{rec.key!s:<{width}}")
        if rec.outcome == "materialized":
            rows = "-" if rec.rows is None else f"{rec.rows} rows"
            parts += [f"{seconds(rec.duration):>7}", rows]
        elif rec.error:
            parts.append(first_line(rec.error))
        lines.append(("  " + "  ".join(parts)).rstrip())
    write_lines(lines)
