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

A partitioned asset's stored partitions are wiped one by one (those its records name); with
``--partition`` / ``--partitions`` (and ``--as-of``) only the chosen partitions of the selected
partitioned assets are wiped, their records forgotten, and unpartitioned assets are left alone.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import (
    EXIT_USAGE,
    AsOfOpt,
    ExcludeOpt,
    PartitionOpt,
    PartitionsOpt,
    console,
    fail,
    guard,
    open_session,
    partitions_text,
    select_keys,
    state_of,
)
from assets_core.cli.printable import printable
from assets_core.model.keys import StepKey, step_of

if TYPE_CHECKING:
    from rich.console import Console

    from assets_core.model.keys import AssetKey
    from assets_core.session import Session
    from assets_core.storage.orphans import Orphan
    from assets_core.storage.state import StepState


def confirmation_refused(n: int) -> str:
    """The error when there is no one to ask and no ``--yes``."""
    what = "1 asset's" if n == 1 else f"{n} assets'"
    return f"wipe needs confirmation; pass --yes to delete {what} outputs and records."


NO_SELECTION = (
    "wipe needs -s SELECTION ('*' for every asset), --io NAME (every asset one IO manager "
    "stores) or --orphans (see `lumbung wipe -h`)."
)
ORPHANS_ALONE = (
    "wipe --orphans takes no -s, --exclude, --io or partitions: it finds every orphan itself, "
    "and lists them before removing anything."
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
    partition: PartitionOpt = None,
    partitions: PartitionsOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Delete the selected assets' stored outputs and records, or with --orphans those of
    assets no longer defined and of IO managers an asset no longer uses (sources never);
    with --partition/--partitions, only those partitions of the selected partitioned assets."""
    debug = state_of(ctx).debug
    if orphans:
        chose_parts = partition is not None or partitions is not None or as_of is not None
        if select or exclude or io is not None or chose_parts:
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
        text = partitions_text(partition, partitions)
        chosen_parts = None
        if text is not None or as_of is not None:
            space = session.key_space(as_of)
            chosen_parts = session.chosen_partitions(frozenset(keys), text, space) if text else {}
            keys = [k for k in keys if k in session.defs.partitions]
        out = console()
        if not keys:
            out.print("Nothing to wipe: the selection holds no assets (sources are never wiped).")
            return
        latest = session.state.latest(keys)
        steps = _steps(session, keys, latest, chosen_parts)
        out.print(f"{_count(len(keys))} would be wiped:", soft_wrap=True)
        width = max(len(str(k)) for k in keys)
        for k in keys:
            where = _where(session, k, steps[k], latest, as_of)
            out.print(f"  {k!s:<{width}}  {printable(where)}", soft_wrap=True, markup=False)
        if not yes:
            if not sys.stdin.isatty():
                raise fail(confirmation_refused(len(keys)), EXIT_USAGE, debug)
            if not typer.confirm(f"Delete the outputs and records of {_count(len(keys))}?"):
                out.print("Nothing was deleted.")
                return
        whole = io if not (select or exclude) else None  # every asset of one manager
        for note in _delete(session, steps, whole, chosen_parts is not None):
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


def _steps(
    session: Session,
    keys: list[AssetKey],
    latest: Mapping[StepKey, StepState],
    chosen: dict[AssetKey, frozenset[str]] | None,
) -> dict[AssetKey, list[StepKey]]:
    """The steps to wipe of each asset: an unpartitioned asset's one, a partitioned asset's
    recorded partitions (those ``chosen``, when partitions were chosen), in key order."""
    from assets_core.partitions.columns import sort_keys

    found: dict[AssetKey, list[StepKey]] = {}
    for k in keys:
        definition = session.defs.partitions.get(k)
        if definition is None:
            found[k] = [step_of(k)]
            continue
        picked = None if chosen is None else chosen.get(k, frozenset())
        parts = [s[1] for s in latest if s[0] == k and s[1] is not None]
        if picked is not None:
            parts = [p for p in parts if p in picked]
        found[k] = [StepKey(k, p) for p in sort_keys(definition, parts)]
    return found


def _where(
    session: Session,
    key: AssetKey,
    steps: list[StepKey],
    latest: Mapping[StepKey, StepState],
    as_of: str | None,
) -> str:
    """What of ``key`` would be wiped, in a few words: its output's location, or its
    partitions as runs (``2024-01-01..2024-01-07 (7 partitions)``)."""
    definition = session.defs.partitions.get(key)
    if definition is None:
        st = latest.get(steps[0])
        last = st.last if st is not None else None
        return last.location if last is not None and last.location else "(no record)"
    if not steps:
        return "(no stored partitions)"
    from assets_core.partitions.ranges import runs

    found = runs(definition, [s[1] for s in steps if s[1] is not None], session.key_space(as_of))
    shown = ", ".join(str(r) for r in found[:3])
    more = f" and {len(found) - 3} more runs" if len(found) > 3 else ""
    return f"{len(steps)} partition{'s' if len(steps) != 1 else ''}: {shown}{more}"


def _check_io_name(session: Session, name: str) -> None:
    from assets_core.errors import PlanError

    known = session.io.names()
    if name not in known:
        raise PlanError(
            f"--io {name}: no IO manager of that name; known: {', '.join(sorted(known))}."
        )


def _count(n: int) -> str:
    return "1 asset" if n == 1 else f"{n} assets"


def _delete(
    session: Session, steps: dict[AssetKey, list[StepKey]], whole: str | None, partial: bool
) -> list[str]:
    """Under the steps' locks, delete each output, then forget the records of those deleted
    (also when a later deletion fails, so no record points at a deleted output): of whole
    assets, or with ``partial`` of the steps alone. ``whole``: the IO manager every one of
    its assets is wiped from, whose damaged storage is first moved aside. What was moved
    aside, as lines to print."""
    from assets_core.storage.io import OutputContext, set_aside_damaged

    state = session.state
    every = [s for found in steps.values() for s in found]
    locked = every if partial else [step_of(k) for k in steps] + [s for s in every if s[1]]
    done: list[AssetKey] = []
    gone: list[StepKey] = []
    notes: list[str] = []
    with _locked(session, locked):
        try:
            if whole is not None:
                note = set_aside_damaged(session.io.get(whole))
                if note is not None:
                    notes.append(note)
            for k, found in steps.items():
                a = session.defs.assets[k]
                manager = session.io_manager(a)
                for s in found:
                    manager.delete(OutputContext(k, a.spec, partition=s[1]))
                    gone.append(s)
                done.append(k)
        finally:
            if done and not partial:
                state.forget(done)
            rest = gone if partial else [s for s in gone if s[0] not in set(done)]
            if rest:
                state.forget_steps(rest)
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
