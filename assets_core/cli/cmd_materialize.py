"""``lumbung materialize``: plan, then run what is missing or stale, with progress and a summary.

Exit codes: 0 every step succeeded (or nothing to do), 1 an asset failed (or, with
``--no-wait`` or ``--lock-timeout``, another run holds assets to run), 2 a usage,
definition or selection error, 130 interrupted by Ctrl-C, 143 terminated by SIGTERM
(finished steps stay recorded either way).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from assets_core.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    AsOfOpt,
    ExcludeOpt,
    ForceOpt,
    JsonOpt,
    PartitionOpt,
    PartitionsOpt,
    SelectOpt,
    fail,
    guard,
    joined,
    load_session,
    nothing_to_do,
    partitions_text,
    print_json,
    print_notes,
    state_of,
    warn,
)
from assets_core.cli.printable import printable, printable_lines

if TYPE_CHECKING:
    from rich.console import Console

    from assets_core.cli.progress import Tracker
    from assets_core.execution.result import RunResult
    from assets_core.planning.planner import Plan
    from assets_core.session import Session

SLOWEST = 3
BEFORE_RUN = "{word} before any asset ran; run the same command again."
INTERRUPTED_BEFORE_RUN = BEFORE_RUN.format(word="interrupted")


def materialize(
    ctx: typer.Context,
    select: SelectOpt = None,
    exclude: ExcludeOpt = None,
    force: ForceOpt = False,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            "-e",
            metavar="NAME",
            help="Where assets run: threads (default, or the project's `executor`), "
            "in-process (one at a time, for debugging), processes, or dask (a Dask cluster: "
            "pip install 'lumbung[dask]').",
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            metavar="URL",
            help="The Dask scheduler to run on (tcp://HOST:8786; default: the project's "
            "`dask_address`, else a local cluster started for the run).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", "-w", metavar="N", help="How many assets run at once (default: CPUs)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would run, and why; run nothing.")
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="When another run holds some of the assets to run, say which and exit 1 "
            "instead of waiting for it.",
        ),
    ] = False,
    lock_timeout: Annotated[
        float | None,
        typer.Option(
            "--lock-timeout",
            metavar="SECONDS",
            help="Wait at most this long for assets another run holds, then exit 1 "
            "(default: wait as long as it takes).",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Show every line the assets log or print as it comes, prefixed with the "
            "asset (default: warnings, errors and stderr only). All are kept: `lumbung logs`.",
        ),
    ] = False,
    as_json: JsonOpt = False,
    partition: PartitionOpt = None,
    partitions: PartitionsOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Run every selected asset that is missing or stale, in dependency order (each
    partition of a partitioned asset is its own step: a backfill is a materialize over a
    range of partitions)."""
    from assets_core.execution.interrupts import watch

    # Ctrl-C (or SIGTERM) anywhere in the command: one line, exit 130 (143); a second one
    # is ignored while the first is handled (assets_core.execution.interrupts).
    with guard(ctx), watch(threading.Event()):
        check_options(executor, workers)
        wait = _wait_option(no_wait, lock_timeout)
        session = None
        try:
            if executor == "processes" and not dry_run:
                _start_workers_server(ctx)
            session = load_session(ctx, read_only=dry_run)  # a dry run writes nothing
            code = _materialize(
                session,
                joined(select),
                joined(exclude),
                force=force,
                executor=executor,
                workers=workers,
                address=address,
                dry_run=dry_run,
                as_json=as_json,
                wait=wait,
                debug=state_of(ctx).debug,
                verbose=verbose,
                partitions=partitions_text(partition, partitions),
                as_of=as_of,
            )
        except KeyboardInterrupt as exc:  # before the run began (during it: _materialize)
            _interrupted(None, session, exc)
        finally:
            if session is not None:
                session.close()
                print_notes(session)
    raise typer.Exit(code)


def _start_workers_server(ctx: typer.Context) -> None:
    """Let the processes executor's fork server load the project while this process loads
    it too (``assets_core.execution.workers``): a run's workers then start with it already
    imported."""
    from assets_core.execution.backends.processes import start_server
    from assets_core.model.project import find_project

    start_server(find_project(state_of(ctx).project))


def _wait_option(no_wait: bool, lock_timeout: float | None) -> bool | float:
    """``--no-wait`` / ``--lock-timeout`` as ``Session.materialize``'s ``wait``."""
    from assets_core.errors import PlanError

    if lock_timeout is None:
        return not no_wait
    if no_wait:
        raise PlanError("--no-wait and --lock-timeout exclude each other; use one of them.")
    if not lock_timeout >= 0:
        raise PlanError(f"--lock-timeout must be 0 seconds or more, got {lock_timeout:g}.")
    return lock_timeout


def check_options(executor: str | None, workers: int | None) -> None:
    """Reject a bad ``--executor`` or ``--workers`` before loading anything."""
    from assets_core.errors import PlanError
    from assets_core.execution.backends import BACKENDS

    if executor is not None and executor not in BACKENDS:
        raise PlanError(f"unknown executor {executor!r}; use one of {', '.join(BACKENDS)}.")
    if workers is not None and workers < 1:
        raise PlanError(f"workers must be 1 or more, got {workers}.")


def _materialize(
    session: Session,
    select: str | None,
    exclude: str | None,
    *,
    force: bool,
    executor: str | None,
    workers: int | None,
    dry_run: bool,
    address: str | None = None,
    as_json: bool,
    wait: bool | float = True,
    debug: bool = False,
    verbose: bool = False,
    partitions: str | None = None,
    as_of: str | None = None,
) -> int:
    import logging

    from assets_core.cli.progress import make_progress
    from assets_core.errors import AssetsLockedError

    began = time.perf_counter()  # the summary's time: planning and running, not importing
    # warnings: the selection's, then its own
    plan = session.plan(select, exclude, force=force, partitions=partitions, as_of=as_of)
    for text in plan.warnings:
        _err(f"warning: {printable(text)}")

    if dry_run:
        if as_json:
            print_json(plan.to_dict())
        else:
            _print_plan(plan)
        return EXIT_OK

    console = None if as_json else _terminal_console()
    tracker = make_progress(len(plan.steps), enabled=not as_json, console=console)
    if executor != "processes" and _runs_project_code(session, plan):  # here: let its
        # objects' finalizers run at exit (worker processes end on their own)
        from assets_core.cli import keep_teardown

        keep_teardown()
    # The collector was off while loading and planning (common.load_session): what
    # exists now lives to the end, so freeze it out of the passes and let asset code's
    # garbage be collected as usual.
    gc.freeze()
    gc.enable()
    try:
        with tracker:
            result = session.materialize(
                plan=plan,
                executor=executor,
                workers=workers,
                address=address,
                on_event=tracker,
                wait=wait,
                on_log=tracker.log,
                log_level=logging.DEBUG if verbose else logging.WARNING,
            )
        if as_json:
            _report_errors(result, debug)
            print_json(result.to_dict())
        else:
            _summary(plan, result, time.perf_counter() - began, console, debug)
    except AssetsLockedError as exc:  # nothing ran: like a failed run, not a usage error
        raise fail(str(exc), EXIT_FAILED, debug) from None
    except KeyboardInterrupt as exc:
        _interrupted(tracker, session, exc)
    return EXIT_FAILED if result.failed else EXIT_OK


def _runs_project_code(session: Session, plan: Plan) -> bool:
    """Whether a step of ``plan`` runs Python of the project's: an asset's function or a
    custom check. A SQL asset's statement is DuckDB's to run and its built-in checks are
    Lumbung's, so a run of SQL assets alone ends without tearing the interpreter down (about
    40 ms with DuckDB and pyarrow loaded; ``assets_core.cli.leave``)."""
    defs = session.defs
    assets = {step.key for step in plan.steps}  # a partitioned asset's steps share its answer
    return any(defs.assets[key].kind != "sql" or defs.custom_checks.get(key) for key in assets)


def _terminal_console() -> Console | None:
    """A rich console when stdout is a terminal (or rich is told to treat it as one), else
    None: plain output needs no rich at all."""
    isatty = getattr(sys.stdout, "isatty", None)
    if not (isatty is not None and isatty()) and not os.environ.get("FORCE_TERMINAL"):
        return None
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    return console if console.is_terminal else None


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _print_plan(plan: Plan) -> None:
    """The plan as ``--dry-run`` shows it: each step with its status and reasons."""
    if not plan.steps:
        _out(nothing_to_do(plan))
        return
    if plan.partitions:  # steps of partitioned assets: grouped into runs, as plan shows them
        from assets_core.cli.cmd_plan import render_plan

        render_plan(plan)
        return
    n = len(plan.steps)
    _out(f"Would materialize {n} asset{'s' if n != 1 else ''}:")
    width = max(len(str(s.key)) for s in plan.steps)
    for step in plan.steps:
        why = printable("; ".join(r.message for r in step.reasons))
        _out(f"  {str(step.key).ljust(width)}  {step.status.ljust(7)}  {why}".rstrip())


def _report_warnings(result: RunResult) -> None:
    """A line on stderr for each warning check that failed (its output was published)."""
    for step, o in result.failed_checks:
        if not o.blocking:
            warn(f"{step}: check {o.name} failed: {o.message} (severity warn: published anyway)")


def _report_errors(result: RunResult, debug: bool = False) -> None:
    """Each failed asset's error on stderr, with the user's traceback when the asset's own
    code raised; with ``debug``, every frame of the failure, Lumbung's included; and where
    the lines it logged and printed are, when it said any."""
    from assets_core.cli.progress import without_key

    for key in result.failed:
        lines = printable_lines(without_key(result.errors.get(key) or "failed", key).strip("\n"))
        _err(f"\n{key} failed: {lines[0]}")
        full = result.tracebacks.get(key) if debug else None
        for line in printable_lines(full.rstrip("\n")) if full else lines[1:]:
            _err(f"  {line}")
        said = result.logged.get(key)
        if said:
            n = f"{said} line{'s' if said != 1 else ''}"
            _err(f"  see: lumbung logs {result.run_id} {printable(key.asset)}  ({n} of output)")


def summary_line(result: RunResult, elapsed: float) -> str:
    """``6 materialized, 0 up to date, 0 failed, 0 skipped in 1.23s``."""
    from assets_core.cli.progress import seconds

    return f"{result.summary()} in {seconds(elapsed)}"


def slowest_line(result: RunResult) -> str | None:
    """The slowest steps that ran, when more than one ran."""
    from assets_core.cli.progress import seconds

    if len(result.durations) < 2:
        return None
    top = sorted(result.durations.items(), key=lambda kv: (-kv[1], str(kv[0])))[:SLOWEST]
    return "slowest: " + ", ".join(f"{k} {seconds(d)}" for k, d in top)


def _summary(
    plan: Plan, result: RunResult, elapsed: float, console: Console | None, debug: bool = False
) -> None:
    if not plan.steps:
        _out(nothing_to_do(plan))
        return
    _report_warnings(result)
    _report_errors(result, debug)
    line = summary_line(result, elapsed)
    slow = slowest_line(result)
    if console is not None:
        style = "bold red" if result.failed else "bold green"
        console.print(line, style=style, markup=False)
        if slow:
            console.print(slow, style="dim", markup=False)
        return
    _out(line)
    if slow:
        _out(slow)


def _recorded(session: Session | None, total: int) -> int | None:
    """How many steps the interrupted run recorded, read back from the state: exact even
    when the interrupt struck between a step's record and its progress event."""
    if session is None:
        return None
    try:
        runs = session.state.runs(limit=1)
        if not runs or runs[0].pid != os.getpid() or runs[0].status != "interrupted":
            return None
        run_id = runs[0].run_id
        return sum(1 for r in session.state.history(limit=2 * total + 100) if r.run_id == run_id)
    except Exception:  # the line must be printed whatever the state says
        return None


def _interrupted(
    tracker: Tracker | None, session: Session | None, exc: KeyboardInterrupt
) -> NoReturn:
    """Ctrl-C or SIGTERM: say what finished (``tracker`` is ``None`` before the run began),
    then leave with 130 (143 for SIGTERM). What finished is recorded already, and the run's
    locks are released (the executor saw to that). Worker threads still running an asset
    are not waited for, and worker processes are killed: their results are not recorded,
    which the next run redoes."""
    from assets_core.execution.interrupts import Terminated

    for signum in (signal.SIGINT, signal.SIGTERM):  # from here on, nothing may cut us short
        signal.signal(signum, signal.SIG_IGN)
    terminated = isinstance(exc, Terminated)
    word = "terminated" if terminated else "interrupted"
    if tracker is None:
        _err(BEFORE_RUN.format(word=word))
    else:
        _err(tracker.interrupted_line(_recorded(session, tracker.total), word))
    import multiprocessing

    for child in multiprocessing.active_children():  # workers ignore SIGTERM: kill them
        child.kill()
    # Release the pool's semaphores (the backend killed and reaped its workers), or the
    # resource tracker warns about them once this process is gone.
    import multiprocessing.util

    getattr(multiprocessing.util, "_run_finalizers", lambda minpriority: None)(0)
    busy = any(
        t.is_alive() and not t.daemon and t is not threading.main_thread()
        for t in threading.enumerate()
    )
    if not busy and session is not None:
        session.close()  # else an asset still uses it; the files are safe left open (crash-safe)
    sys.stdout.flush()
    sys.stderr.flush()
    # Not a normal exit: interpreter shutdown would join running workers (an asset could keep
    # us waiting for minutes) and run native libraries' teardown next to them.
    os._exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
