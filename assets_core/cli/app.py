"""The typer application: global options, and the one list of commands.

Each command is a plain function in its own module under ``assets_core.cli``; ``COMMANDS``
below is the only place they are registered, in the order ``lumbung --help`` lists them.
A command's module is imported, and its click command built from its signature, when the
command is asked for (``_Commands``): a run of one command pays for that one, where importing
and building all sixteen cost about 25 ms of CPU before it ran (``lumbung --help`` builds all).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info
from typer.models import CommandInfo

from assets_core.cli.common import EXIT_USAGE, CliState
from assets_core.cli.printable import printable

#: every command, by name, in the order of ``lumbung --help``: its module under
#: ``assets_core.cli`` and its function there
COMMANDS: dict[str, str] = {
    "list": "cmd_list:list_assets",
    "plan": "cmd_plan:plan_command",
    "materialize": "cmd_materialize:materialize",
    "check": "cmd_check:check",
    "show": "cmd_show:show",
    "lineage": "cmd_lineage:lineage",
    "history": "cmd_history:history",
    "logs": "cmd_logs:logs",
    "partitions": "cmd_partitions:partitions",
    "wipe": "cmd_wipe:wipe",
    "unlock": "cmd_unlock:unlock",
    "serve": "cmd_serve:serve",
    "schedules": "cmd_schedules:schedules",
    "init": "cmd_init:init",
    "ui": "cmd_ui:ui",
    "import-dbt": "cmd_import_dbt:import_dbt",
}


class _Commands(Mapping[str, Any]):
    """``COMMANDS`` as click commands, each built the first time it is asked for."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        built = self._built.get(name)
        if built is None:
            module, _, function = COMMANDS[name].partition(":")  # KeyError: no such command
            callback = getattr(importlib.import_module(f"assets_core.cli.{module}"), function)
            built = get_command_from_info(
                CommandInfo(name=name, callback=callback),
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
            self._built[name] = built
        return built

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class _Group(TyperGroup):
    """The ``lumbung`` group, its commands those of ``COMMANDS``, built on demand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Commands()  # type: ignore[assignment]


app = typer.Typer(
    cls=_Group,
    name="lumbung",
    help="Asset-centric data pipelines: plan and materialize exactly what is stale.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        # the package's own constant: importlib.metadata scans every installed distribution
        from assets_core import __version__

        typer.echo(f"lumbung {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            "-p",
            metavar="PATH",
            help="Project folder (with lumbung.toml or [tool.lumbung] in pyproject.toml), "
            "a .py file, or a module name. Default: search upward from here.",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(project=project, debug=debug)


def _click_exceptions() -> Any:
    """click's exceptions module: vendored by newer typer (``typer._click``), else click's."""
    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # pragma: no cover - typer releases that depend on click
        return importlib.import_module("click.exceptions")


def run() -> None:
    """Run the app; usage errors exit 2 (click's convention, and ours) with one line,
    ``error: <what> (see `lumbung CMD -h`).``, like every other error."""
    errors = _click_exceptions()
    no_args = getattr(errors, "NoArgsIsHelpError", ())
    try:
        code = app(args=spread_selections(sys.argv[1:]), standalone_mode=False, prog_name="lumbung")
    except no_args as exc:  # `lumbung` alone: the help, on stderr, exit 2 (like click)
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except errors.ClickException as exc:
        raise SystemExit(usage_error(exc)) from None
    except typer.Abort:
        sys.stderr.write("Aborted!\n")
        raise SystemExit(1) from None
    except SystemExit as exc:
        if exc.code not in (None, 0) and not isinstance(exc.code, int):
            raise SystemExit(EXIT_USAGE) from exc
        raise
    raise SystemExit(code if isinstance(code, int) else 0)


#: options whose value is a selection; like dbt's, each takes every word after it
SELECTION_OPTIONS = frozenset({"-s", "--select", "--exclude"})


def spread_selections(args: list[str]) -> list[str]:
    """``-s a b --exclude c d`` as ``-s a -s b --exclude c --exclude d``: the words after a
    selection option, up to the next option, are each a value of it (a union, as in dbt)."""
    out: list[str] = []
    option: str | None = None  # the selection option the words now belong to
    takes_value = False  # the previous word was the option itself: this one is its value
    for i, arg in enumerate(args):
        if arg == "--":
            out += args[i:]
            break
        if takes_value:
            out.append(arg)
            takes_value = False
        elif option is not None and not arg.startswith("-"):
            out += [option, arg]
        else:
            name = arg.split("=", 1)[0]
            option = name if name in SELECTION_OPTIONS else None
            takes_value = option is not None and "=" not in arg
            out.append(arg)
    return out


def usage_error(exc: Exception) -> int:
    """Print a command-line usage error (unknown command or option, bad option value) as one
    line on stderr; return its exit code."""
    format_message = getattr(exc, "format_message", None)
    message = " ".join(str(format_message() if callable(format_message) else exc).split())
    message = message.replace("Value error, ", "").rstrip(".") or "invalid usage"
    ctx = getattr(exc, "ctx", None)
    command_path = getattr(ctx, "command_path", None)
    help_names = getattr(ctx, "help_option_names", None) or ["-h"]
    hint = f" (see `{command_path} {help_names[0]}`)" if command_path else ""
    sys.stderr.write(f"error: {printable(message)}{hint}.\n")
    sys.stderr.flush()
    code = getattr(exc, "exit_code", EXIT_USAGE)
    return code if isinstance(code, int) else EXIT_USAGE
