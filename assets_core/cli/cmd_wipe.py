"""``lumbung wipe -s SELECTION`` or ``lumbung wipe --io NAME``: delete the stored outputs of the
selected assets (or of every asset one IO manager stores) and forget their records, so the next
``materialize`` builds them from scratch.

A selection or ``--io`` is required (``-s '*'`` wipes everything, on purpose); given both, the
assets matching both are wiped. With ``--io`` alone, storage the manager finds damaged as a
whole (a corrupt warehouse file) is first moved aside, never deleted. Sources are never wiped.
The command lists what it would delete and asks first; without a terminal to ask on it refuses
unless given ``--yes``. It holds the assets' run locks while deleting, so it never pulls an
output from under a running ``materialize``.

``lumbung wipe --orphans`` (no selection) removes what no asset uses any more
(``assets_core.storage.orphans``): the stored outputs and records of keys no longer defined
(removed, renamed), and outputs an asset's IO manager no longer stores (its manager changed).
It lists them, asks the same way, and removes each output through the IO manager that stored
it, then forgets its records, under the same locks. An output no IO manager configured here
recognises is listed as kept and left, with its records. ``-s NAME`` naming such a removed key
points at ``--orphans`` instead of saying that no asset matches.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
    from rich.console import Console

    from assets_core.model.keys import AssetKey, StepKey
    from assets_core.session import Session
    from assets_core.storage.orphans import Orphan


def confirmation_refused(n: int) -> str:
    """The error when there is no one to ask and no ``--yes``."""
    what = "1 asset's" if n == 1 else f"{n} assets'"
    return f"wipe needs confirmation; pass --yes to delete {what} outputs and records."


NO_SELECTION = (
    "wipe needs -s SELECTION ('*' for every asset), --io NAME (every asset one IO manager "
    "stores) or --orphans (see `lumbung wipe -h`)."
)
ORPHANS_ALONE = (
    "wipe --orphans takes no -s, --exclude or --io: it finds every orphan itself, and lists "
    "them before removing anything."
)
NO_ORPHANS = (
    "No orphans: every recorded output belongs to a defined asset and the IO manager it uses."
)


def orphans_refused(n: int) -> str:
    """The error when there is no one to ask and no ``--yes`` (``--orphans``)."""
    return f"wipe needs confirmation; pass --yes to remove {_orphans(n)}."


def removed_asset(value: str) -> str:
    """The error for ``-s NAME`` where NAME is no longer an asset but has records."""
    return (
        f"{value!r} is no longer defined (removed or renamed), but its stored output and "
        "records are still kept; `lumbung wipe --orphans` lists and removes them."
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
    orphans: Annotated[
        bool,
        typer.Option(
            "--orphans",
            help="Remove the stored outputs and records of assets no longer defined, and "
            "outputs of IO managers an asset no longer uses.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the selected assets' stored outputs and records, or with --orphans those of
    assets no longer defined and of IO managers an asset no longer uses (sources never)."""
    debug = state_of(ctx).debug
    if orphans:
        if select or exclude or io is not None:
            raise fail(ORPHANS_ALONE, EXIT_USAGE, debug)
        with guard(ctx), open_session(ctx) as session:
            _wipe_orphans(session, yes, debug)
        return
    if not select and io is None:
        raise fail(NO_SELECTION, EXIT_USAGE, debug)
    with guard(ctx), open_session(ctx) as session:
        assets = session.defs.assets
        if io is not None:
            _check_io_name(session, io)
        chosen = _selected(session, select, exclude)
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


def _selected(
    session: Session, select: list[str] | None, exclude: list[str] | None
) -> frozenset[AssetKey]:
    """``select_keys``; a name that matches no asset but is a removed asset's key (with
    records still kept) points at ``--orphans``."""
    from assets_core.errors import SelectionError

    try:
        return select_keys(session, select or ["*"], exclude)
    except SelectionError:
        gone = {
            name
            for k in session.state.recorded_keys()
            if k not in session.defs.assets
            for name in (str(k), k[-1])
        }
        for word in (*(select or ()), *(exclude or ())):
            for term in re.split(r"[\s,]+", word):
                value = _PLAIN_NAME.sub("", term.removeprefix("key:"))
                if value in gone:
                    raise SelectionError(removed_asset(value)) from None
        raise


#: what a criterion may carry around a plain name: ``@``, ``2+`` before it, ``+1`` after it
_PLAIN_NAME = re.compile(r"^@?\d*\+?|\+\d*$")


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
    from assets_core.storage.io import OutputContext, set_aside_damaged

    state = session.state
    done: list[AssetKey] = []
    notes: list[str] = []
    with _locked(session, [step_of(k) for k in keys]):
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
    return notes


@contextmanager
def _locked(session: Session, steps: Iterable[StepKey]) -> Iterator[None]:
    """Hold ``steps``' run locks for the block, as a run would (all or none): a step another
    live run holds is refused at once, never waited for."""
    from assets_core.errors import PlanError
    from assets_core.execution.result import new_run_id

    state = session.state
    run_id = "wipe-" + new_run_id()
    conflicts = state.acquire_locks(run_id, steps, os.getpid())
    if conflicts:
        held = ", ".join(f"{c.step} (run {c.run_id}, pid {c.pid})" for c in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise PlanError(f"another run holds {held}{more}; wait for it to finish, then wipe again.")
    try:
        yield
    finally:
        state.release_locks(run_id)


# ---- --orphans --------------------------------------------------------------------------------


def _orphans(n: int) -> str:
    return "1 orphan" if n == 1 else f"{n} orphans"


def _wipe_orphans(session: Session, yes: bool, debug: bool) -> None:
    """List the orphans, ask, then remove them under their steps' locks. What is removed is
    what was listed and is still an orphan once the locks are held (a run may have finished
    meanwhile)."""
    from assets_core.storage.orphans import find_orphans, remove_orphans

    out = console()
    found = find_orphans(session.defs, session.io, session.state)
    if not found:
        out.print(NO_ORPHANS, soft_wrap=True)
        return
    removable = [o for o in found if o.action != "kept"]
    kept = [o for o in found if o.action == "kept"]
    if removable:
        out.print(f"{_orphans(len(removable))} would be removed:", soft_wrap=True)
        _print_orphans(out, removable)
    if kept:
        out.print(
            f"{_orphans(len(kept))} kept (no IO manager configured here stored "
            f"{'it' if len(kept) == 1 else 'them'}; configure that manager, then wipe again):",
            soft_wrap=True,
        )
        _print_orphans(out, kept)
    if not removable:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise fail(orphans_refused(len(removable)), EXIT_USAGE, debug)
        if not typer.confirm(f"Remove {_orphans(len(removable))}?"):
            out.print("Nothing was removed.")
            return
    listed = set(removable)
    with _locked(session, sorted({o.step for o in removable}, key=str)):
        now = find_orphans(session.defs, session.io, session.state)
        done = remove_orphans(
            [o for o in now if o in listed], session.defs, session.io, session.state
        )
    out.print(f"Removed {_orphans(len(done.removed))}.", soft_wrap=True)
    changed = len(removable) - len(done.removed) - len(done.problems)
    if changed > 0:
        out.print(
            f"{_orphans(changed)} changed since listed and {'was' if changed == 1 else 'were'} "
            "left; run wipe --orphans again to see what remains.",
            soft_wrap=True,
        )
    if done.problems:
        raise fail("\n".join(done.problems), EXIT_USAGE, debug)


def _print_orphans(out: Console, orphans: list[Orphan]) -> None:
    """One aligned line per orphan: step, the manager that stored it, where, and why."""
    rows = [
        (
            printable(str(o.step)),
            o.manager or "-",
            printable(o.location) if o.location is not None else "(records only)",
            o.why,
        )
        for o in orphans
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.print(f"  {'  '.join(cells)}  {row[3]}", soft_wrap=True, markup=False)
