"""``lumbung wipe -s SELECTION`` or ``lumbung wipe --io NAME``: delete the stored outputs of the
selected assets (or of every asset one IO manager stores) and forget their records, so the next
``materialize`` builds them from scratch.

A selection or ``--io`` is required (``-s '*'`` wipes everything, on purpose); given both, the
assets matching both are wiped. With ``--io`` alone, storage the manager finds damaged as a
whole (a corrupt warehouse file) is first moved aside, never deleted. Sources are never wiped.
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


NO_SELECTION = (
    "wipe needs -s SELECTION ('*' for every asset) or --io NAME (every asset one IO manager "
    "stores) (see `lumbung wipe -h`)."
)


def wipe(
    ctx: typer.Context,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            metavar="SELECTOR",
            help="Assets to wipe (same syntax as everywhere; '*' for all).",
        ),
    ] = None,
    io: Annotated[
        str | None,
        typer.Option(
            "--io",
            metavar="NAME",
            help="Wipe every asset this IO manager stores (with -s: those selected); damaged "
            "storage of the manager is moved aside first.",
        ),
    ] = None,
    exclude: ExcludeOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the selected assets' stored outputs and records (sources are never touched)."""
    debug = state_of(ctx).debug
    if not select and io is None:
        raise fail(NO_SELECTION, EXIT_USAGE, debug)
    with guard(ctx), open_session(ctx) as session:
        assets = session.defs.assets
        if io is not None:
            _check_io_name(session, io)
        chosen = select_keys(session, select or ["*"], exclude)
        keys = [
            k
            for k in session.graph.toposorted(chosen)
            if not assets[k].observed
            and (io is None or session.defs.io_manager_name(assets[k]) == io)
        ]
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
                raise fail(confirmation_refused(len(keys)), EXIT_USAGE, debug)
            if not typer.confirm(f"Delete the outputs and records of {_count(len(keys))}?"):
                out.print("Nothing was deleted.")
                return
        whole = io if not (select or exclude) else None  # every asset of one manager
        for note in _delete(session, keys, whole):
            out.print(note, soft_wrap=True, markup=False)
        out.print(f"Wiped {_count(len(keys))}.")


def _check_io_name(session: Session, name: str) -> None:
    from assets_core.errors import PlanError

    known = session.io.names()
    if name not in known:
        raise PlanError(
            f"--io {name}: no IO manager of that name; known: {', '.join(sorted(known))}."
        )


def _count(n: int) -> str:
    return "1 asset" if n == 1 else f"{n} assets"


def _delete(session: Session, keys: list[AssetKey], whole: str | None) -> list[str]:
    """Under the assets' locks, delete each output, then forget the records of those deleted
    (also when a later deletion fails, so no record points at a deleted output). ``whole``:
    the IO manager every one of its assets is wiped from, whose damaged storage is first moved
    aside. What was moved aside, as lines to print."""
    from assets_core.errors import PlanError
    from assets_core.execution.result import new_run_id
    from assets_core.storage.io import OutputContext, set_aside_damaged

    state = session.state
    run_id = "wipe-" + new_run_id()
    conflicts = state.acquire_locks(run_id, [step_of(k) for k in keys], os.getpid())
    if conflicts:
        held = ", ".join(f"{c.step} (run {c.run_id}, pid {c.pid})" for c in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise PlanError(f"another run holds {held}{more}; wait for it to finish, then wipe again.")
    done: list[AssetKey] = []
    notes: list[str] = []
    try:
        if whole is not None:
            note = set_aside_damaged(session.io.get(whole))
            if note is not None:
                notes.append(note)
        for k in keys:
            a = session.defs.assets[k]
            session.io_manager(a).delete(OutputContext(k, a.spec))
            done.append(k)
    finally:
        if done:
            state.forget(done)
        state.release_locks(run_id)
    return notes
