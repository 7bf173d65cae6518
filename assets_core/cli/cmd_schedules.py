"""``lumbung schedules``: every schedule and sensor with its next tick and last outcome;
``lumbung schedules tick NAME [--at TIME]`` evaluates one tick, as ``serve`` would, and runs
what it launches in the foreground (exit 1 when a run failed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from assets_core.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    JsonOpt,
    fail,
    guard,
    load_session,
    print_json,
    write_lines,
)
from assets_core.cli.common import columns as table

if TYPE_CHECKING:
    from assets_core.session import Session


def schedules(
    ctx: typer.Context,
    action: Annotated[
        str | None, typer.Argument(metavar="[tick]", help="`tick NAME`: evaluate one tick now.")
    ] = None,
    name: Annotated[str | None, typer.Argument(metavar="NAME", show_default=False)] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="With `tick`: the tick's instant (ISO 8601; default: now).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List schedules and sensors (name, kind, cron or interval, next tick, last outcome),
    or evaluate one tick with `lumbung schedules tick NAME [--at TIME]`."""
    with guard(ctx):
        if action not in (None, "tick") or (action == "tick") != (name is not None):
            raise fail(
                "give no argument to list, or `tick NAME` to evaluate one tick "
                "(see `lumbung schedules -h`).",
                EXIT_USAGE,
            )
        session = load_session(ctx)
        if action == "tick":
            assert name is not None
            raise typer.Exit(_tick(session, name, at))
        _list(session, as_json)


def _list(session: Session, as_json: bool) -> None:
    from assets_core.automation.clock import clock_from_env
    from assets_core.automation.listing import rows

    found = rows(session, clock_from_env().now())
    if as_json:
        print_json({"schedules": found})
        return
    if not found:
        write_lines(["No schedules or sensors; declare them with schedule() or sensor()."])
        return
    lines = [
        [
            r["name"],
            r["kind"],
            f"{r['cron']} ({r['timezone']})" if r["kind"] == "schedule" else _every(r),
            r["next_tick"] or "-",
            f"{r['last_outcome']} ({r['last_tick']})" if r["last_outcome"] else "-",
        ]
        for r in found
    ]
    write_lines(table([["NAME", "KIND", "WHEN", "NEXT TICK", "LAST OUTCOME"], *lines]))


def _every(row: dict[str, Any]) -> str:
    seconds = float(row["every_seconds"])
    return f"every {seconds:g}s"


def _tick(session: Session, name: str, at_text: str | None) -> int:
    from assets_core.automation.clock import ManualClock, clock_from_env
    from assets_core.automation.server import Server
    from assets_core.partitions.now import parse_now

    at = parse_now(at_text, "--at") if at_text is not None else clock_from_env().now()
    server = Server(session, ManualClock(at), _say)
    launched = server.tick(name, at)
    if not launched:
        when = at.isoformat()
        _say(f"{name}: nothing launched at {when} (nothing to run, or the tick ran before)")
        return 0
    server.wait()
    from assets_core.automation.server import tick_log

    recorded = {t.tick: t for t in tick_log(session).ticks(names=[name], limit=len(launched) + 10)}
    failed = [x for x in launched if getattr(recorded.get(x.tick), "outcome", "") != "success"]
    return EXIT_FAILED if failed else 0


def _say(line: str) -> None:
    write_lines([line])
