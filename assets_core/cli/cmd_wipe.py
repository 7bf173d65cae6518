"""``lumbung wipe -s SELECTION`` or ``lumbung wipe --io NAME``: delete the stored outputs of the
selected assets (or of every asset one IO manager stores) and forget their records, so the next
``materialize`` builds them from scratch.

A selection or ``--io`` is required (``-s '*'`` wipes everything, on purpose); given both, the
assets matching both are wiped. With ``--io`` alone, storage the manager finds damaged as a
whole (a corrupt warehouse file) is first moved aside, never deleted. Sources are never wiped.
The command lists what it would delete and asks first; without a terminal to ask on it refuses
unless given ``--yes``. It holds the assets' run locks while deleting, so it never pulls an
output from under a running ``materialize``.

A partitioned asset's stored partitions are wiped one by one (those its records name); with
``--partition`` / ``--partitions`` (and ``--as-of``) only the chosen partitions of the selected
partitioned assets are wiped, their records forgotten, and unpartitioned assets are left alone.
"""

from __future__ import annotations

import os
import sys
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
    from assets_core.model.keys import AssetKey
    from assets_core.session import Session
    from assets_core.storage.state import StepState


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
    partition: PartitionOpt = None,
    partitions: PartitionsOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Delete the selected assets' stored outputs and records (sources are never touched);
    with --partition/--partitions, only those partitions of the selected partitioned assets."""
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


def _steps(
    session: Session,
    keys: list[AssetKey],
    latest: dict[StepKey, StepState],
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
    latest: dict[StepKey, StepState],
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
    from assets_core.errors import PlanError
    from assets_core.execution.result import new_run_id
    from assets_core.storage.io import OutputContext, set_aside_damaged

    state = session.state
    run_id = "wipe-" + new_run_id()
    every = [s for found in steps.values() for s in found]
    locked = every if partial else [step_of(k) for k in steps] + [s for s in every if s[1]]
    conflicts = state.acquire_locks(run_id, locked, os.getpid())
    if conflicts:
        held = ", ".join(f"{c.step} (run {c.run_id}, pid {c.pid})" for c in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise PlanError(f"another run holds {held}{more}; wait for it to finish, then wipe again.")
    done: list[AssetKey] = []
    gone: list[StepKey] = []
    notes: list[str] = []
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
        state.release_locks(run_id)
    return notes
