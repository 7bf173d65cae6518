"""The typer application: global options and the list of commands.

Each command lives in its own module under ``assets_core.cli`` and registers itself on
``app``; they are imported at the bottom of this module so ``lumbung --help`` lists them all.
"""

from __future__ import annotations

from typing import Annotated

import typer

from assets_core.cli.common import EXIT_USAGE, CliState

app = typer.Typer(
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
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("lumbung")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            text = "unknown"
        typer.echo(f"lumbung {text}")
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


def run() -> None:
    """Run the app; usage errors exit 2 (click's convention, and ours)."""
    try:
        app()
    except SystemExit as exc:
        if exc.code not in (None, 0) and not isinstance(exc.code, int):
            raise SystemExit(EXIT_USAGE) from exc
        raise


# Commands register themselves on import.
from assets_core.cli import (  # noqa: E402, F401
    cmd_history,
    cmd_init,
    cmd_lineage,
    cmd_list,
    cmd_materialize,
    cmd_plan,
    cmd_show,
    cmd_wipe,
)
