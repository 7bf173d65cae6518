"""``lumbung logs RUN_ID [ASSET]``: what a run's steps logged (``context.log`` and any other
logger), printed and warned, as the run kept it (``assets_core.execution.capture``). Each
line is prefixed with its asset, as ``materialize`` shows lines live; a step's lines come in
the order it said them, steps in key order.

``RUN_ID`` is a run's id (``lumbung history`` lists them), the start of one that no other
run's id shares, or ``last`` for the newest run. Exit 2 for a run id that names no run or
several, and for an unknown asset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import (
    EXIT_USAGE,
    JsonOpt,
    fail,
    guard,
    open_session,
    print_json,
    state_of,
    write_lines,
)
from assets_core.cli.printable import printable
from assets_core.reports.records import line_dict

if TYPE_CHECKING:
    from assets_core.model.keys import AssetKey
    from assets_core.session import Session
    from assets_core.storage.state import RunRecord

#: what names the newest run
LAST = "last"
#: runs listed in the error for a run id that several runs' ids start with
SHOWN_RUNS = 5


def logs(
    ctx: typer.Context,
    run_id: Annotated[
        str,
        typer.Argument(
            metavar="RUN_ID", help="A run's id, or its start, or `last` for the newest run."
        ),
    ],
    asset: Annotated[
        str | None, typer.Argument(metavar="ASSET", help="Only this asset's lines.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what a run's assets logged, printed and warned."""
    debug = state_of(ctx).debug
    with guard(ctx), open_session(ctx) as session:
        run = find_run(session, run_id, debug)
        key = None if asset is None else _asset_key(session, asset, run.run_id)
        lines = session.state.logs(run.run_id, key)
        from assets_core.automation.runs import started_by, tick_text
        from assets_core.reports.records import tick_dict

        tick = started_by(session, [run.run_id]).get(run.run_id)
        if as_json:
            print_json(
                {
                    "run_id": run.run_id,
                    "tick": None if tick is None else tick_dict(tick),
                    "lines": [line_dict(x) for x in lines],
                }
            )
            return
        if tick is not None:
            write_lines([f"run {run.run_id} was started by {tick_text(tick)}"])
        if not lines:
            whose = f"{printable(key)} said" if key is not None else "its assets said"
            write_lines([f"Nothing {whose} in run {run.run_id} was kept."])
            return
        from assets_core.cli.progress import log_lines

        write_lines(text for line in lines for text in log_lines(line))


def find_run(session: Session, run_id: str, debug: bool = False) -> RunRecord:
    """The run ``run_id`` names: its id, the start of only its id, or ``last``."""
    runs = session.state.runs(limit=2**62)
    if not runs:
        raise fail("no runs yet; `lumbung materialize` makes one.", EXIT_USAGE, debug)
    if run_id == LAST:
        return runs[0]
    found = [r for r in runs if r.run_id == run_id] or [
        r for r in runs if r.run_id.startswith(run_id)
    ]
    if len(found) == 1 and run_id:
        return found[0]
    if len(found) > 1 and run_id:
        some = ", ".join(r.run_id for r in found[:SHOWN_RUNS])
        more = f" and {len(found) - SHOWN_RUNS} more" if len(found) > SHOWN_RUNS else ""
        raise fail(
            f"'{run_id}' starts the ids of {len(found)} runs ({some}{more}); give more of it.",
            EXIT_USAGE,
            debug,
        )
    raise fail(
        f"no run '{run_id}'; `lumbung history` lists the runs, `last` names the newest.",
        EXIT_USAGE,
        debug,
    )


def _asset_key(session: Session, name: str, run_id: str) -> AssetKey:
    """The asset ``name`` means (a bare name, as everywhere); an asset since removed from
    the project still has its lines, under its full key."""
    from assets_core.errors import AmbiguousAssetError, LumbungError, UnknownAssetError
    from assets_core.model.keys import AssetKey

    try:
        return session.defs.resolve(name)
    except AmbiguousAssetError:
        raise
    except UnknownAssetError as unknown:
        try:
            key = AssetKey.parse(name)
        except LumbungError:
            raise unknown from None
        if not session.state.logs(run_id, key):
            raise unknown from None
        return key
