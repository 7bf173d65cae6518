"""What every command shares: the global options, loading the project, errors and exit codes.

Exit codes: 0 ok, 1 an asset failed, 2 a usage, project, definition, selection or state
error, 130 interrupted. Errors print one line (``error: ...``) on stderr; ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assets_core.errors import LumbungError

if TYPE_CHECKING:
    from rich.console import Console

    from assets_core.definitions import Definitions

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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


def fail(message: str, code: int = EXIT_USAGE, debug: bool = False) -> typer.Exit:
    """Print ``error: <message>`` (each line of a multi-line message indented) on stderr
    and return the ``typer.Exit`` to raise."""
    if debug:
        traceback.print_exc()
    lines = str(message).splitlines() or [""]
    sys.stderr.write(f"error: {lines[0]}\n")
    for line in lines[1:]:
        sys.stderr.write(f"  {line}\n")
    sys.stderr.flush()
    return typer.Exit(code)


@contextmanager
def guard(ctx: typer.Context) -> Iterator[None]:
    """Turn Lumbung's errors into one line and an exit code; Ctrl-C into exit 130."""
    debug = state_of(ctx).debug
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        raise fail("interrupted", EXIT_INTERRUPTED, debug) from None
    except LumbungError as exc:
        raise fail(str(exc), EXIT_USAGE, debug) from None
    except KeyError as exc:  # Definitions.get: "no asset 'x'. Did you mean 'y'?"
        raise fail(str(exc.args[0]) if exc.args else str(exc), EXIT_USAGE, debug) from None


def load_definitions(ctx: typer.Context) -> Definitions:
    """The project named by ``--project`` (or found upward from the current folder)."""
    from assets_core.definitions import load_project

    return load_project(state_of(ctx).project)


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
        help="Assets to include (dbt selection syntax: +x, x+, @x, tag:, group:, ...). "
        "Repeat or separate with spaces for a union.",
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Assets to leave out, same syntax; subtracted last."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Treat every selected asset as stale.")]


def joined(values: list[str] | None) -> str | None:
    """Repeated ``-s`` options as one selection string (a union)."""
    if not values:
        return None
    text = " ".join(v for v in values if v.strip())
    return text or None
