"""Locks a run's steps before it starts, so two runs never materialize one step at once.

A run takes the locks of every step its plan will run, all at once in one state-store
transaction, or none (``LockTable.acquire_locks``). While another live run holds any of
them it waits with backoff (told once through ``notify``), or, when not waiting or past its
timeout, raises ``AssetsLockedError`` holding nothing. Because a run never holds some locks
while it waits for others, two runs can never deadlock. A lock whose holder died on this host
is taken over by the store.

Once the locks are held the plan is checked against the state store: when another run
recorded anything the plan depends on since it was made (the run it waited for, or one that
finished between planning and locking), the selection is planned again (``replan``), so what
that run just built is not built twice. A new plan that needs more steps takes their locks the
same way (all of them again, or it lets go of everything and waits).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from assets_core.errors import AssetsLockedError
from assets_core.model.keys import StepKey
from assets_core.planning.planner import Plan
from assets_core.storage.planstate import plan_state
from assets_core.storage.state import LockConflict, LockTable, StateReader


class _Store(LockTable, StateReader, Protocol):
    """What locking uses of the state store."""


SHOWN = 3  # held assets named in a message before "and N more"
FIRST_DELAY = 0.05  # seconds between attempts, doubled up to MAX_DELAY
MAX_DELAY = 0.5

Notify = Callable[[Sequence[LockConflict], str], None]


def describe(conflicts: Sequence[LockConflict], still: bool = False) -> str:
    """``run R (pid P) holds 5 selected assets (a, b, c and 2 more)`` (``still holds``)."""
    holders: dict[str, int | None] = {}
    for c in conflicts:
        holders.setdefault(c.run_id, c.pid)
    who = ", ".join(
        f"{run} (pid {pid if pid is not None else '?'})" for run, pid in holders.items()
    )
    keys = [str(c.step) for c in conflicts]
    named = ", ".join(keys[:SHOWN])
    if len(keys) > SHOWN:
        named += f" and {len(keys) - SHOWN} more"
    noun = "selected asset" if len(keys) == 1 else "selected assets"
    verb = "runs" if len(holders) > 1 else "run"
    holds = ("still " if still else "") + ("hold" if len(holders) > 1 else "holds")
    return f"{verb} {who} {holds} {len(keys)} {noun} ({named})"


def waiting_line(conflicts: Sequence[LockConflict]) -> str:
    """What a waiting run tells the user, once."""
    return f"waiting: {describe(conflicts)}; this run starts when they are free."


def locked_message(conflicts: Sequence[LockConflict], waited: float | None) -> str:
    """The ``AssetsLockedError`` text: without waiting (``waited`` None) or after a timeout."""
    if waited is None:
        return (
            f"{describe(conflicts)}; nothing was run. Try again when it finishes, or let this "
            "run wait for it."
        )
    held = describe(conflicts, still=True)
    return f"{held} after {waited:g}s of waiting; nothing was run. Try again when it finishes."


def lock_plan(
    plan: Plan,
    state: _Store,
    run_id: str,
    *,
    replan: Callable[[Plan], Plan],
    wait: bool = True,
    timeout: float | None = None,
    notify: Notify | None = None,
) -> Plan:
    """Take the locks of ``plan``'s steps for ``run_id``; return the plan to run (``plan``
    itself, or ``replan(plan)``, a new plan of the same selection, when the state changed since
    it was made).

    Raises ``AssetsLockedError`` (holding nothing) when another live run holds some of them
    and ``wait`` is false or ``timeout`` seconds passed.
    """
    began = time.monotonic()
    told = False

    def tell(conflicts: Sequence[LockConflict]) -> None:
        nonlocal told
        if not told and notify is not None:
            notify(conflicts, waiting_line(conflicts))
        told = True

    try:
        while True:
            _take(state, run_id, plan.keys, wait, timeout, began, tell)
            if not _changed_since(plan, state):
                return plan
            fresh = replan(plan)
            held = set(plan.keys)
            if not set(fresh.keys) <= held:
                conflicts = state.acquire_locks(run_id, fresh.keys, os.getpid())
                if conflicts:  # never hold some locks while waiting for others
                    state.release_locks(run_id)
                    tell(conflicts)
                    plan = fresh
                    continue
            unneeded = held - set(fresh.keys)
            if unneeded:
                state.release_locks(run_id, unneeded)
            return fresh
    except BaseException:
        state.release_locks(run_id)
        raise


def _take(
    state: _Store,
    run_id: str,
    keys: list[StepKey],
    wait: bool,
    timeout: float | None,
    began: float,
    tell: Callable[[Sequence[LockConflict]], None],
) -> None:
    """All of ``keys`` for ``run_id``, waiting with backoff while a live run holds any."""
    delay = FIRST_DELAY
    while True:
        conflicts = state.acquire_locks(run_id, keys, os.getpid())
        if not conflicts:
            return
        if not wait:
            raise AssetsLockedError(locked_message(conflicts, None), conflicts)
        waited = time.monotonic() - began
        if timeout is not None and waited >= timeout:
            raise AssetsLockedError(locked_message(conflicts, timeout), conflicts)
        tell(conflicts)
        pause = delay if timeout is None else min(delay, max(0.0, timeout - waited))
        time.sleep(pause)
        delay = min(delay * 2, MAX_DELAY)


def _changed_since(plan: Plan, state: _Store) -> bool:
    """Whether the state store now holds a different last success than ``plan`` read for any
    step or any upstream step a step reads (one query)."""
    if not plan.steps:
        return False
    steps = set(plan.keys)
    for ups in plan.upstream.values():
        steps.update(u for u in ups if u not in plan.observed)
    now = plan_state(state.latest({s.asset for s in steps}, detail=False))  # end times too
    for step in steps:
        before = plan.last.get(step)
        st = now.get(step)
        after = st.last if st is not None else None
        if before is None or after is None:
            if before is not after:
                return True
        elif (before.data_version, before.ended_at) != (after.data_version, after.ended_at):
            return True
    return False
