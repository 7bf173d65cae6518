"""Progress of a run as the executor reports it: a live display on a terminal, plain lines
otherwise, and the counts an interrupted run reports.

Events arrive on the executor's scheduling thread (the caller's), so the state here is only
ever changed by one thread; the live display's refresh thread only reads it, through copies
taken in one step. Lines the steps say (``log``) arrive from any thread: each is written
whole, on stderr, or above the live block on a terminal.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, TYPE_CHECKING

from assets_core.cli.printable import printable, printable_lines

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from assets_core.execution.result import Event
    from assets_core.model.keys import StepKey
    from assets_core.storage.state import LogLine

FINISHED = frozenset({"materialized", "up_to_date", "failed", "skipped"})
LABELS = {
    "materialized": "materialized",
    "up_to_date": "up to date",
    "failed": "FAILED",
    "skipped": "skipped",
    "retry": "retrying",
}
STYLES = {
    "materialized": "green",
    "up_to_date": "dim",
    "failed": "bold red",
    "skipped": "yellow",
    "retry": "magenta",
}
_WIDTH = max(len(label) for label in LABELS.values())


def seconds(value: float) -> str:
    """A duration as people read it: ``0.12s``, ``12.3s``, ``2m 05s``."""
    if value < 10:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes}m {rest:02d}s"


def without_key(message: str, key: StepKey) -> str:
    """An error message without the ``<key>: `` it starts with (the line already names it)."""
    prefix = f"{key}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def step_line(event: Event) -> str:
    """One finished (or retried) step as a plain line: ``materialized  stg_orders  0.12s``."""
    label = LABELS.get(event.kind, event.kind).ljust(_WIDTH)
    text = f"{label}  {event.key}"
    if event.kind == "materialized":
        text += f"  {seconds(event.duration)}"
    elif event.kind == "failed" and event.message:
        text += f"  {printable(without_key(event.message, event.key))}"
    elif event.kind in ("skipped", "retry") and event.message:
        text += f"  ({printable(event.message)})"
    return text


def log_lines(line: LogLine) -> list[str]:
    """A line a step said, as printed: ``orders | INFO: loaded 3 rows``, made ``printable``;
    a message of several lines (a traceback) continues indented."""
    from assets_core.execution.capture import line_text

    first, *rest = printable_lines(line_text(line))
    return [first, *(f"    {text}" for text in rest)]


class Tracker:
    """Counts what a run has done so far; the base of every display, and enough on its own
    when nothing is shown (``--json``)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.counts: dict[str, int] = dict.fromkeys(FINISHED, 0)
        self.running: dict[StepKey, float] = {}
        self.started = time.monotonic()
        self._writing = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.kind == "waiting":  # before anything runs: another run holds assets
            self.note(event.message)
            return
        if event.kind == "started":
            self.running[event.key] = time.monotonic()
        elif event.kind in FINISHED:
            self.running.pop(event.key, None)
            self.done += 1
            self.counts[event.kind] += 1
        self.show(event)

    def show(self, event: Event) -> None:
        """Render one event (nothing here)."""

    def note(self, text: str) -> None:
        """A line about the run rather than a step (that it waits for another run): stderr."""
        sys.stdout.flush()
        sys.stderr.write(printable(text) + "\n")
        sys.stderr.flush()

    def log(self, line: LogLine) -> None:
        """A line a step said, shown as it comes (from any thread): on stderr."""
        text = "".join(f"{part}\n" for part in log_lines(line))
        with self._writing:
            sys.stdout.flush()
            sys.stderr.write(text)
            sys.stderr.flush()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def interrupted_line(self, recorded: int | None = None, word: str = "interrupted") -> str:
        """What an interrupted run did, in one line: how many steps finished (and are
        recorded: ``recorded`` when the state was read, else the steps reported finished),
        how many did not, and what to do. ``word`` says how it stopped (``terminated``)."""
        done = self.done if recorded is None else recorded
        if done >= self.total:
            return f"{word}: all {self.total} assets finished and are recorded."
        left = self.total - done
        running = len(self.running)
        was = f" ({running} {'was' if running == 1 else 'were'} running)" if running else ""
        return (
            f"{word}: {done} of {self.total} assets finished and are recorded; "
            f"{left} did not{was}; run the same command again to finish them."
        )


class PlainProgress(Tracker):
    """One line per finished step, written as it happens (for logs, pipes and CI)."""

    def __init__(self, total: int, out: IO[str] | None = None) -> None:
        super().__init__(total)
        self.out = out if out is not None else sys.stdout

    def show(self, event: Event) -> None:
        if event.kind == "started":
            return
        self.out.write(step_line(event) + "\n")
        self.out.flush()


class LiveProgress(Tracker):
    """On a terminal: finished steps scroll above a live block listing every running asset
    with its elapsed time, the count done/total and the run's elapsed time."""

    def __init__(self, total: int, console: Console) -> None:
        super().__init__(total)
        self.console = console
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        from rich.live import Live

        self._live = Live(
            console=self.console,
            get_renderable=self._render,
            refresh_per_second=8,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def log(self, line: LogLine) -> None:
        """Printed above the live block, like ``note``."""
        from rich.text import Text

        from assets_core.execution.capture import rank

        loud = rank(line.stream, line.level)
        style = "red" if loud >= 40 else "yellow" if loud >= 30 else "dim"
        self.console.print(Text("\n".join(log_lines(line)), style=style))

    def note(self, text: str) -> None:
        """Printed above the live block (stderr would break its redrawing)."""
        from rich.text import Text

        self.console.print(Text(printable(text), style="yellow"))

    def show(self, event: Event) -> None:
        if event.kind == "started":
            return
        from rich.text import Text

        label = LABELS.get(event.kind, event.kind).ljust(_WIDTH)
        line = Text()
        line.append(label, style=STYLES.get(event.kind, ""))
        line.append(f"  {event.key}", style="bold")
        rest = step_line(event)[len(label) + 2 + len(str(event.key)) :]
        if rest:
            line.append(rest, style="dim" if event.kind != "failed" else "red")
        self.console.print(line)

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = time.monotonic()
        running = sorted(self.running.items(), key=lambda item: item[1])  # one copy, then read
        table = Table.grid(padding=(0, 2))
        table.add_column()
        table.add_column()
        table.add_column(justify="right", style="cyan")
        shown = running[:20]
        for key, began in shown:
            table.add_row("  running", str(key), seconds(now - began))
        if len(running) > len(shown):
            table.add_row("", Text(f"... and {len(running) - len(shown)} more", style="dim"), "")
        footer = Text(
            f"{self.done}/{self.total} done, {len(running)} running, "
            f"{seconds(now - self.started)} elapsed",
            style="bold",
        )
        return Group(table, footer)


def make_progress(total: int, enabled: bool, console: Console | None = None) -> Tracker:
    """The display for a run of ``total`` steps: live on ``console`` (given when stdout is a
    terminal), plain lines otherwise, nothing but counting when not ``enabled``."""
    if not enabled:
        return Tracker(total)
    if console is not None:
        return LiveProgress(total, console)
    return PlainProgress(total)
