"""What a command asset (``spec.CommandAsset``, declared by ``command.command_asset``) does:
its code version's texts, and running it. Kept apart from ``spec`` so that ``spec`` imports it
without a cycle.

The command runs without a shell (the list is the argument vector) in the folder of the module
that declared it; ``{partition}`` in an argument or an output becomes the step's partition key.
Its stdout and stderr are written to the step's streams (so kept in the step's logs); a
non-zero exit fails the step with the last lines of its stderr, and so does a declared output
that is not there. The result is a table: one row per output (``path``, ``bytes``, ``digest``:
XXH3-128 of its content), or the command's ``stdout`` when it declares no outputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from assets_core.errors import LumbungError

__all__ = ["PARTITION", "STDERR_TAIL_LINES", "CommandFailed", "command_texts", "run_command"]

#: how many of a failed command's last stderr lines its error keeps
STDERR_TAIL_LINES = 20
PARTITION = "{partition}"


class CommandFailed(LumbungError, RuntimeError):
    """A command asset's command exited non-zero, could not start, or left an output out."""


def named_files(cmd: tuple[str, ...], folder: str) -> list[str]:
    """The arguments that name a file, relative to ``folder`` (the script, say)."""
    base = Path(folder)
    return [
        a
        for a in cmd
        if PARTITION not in a
        and not a.startswith("-")
        and not Path(a).is_absolute()
        and (base / a).is_file()
    ]


def command_texts(
    cmd: tuple[str, ...], outputs: tuple[str, ...], folder: str
) -> tuple[tuple[str, str], ...]:
    """What the code version hashes: the command, the outputs, and the bytes of each file
    the command names (as text, losslessly), read now."""
    texts = [("cmd", json.dumps(list(cmd))), ("outputs", json.dumps(list(outputs)))]
    base = Path(folder)
    for name in named_files(cmd, folder):
        try:
            content = (base / name).read_bytes().decode("latin-1")
        except OSError:
            content = "missing"
        texts.append((f"file:{name}", content))
    return tuple(texts)


def run_command(
    cmd: tuple[str, ...], outputs: tuple[str, ...], folder: str, partition: str | None
) -> Any:
    """Run the command; its outputs' digests (or its stdout) as a ``pyarrow.Table``."""
    import pyarrow as pa
    import xxhash

    key = partition or ""
    args = [a.replace(PARTITION, key) for a in cmd]
    shown = " ".join(args)
    try:
        done = subprocess.run(
            args, cwd=folder, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        raise CommandFailed(f"`{shown}` could not start: {exc.strerror or exc}") from None
    if done.stdout:
        sys.stdout.write(done.stdout)
    if done.stderr:
        sys.stderr.write(done.stderr)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-STDERR_TAIL_LINES:])
        raise CommandFailed(
            f"`{shown}` exited with {done.returncode}"
            + (f"; its stderr ends:\n{tail}" if tail else "")
        )
    if not outputs:
        return pa.table({"stdout": [done.stdout]})
    rows: dict[str, list[Any]] = {"path": [], "bytes": [], "digest": []}
    for output in outputs:
        path = Path(folder) / output.replace(PARTITION, key)
        digest = xxhash.xxh3_128()
        try:
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            size = path.stat().st_size
        except OSError as exc:
            raise CommandFailed(
                f"`{shown}` exited 0 but did not write its output {output!r} "
                f"({exc.strerror or exc}); write it, or fix outputs=."
            ) from None
        rows["path"].append(output.replace(PARTITION, key))
        rows["bytes"].append(size)
        rows["digest"].append(digest.hexdigest())
    return pa.table(rows)
