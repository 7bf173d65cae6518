"""``lumbung unlock [--run RUN_ID]``: release the step locks of runs whose death Lumbung cannot
decide by itself, such as a run on another machine that shares the storage folder.

A dead run's locks need no command: the next run takes them over. This one shows every run
holding locks (or the one named), what is known of its process, and what it would release,
then asks first; without a terminal to ask on it refuses unless given ``--yes``. A run alive
on this machine is never unlocked: stop it instead, and its locks go with it. Released runs
still marked ``running`` are marked ``interrupted``. It needs the project's config only, not
its code: a project that fails to import can still be unlocked.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import EXIT_FAILED, EXIT_USAGE, fail, guard, state_of, when
from assets_core.cli.printable import printable

if TYPE_CHECKING:
    from assets_core.storage.state import HeldLock

SHOWN = 3  # steps named per run before "and N more"


def confirmation_refused(count: int, runs: list[str]) -> str:
    """The error when there is no one to ask and no ``--yes``."""
    return f"unlock needs confirmation; pass --yes to release {_locks(count)} of {_runs(runs)}."


def unlock(
    ctx: typer.Context,
    run: Annotated[
        str | None,
        typer.Option("--run", metavar="RUN_ID", help="Release only this run's locks."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Release the locks of runs whose death cannot be decided here (another machine, say)."""
    from assets_core.model.project import find_project
    from assets_core.storage.sqlite import open_state_store

    debug = state_of(ctx).debug
    with guard(ctx), open_state_store(find_project(state_of(ctx).project).storage) as state:
        held = state.locks()
        if run is not None:
            held = [h for h in held if h.run_id == run]
        if not held:
            whose = f"run {run} holds no locks" if run is not None else "no run holds a lock"
            write_lines([f"Nothing to unlock: {whose}."])
            return
        by_run: dict[str, list[HeldLock]] = {}
        for h in held:
            by_run.setdefault(h.run_id, []).append(h)
        write_lines(_describe(by_run))
        alive = [r for r, locks in by_run.items() if locks[0].alive is True]
        chosen = [r for r in by_run if r not in alive]
        if run is not None and alive:
            pid = by_run[run][0].holder.pid
            raise fail(
                f"run {run} is alive on this machine (pid {pid}); stop it rather than unlock it: "
                "its locks are released when it ends.",
                EXIT_FAILED,
                debug,
            )
        if not chosen:
            write_lines(["Nothing to unlock: every run holding locks is alive on this machine."])
            return
        count = sum(len(by_run[r]) for r in chosen)
        if not yes:
            if not sys.stdin.isatty():
                raise fail(confirmation_refused(count, chosen), EXIT_USAGE, debug)
            if not typer.confirm(printable(f"Release {_locks(count)} of {_runs(chosen)}?")):
                write_lines(["Nothing was released."])
                return
        released = state.break_locks(chosen)
        write_lines([f"Released {_locks(released)} of {_runs(chosen)}."])


def _describe(by_run: dict[str, list[HeldLock]]) -> list[str]:
    """Each run holding locks: the steps, its process, and whether that lives."""
    lines = []
    for run_id, locks in by_run.items():
        steps = [str(h.step) for h in locks]
        named = ", ".join(steps[:SHOWN])
        if len(steps) > SHOWN:
            named += f" and {len(steps) - SHOWN} more"
        lines.append(f"run {run_id} holds {_locks(len(locks))} ({named})")
        lines.append(f"  since {when(min(h.acquired_at for h in locks))}; {_process(locks[0])}")
    return lines


def _process(lock: HeldLock) -> str:
    from assets_core.storage.liveness import same_machine

    holder = lock.holder
    pid = holder.pid if holder.pid is not None else "?"
    where = "this machine" if same_machine(holder) else f"host {holder.host or '?'}"
    if lock.alive is True:
        verdict = "alive: left alone"
    elif lock.alive is False:
        verdict = "dead (the next run would take its locks over anyway)"
    elif same_machine(holder):
        verdict = "whether it lives cannot be told from here"
    else:
        verdict = "another machine: whether it lives cannot be told from here"
    return f"pid {pid} on {where}, {verdict}"


def write_lines(lines: list[str]) -> None:
    """Lines on stdout, their text from the state store shown, never obeyed."""
    sys.stdout.write("".join(printable(line) + "\n" for line in lines))
    sys.stdout.flush()


def _locks(n: int) -> str:
    return "1 lock" if n == 1 else f"{n} locks"


def _runs(runs: list[str]) -> str:
    return ("run " if len(runs) == 1 else "runs ") + ", ".join(runs)
