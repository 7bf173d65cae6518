"""What every command shares: the global options, loading the project, errors and exit codes.

Exit codes: 0 ok, 1 an asset failed, 2 a usage, project, definition, selection or state
error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). Errors print one line
(``error: ...``) on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assets_core.cli.printable import has_controls, printable, printable_lines
from assets_core.errors import LumbungError

if TYPE_CHECKING:
    from rich.console import Console

    from assets_core.model.keys import AssetKey
    from assets_core.planning.planner import Plan
    from assets_core.planning.status import AssetStatus
    from assets_core.session import Session

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process SIGTERM ended


@dataclass
class CliState:
    """The global options, kept on the typer context."""

    project: str | None = None
    debug: bool = False


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


_REPORTED: list[bool] = []  # holds True once an interrupt was reported on stderr


def interrupt_reported() -> bool:
    """Whether this process has printed its line about a Ctrl-C already."""
    return bool(_REPORTED)


def fail(message: str, code: int = EXIT_USAGE, debug: bool = False) -> typer.Exit:
    """Print ``error: <message>`` (each line of a multi-line message indented, control
    characters escaped) on stderr and return the ``typer.Exit`` to raise."""
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        _REPORTED.append(True)
    if debug:
        traceback.print_exc()
    lines = printable_lines(str(message).strip("\n"))
    sys.stderr.write(f"error: {lines[0]}\n")
    for line in lines[1:]:
        sys.stderr.write(f"  {line}\n")
    sys.stderr.flush()
    return typer.Exit(code)


@contextmanager
def guard(ctx: typer.Context) -> Iterator[None]:
    """Turn Lumbung's errors into one line and an exit code; Ctrl-C into exit 130, SIGTERM
    into exit 143."""
    debug = state_of(ctx).debug
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        import signal

        from assets_core.execution.interrupts import Terminated

        for signum in (signal.SIGINT, signal.SIGTERM):  # a second one must not cut the exit
            signal.signal(signum, signal.SIG_IGN)
        if isinstance(exc, Terminated):
            raise fail("terminated", EXIT_TERMINATED, debug) from None
        raise fail("interrupted", EXIT_INTERRUPTED, debug) from None
    except LumbungError as exc:
        raise fail(str(exc), EXIT_USAGE, debug) from None


def load_session(ctx: typer.Context, read_only: bool = False) -> Session:
    """The project named by ``--project`` (or found upward from the current folder);
    ``read_only`` for a command that never writes outputs (``Session``).

    The garbage collector is switched off from here on: nearly everything a command makes
    (the project, its state, its plan) lives until the command ends, so the collector's
    passes over it would find nothing to free. ``materialize`` switches it back on, with
    these objects frozen out of its passes, before any asset code runs."""
    from assets_core.session import load_project

    gc.disable()
    return load_project(state_of(ctx).project, read_only=read_only)


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


# Options reused across commands.
SelectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--select",
        "-s",
        metavar="SELECTOR",
        help="Assets to include (dbt selection syntax: +x, x+, @x, tag:, group:, ...). "
        "Repeat or separate with spaces for a union.",
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude", metavar="SELECTOR", help="Assets to leave out, same syntax; subtracted last."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Treat every selected asset as stale.")]
PartitionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--partition",
        metavar="KEY",
        help="One partition of the selected partitioned assets (repeat for more).",
    ),
]
PartitionsOpt = Annotated[
    str | None,
    typer.Option(
        "--partitions",
        metavar="RANGES",
        help="Partitions of the selected partitioned assets: keys and inclusive ranges, "
        "comma-separated (2024-01-01..2024-01-31,2024-02-05; region=eu for one dimension).",
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        help="The time partitions are listed at (2024-01-05, 2024-01-05T13:00+01:00); "
        "default: $LUMBUNG_NOW, else now.",
    ),
]


def partitions_text(partition: list[str] | None, partitions: str | None) -> str | None:
    """``--partition`` keys and ``--partitions`` ranges as one selection text."""
    pieces = [*(partition or ()), *([partitions] if partitions else [])]
    return ",".join(pieces) if pieces else None


def joined(values: list[str] | None) -> str | None:
    """Repeated ``-s`` options as one selection string (a union)."""
    if not values:
        return None
    text = " ".join(v for v in values if v.strip())
    return text or None


# ---- helpers shared by the commands ------------------------------------------------------


def warn(message: str) -> None:
    """A warning on stderr (``warning: ...``), never on stdout where data goes."""
    sys.stderr.write(f"warning: {printable(message)}\n")
    sys.stderr.flush()


@contextmanager
def open_session(ctx: typer.Context, read_only: bool = False) -> Iterator[Session]:
    """``load_session`` that closes the project's state store and IO managers after, and
    prints the session's notes (``note: ...``, on stderr: outputs a writer kept it from
    checking)."""
    session = load_session(ctx, read_only)
    try:
        yield session
    finally:
        session.close()
        print_notes(session)


def print_notes(session: Session) -> None:
    """The session's notes on stderr, one ``note: ...`` line each (what it could not check)."""
    for line in session.notes:
        sys.stderr.write(f"note: {printable(line)}\n")
    sys.stderr.flush()


class Statuses:
    """``session.statuses()`` of every asset, computed at most once per command however often
    it is asked for (a ``status:`` selection and a status column share one plan)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._found: Mapping[AssetKey, AssetStatus] | None = None

    def __call__(self) -> Mapping[AssetKey, AssetStatus]:
        if self._found is None:
            self._found = self._session.statuses()
        return self._found


def select_keys(
    session: Session,
    select: list[str] | None,
    exclude: list[str] | None,
    statuses: Callable[[], Mapping[AssetKey, AssetStatus]] | None = None,
) -> frozenset[AssetKey]:
    """The keys ``-s``/``--exclude`` name (DESIGN §6); its warnings go to stderr. A
    ``status:`` criterion reads ``statuses`` (default: the session's, of every asset)."""
    from assets_core.planning.selection import select as run_select

    found_statuses = statuses or Statuses(session)

    def status() -> Mapping[AssetKey, str]:
        return {k: s.status for k, s in found_statuses().items()}

    found = run_select(
        session.graph, lambda: session.infos, joined(select), joined(exclude), status
    )
    for message in found.warnings:
        warn(message)
    return found.keys


def plan_selection(
    session: Session,
    select: list[str] | None,
    exclude: list[str] | None,
    force: bool = False,
    *,
    partitions: str | None = None,
    as_of: str | None = None,
) -> Plan:
    """``session.plan`` for ``-s``/``--exclude`` (the selection's warnings come first in
    ``Plan.warnings``, so ``plan --json`` carries them too), and the partitions options.
    Prints nothing."""
    return session.plan(
        joined(select), joined(exclude), force=force, partitions=partitions, as_of=as_of
    )


def nothing_to_do(plan: Plan) -> str:
    """The line a plan with no steps prints: how many selected assets are fresh, or that the
    selection matched none (sources are observed, never materialized)."""
    n = len(plan.selected)
    if n == 0:
        return "Nothing to do: the selection matched no asset to materialize."
    noun = "asset is" if n == 1 else "assets are"
    return f"Nothing to do: {n} selected {noun} fresh."


def when(timestamp: float | None) -> str:
    """A moment as people read it: local time, to the second, with its UTC offset."""
    if not timestamp:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(timestamp).astimezone().isoformat(sep=" ", timespec="seconds")


def seconds(value: float | None) -> str:
    """A duration: ``0.04s``, ``12.3s``, ``4m 05s``."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes}m {rest:02d}s"


def size(n: int | None) -> str:
    """A byte count: ``812 B``, ``4.1 KiB``, ``2.0 MiB``."""
    if n is None:
        return "-"
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"


def first_line(text: str | None) -> str:
    """The first line of an error (its one-line summary), control characters escaped."""
    return printable((text or "").strip().split("\n")[0]) if (text or "").strip() else ""


# ---- plain, fast text output ------------------------------------------------------------
# rich renders a few hundred lines per second at best; a list or plan of 10,000 assets must
# print in well under a second, so long outputs are padded by hand and coloured with ANSI
# codes (on a terminal only, and never with NO_COLOR set).

_ANSI = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}


def use_color() -> bool:
    """Whether stdout is a terminal that may be coloured."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, style: str, color: bool) -> str:
    """``text`` in ``style`` (words from ``bold dim red green yellow blue magenta cyan``)
    when ``color``; pad before painting, since the codes take no room on screen."""
    if not color or not style:
        return text
    codes = ";".join(_ANSI[s] for s in style.split() if s in _ANSI)
    return f"\x1b[{codes}m{text}\x1b[0m" if codes else text


def write_lines(lines: Iterable[str]) -> None:
    """Lines on stdout, in one write."""
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def columns(
    rows: Sequence[Sequence[str]], styles: Sequence[Sequence[str]] | None = None
) -> list[str]:
    """Rows as left-aligned columns two spaces apart (the last column unpadded), control
    characters escaped; ``styles`` (same shape, ``""`` for none) paints cells on a terminal."""
    if not rows:
        return []
    if has_controls("".join(cell for row in rows for cell in row)):  # one check for them all
        rows = [[printable(cell) for cell in row] for row in rows]
    color = styles is not None and use_color()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for r, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i < len(widths) else cell for i, cell in enumerate(row)]
        if color and styles is not None:
            cells = [paint(c, s, True) for c, s in zip(cells, styles[r], strict=True)]
        out.append("  ".join(cells).rstrip())
    return out
