"""Measuring whole processes and showing the results: the table rows, their targets, the runner.

Shared by ``bench/run.py`` (the suite) and ``bench/dagster_compare.py`` (its optional Dagster
half). A ``Row`` is one line of the result table; ``TARGETS`` holds the targets of issue 7 by
row family and size; ``Runner`` starts and times processes (a failure or timeout raises
``Failed``); ``attempt`` turns a ``Failed`` into the row's note so one failure never stops the
suite; ``same_outputs`` compares two folders of Parquet outputs value for value.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from generate import read_graph

#: targets of issues 7 and 13: (kind, N) -> (comparison, limit); kind names a row family
TARGETS: dict[tuple[str, int | None], tuple[str, float]] = {
    ("help", None): ("<=", 0.25),
    ("version", None): ("<=", 0.25),
    ("fresh", 1000): ("<=x", 1.2),  # against the in-memory baseline
    ("noop", 1000): ("<=", 1.0),
    ("noop", 10_000): ("<=", 3.0),
    ("plan", 10_000): ("<=", 2.0),
    ("list", 10_000): ("<=", 2.0),
    ("planning", 10_000): ("<=", 0.3),
    ("planning", 100_000): ("<=", 5.0),
    ("speedup", None): (">=x", 1.7),
}


class Failed(Exception):
    """A measured command failed or timed out; the row shows ``note`` instead of a time."""

    def __init__(self, note: str) -> None:
        super().__init__(note)
        self.note = note


@dataclass
class Row:
    """One line of the result table."""

    what: str
    value: float | None = None  # seconds (median)
    versus: float | None = None  # what the ratio compares against, seconds (median)
    ratio: float | None = None
    kind: str = ""
    n: int | None = None
    note: str = ""

    def target(self) -> tuple[str, float] | None:
        """The target this row is held to, if any."""
        return TARGETS.get((self.kind, self.n)) or TARGETS.get((self.kind, None))

    def met(self) -> str:
        """``yes``, ``NO`` or empty (no target, or nothing measured)."""
        target = self.target()
        if target is None:
            return ""
        op, limit = target
        measured = self.ratio if op.endswith("x") else self.value
        if measured is None:
            return "n/a"
        ok = measured <= limit if op.startswith("<=") else measured >= limit
        return "yes" if ok else "NO"


# --------------------------------------------------------------------------- running

#: the environment of every measured process: this one, but free to write bytecode caches as a
#: user's Python is (a ``PYTHONDONTWRITEBYTECODE`` here would make every start recompile)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Runner:
    """Runs and times whole processes."""

    timeout: float
    lumbung: list[str]
    python: str = sys.executable
    warmup: bool = True
    """whether every measurement starts with one run that is not counted"""
    last_cpu: float = 0.0
    """CPU seconds (user + system) of the last process run, its children included"""
    median_cpu: float = 0.0
    """the median CPU seconds of the runs of the last ``median``"""
    env: dict[str, str] | None = None
    """the environment of its processes (default ``CHILD_ENV``)"""

    def run(
        self, cmd: Sequence[str], cwd: Path, expect: str | None = None
    ) -> tuple[float, subprocess.CompletedProcess[str]]:
        """Run ``cmd`` in ``cwd``; its wall-clock seconds and result. A non-zero exit, a
        timeout, or output lacking ``expect`` raises ``Failed``."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                list(cmd),
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
                env=CHILD_ENV if self.env is None else self.env,
            )
        except subprocess.TimeoutExpired as exc:
            raise Failed(f"timeout after {self.timeout:.0f}s") from exc
        except OSError as exc:
            raise Failed(f"cannot start {cmd[0]}: {exc.strerror}") from exc
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.last_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            last = (proc.stderr.strip() or proc.stdout.strip() or "?").splitlines()[-1]
            raise Failed(f"exit {proc.returncode}: {last[:80]}")
        if expect is not None and expect not in proc.stdout:
            raise Failed(f"output lacks {expect!r}")
        return elapsed, proc

    def lumbung_cmd(self, *args: str) -> list[str]:
        """The ``lumbung`` command line with ``args``."""
        return [*self.lumbung, *args]

    def median(
        self, repeat: int, cmd: Sequence[str], cwd: Path, expect: str | None = None
    ) -> float:
        """The median seconds of ``repeat`` runs after one warm-up run."""
        if self.warmup:
            self.run(cmd, cwd, expect)
        walls, cpus = [], []
        for _ in range(repeat):
            walls.append(self.run(cmd, cwd, expect)[0])
            cpus.append(self.last_cpu)
        self.median_cpu = statistics.median(cpus)
        return statistics.median(walls)


@contextmanager
def attempt(rows: list[Row], row: Row) -> Iterator[Row]:
    """Measure into ``row`` inside the block, then append it to ``rows`` and print it as
    progress; a ``Failed`` in the block becomes the row's note instead of stopping the suite."""
    try:
        yield row
    except Failed as exc:
        row.note = exc.note
    rows.append(row)
    print(f"  {format_row(row)}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- checking


def same_outputs(project: Path, ours: Path, theirs: Path) -> str:
    """Compare every asset's Parquet output in ``ours`` with the one in ``theirs``, value for
    value (as pandas frames); a difference raises ``Failed``."""
    import pyarrow.parquet as pq

    names = [a[0] for a in read_graph(project)["assets"]]
    differ = []
    for nm in names:
        mine = pq.read_table(ours / f"{nm}.parquet").to_pandas()
        other = pq.read_table(theirs / f"{nm}.parquet").to_pandas()
        if not mine.equals(other):
            differ.append(nm)
    if differ:
        raise Failed(f"outputs differ from the baseline: {', '.join(differ[:3])}")
    return f"same outputs as the baseline ({len(names)}/{len(names)})"


# --------------------------------------------------------------------------- the table


def fmt_s(seconds: float | None) -> str:
    """Seconds for the table."""
    if seconds is None:
        return "-"
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def fmt_target(row: Row) -> str:
    """The row's target for the table."""
    target = row.target()
    if target is None:
        return ""
    op, limit = target
    sign = "<=" if op.startswith("<=") else ">="
    return f"{sign} {limit:g}x" if op.endswith("x") else f"{sign} {limit:g} s"


HEADER = ("what", "median", "vs", "ratio", "target", "met", "note")


def cells(row: Row) -> tuple[str, ...]:
    """The row's cells, in ``HEADER`` order."""
    ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
    vs = "" if row.versus is None else fmt_s(row.versus)
    return (row.what, fmt_s(row.value), vs, ratio, fmt_target(row), row.met(), row.note)


def format_row(row: Row) -> str:
    """One row as a line of progress."""
    return " | ".join(c for c in cells(row) if c)


def table(rows: list[Row]) -> str:
    """The result table in Markdown (readable as plain text too)."""
    body = [cells(r) for r in rows]
    widths = [max(len(c) for c in col) for col in zip(HEADER, *body, strict=False)]
    lines = []
    for i, line in enumerate([HEADER, *body]):
        lines.append(
            "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        )
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def rotation(
    lumbung: str, baseline: str | None, project: Path, also: Path | None
) -> dict[str, list[str]]:
    """The processes a bench that wraps ``lumbung materialize`` and ``baseline.py`` takes in
    turn, by name: this Lumbung (``python -c`` of the bootstrap ``lumbung``), with ``also`` the
    other source tree as ``[name]`` (the bootstrap is given its path first), and the baseline
    (``python -c`` of the bootstrap ``baseline``, given the bench folder and the project)."""
    python = sys.executable
    who = {"lumbung": [python, "-c", lumbung]}
    if also is not None:
        who[f"[{also.name}]"] = [python, "-c", lumbung, str(also.resolve())]
    if baseline is not None:
        here = Path(__file__).resolve().parent
        who["baseline"] = [python, "-c", baseline, str(here), str(project)]
    return who
