"""A tick's run in its own process: ``lumbung materialize`` started through ``child`` (so it
dies with the server), its output written to ``<storage>/serve-logs/<name>/<tick>.log``.

A crashing or leaking run cannot take the server down; the server learns how it went from its
exit code (``outcome_of``) and finds its run id in the state store by its pid.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from assets_core.automation.evaluate import Launch
from assets_core.storage.ticks import TickOutcome

__all__ = ["LOGS_FOLDER", "Child", "log_path", "outcome_of", "start"]

LOGS_FOLDER = "serve-logs"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class Child:
    """A running tick: its launch, its process and when it started (a Unix time)."""

    launch: Launch
    process: subprocess.Popen[bytes]
    started_at: float
    log: Path


def log_path(storage: Path, launch: Launch) -> Path:
    """Where the output of ``launch``'s process goes."""
    name = _UNSAFE.sub("_", launch.name)
    tick = _UNSAFE.sub("_", launch.tick)
    return storage / LOGS_FOLDER / name / f"{tick}.log"


def start(project: Path, storage: Path, launch: Launch, started_at: float) -> Child:
    """Start ``launch``'s run: ``lumbung --project PROJECT materialize ...``."""
    log = log_path(storage, launch)
    log.parent.mkdir(parents=True, exist_ok=True)
    args = ["--project", str(project), "materialize", *launch.args()]
    command = [sys.executable, "-m", "assets_core.automation.child", str(os.getpid()), *args]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=project,
            start_new_session=True,  # Ctrl-C in the server's terminal is the server's alone
        )
    return Child(launch, process, started_at, log)


#: exit codes of `lumbung materialize` that mean the run was stopped, not that it failed
_STOPPED = frozenset({130, 143, -2, -9, -15})


def outcome_of(code: int) -> TickOutcome:
    """A run's exit code as a tick's outcome."""
    if code == 0:
        return "success"
    return "interrupted" if code in _STOPPED else "failed"


def last_line(log: Path) -> str | None:
    """The last non-empty line the run wrote (its error, when it failed)."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = [x for x in f.read().decode("utf-8", "replace").splitlines() if x.strip()]
    except OSError:
        return None
    return lines[-1].strip() if lines else None
