"""Who holds the warehouse file, and the lines that say so.

DuckDB lets many processes open a file read-only, or one open it read-write. When the lock
it needs is taken, its error names the process holding it: ``Conflicting lock is held in
<executable> (PID <n>)``, and, when that process holds it read-only while this one asked to
write, adds that this one could open it read-only. ``holder_of`` reads both, and the
holder's command line from ``/proc/<pid>/cmdline`` where the system has it and allows it.
The pid is the one the holder has in this process's PID namespace; DuckDB gives 0 for a
process outside it, which is then "another process".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_PID = re.compile(r"\(PID (\d+)\)")
#: what DuckDB adds when the holder has the file open read-only and this process asked to write
_HOLDER_READS = "open this database in read-only mode"
#: the longest command line shown (the rest is cut, with an ellipsis)
_COMMAND_CHARS = 100


@dataclass(frozen=True, slots=True)
class Holder:
    """The process holding the warehouse file, as far as it can be told."""

    pid: int | None
    command: str | None
    #: whether it holds the file read-only (known only when this process asked to write)
    reads_only: bool

    def __str__(self) -> str:
        if not self.pid:
            return "another process"
        if self.command:
            return f"pid {self.pid} ({self.command})"
        return f"pid {self.pid}"


def holder_of(error: BaseException) -> Holder:
    """The holder DuckDB's lock error ``error`` names."""
    text = str(error)
    found = _PID.search(text)
    pid = int(found.group(1)) if found else None
    return Holder(pid, command_of(pid) if pid else None, _HOLDER_READS in text)


def command_of(pid: int) -> str | None:
    """Process ``pid``'s command line, its program without its folder (``python3.11
    notebook.py``), control characters escaped and cut to 100 characters; ``None`` when it
    cannot be read (no ``/proc``, another user's process on a hardened system, gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    args = [a.decode(errors="replace") for a in raw.split(b"\0")]
    while args and not args[-1]:
        args.pop()
    if not args:
        return None  # a zombie, or a kernel thread
    args[0] = Path(args[0]).name or args[0]
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(args))
    if len(text) > _COMMAND_CHARS:
        text = text[: _COMMAND_CHARS - 1] + "…"
    return text


def waiting_line(path: Path, holder: Holder, timeout: float) -> str:
    """What a process waiting for the file prints, once."""
    return f"waiting up to {timeout:g} s for {path}, held by {holder}…"


def locked_message(path: Path, holder: Holder, timeout: float) -> str:
    """The one line when the file stayed held for the whole wait."""
    how = " read-only" if holder.reads_only else ""
    waited = f" after {timeout:g} s" if timeout > 0 else ""
    return (
        f"{path} is held{how} by {holder}{waited}; close that process's connection to it, "
        "or let it finish, then run the command again."
    )


def unchecked_note(path: Path, holder: Holder) -> str:
    """The note a read-only command prints when a writer holds the file, so the tables in it
    could not be looked at: what was not checked, and what was assumed instead."""
    return (
        f"{path} is held for writing by {holder}, so its tables were not checked for "
        "changes made by hand; their statuses are as last recorded."
    )
