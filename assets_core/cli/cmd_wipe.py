"""``lumbung wipe -s SELECTION``: delete the stored outputs of the selected assets and forget
their records, so the next ``materialize`` builds them from scratch.

The selection is required (``-s '*'`` wipes everything, on purpose). Sources are never wiped.
The command lists what it would delete and asks first; without a terminal to ask on it refuses
unless given ``--yes``. It holds the assets' run locks while deleting, so it never pulls an
output from under a running ``materialize``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import (
    EXIT_USAGE,
    ExcludeOpt,
    console,
    fail,
    guard,
    open_session,
    select_keys,
    state_of,
)
from assets_core.cli.printable import printable
from assets_core.model.keys import step_of

if TYPE_CHECKING:
    from assets_core.model.keys import AssetKey
    from assets_core.session import Session


def confirmation_refused(n: int) -> str:
    """The error when there is no one to ask and no ``--yes``."""
    what = "1 asset's" if n == 1 else f"{n} assets'"
    return f"wipe needs confirmation; pass --yes to delete {what} outputs and records."


def wipe(
    ctx: typer.Context,
    select: Annotated[
        list[str],
        typer.Option(
            "--select",
            "-s",
            metavar="SELECTOR",
            help="Assets to wipe (required; same syntax as everywhere; '*' for all).",
        ),
    ],
    exclude: ExcludeOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the selected assets' stored outputs and records (sources are never touched)."""
    with guard(ctx), open_session(ctx) as session:
        chosen = select_keys(session, select, exclude)
        assets = session.defs.assets
        keys = [k for k in session.graph.toposorted(chosen) if not assets[k].observed]
        out = console()
        if not keys:
            out.print("Nothing to wipe: the selection holds no assets (sources are never wiped).")
            return
        latest = session.state.latest(keys)
        out.print(f"{_count(len(keys))} would be wiped:", soft_wrap=True)
        width = max(len(str(k)) for k in keys)
        for k in keys:
            st = latest.get(step_of(k))
            last = st.last if st is not None else None
            where = last.location if last is not None and last.location else "(no record)"
            out.print(f"  {k!s:<{width}}  {printable(where)}", soft_wrap=True, markup=False)
        if not yes:
            if not sys.stdin.isatty():
                raise fail(confirmation_refused(len(keys)), EXIT_USAGE, state_of(ctx).debug)
            if not typer.confirm(f"Delete the outputs and records of {_count(len(keys))}?"):
                out.print("Nothing was deleted.")
                return
        _delete(session, keys)
        out.print(f"Wiped {_count(len(keys))}.")


def _count(n: int) -> str:
    return "1 asset" if n == 1 else f"{n} assets"


def _delete(session: Session, keys: list[AssetKey]) -> None:
    """Under the assets' locks, delete each output, then forget the records of those deleted
    (also when a later deletion fails, so no record points at a deleted output)."""
    from assets_core.errors import PlanError
    from assets_core.execution.result import new_run_id
    from assets_core.storage.io import OutputContext

    state = session.state
    run_id = "wipe-" + new_run_id()
    conflicts = state.acquire_locks(run_id, [step_of(k) for k in keys], os.getpid())
    if conflicts:
        held = ", ".join(f"{c.step} (run {c.run_id}, pid {c.pid})" for c in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise PlanError(f"another run holds {held}{more}; wait for it to finish, then wipe again.")
    done: list[AssetKey] = []
    try:
        for k in keys:
            a = session.defs.assets[k]
            session.io_manager(a).delete(OutputContext(k, a.spec))
            done.append(k)
    finally:
        if done:
            state.forget(done)
        state.release_locks(run_id)
