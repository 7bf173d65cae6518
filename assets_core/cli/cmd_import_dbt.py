"""``lumbung import-dbt DBT_PROJECT_DIR [--into models]``: a dbt project's models, sources and
seeds as SQL assets and declared sources of the Lumbung project here (or ``--project PATH``).

The translation is ``assets_core.dbt``'s; this prints what was written and a report of what was
left untranslated, ``file:line: what: what to do``, relative to the dbt project. Nothing is
written when any file to write exists already.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assets_core.cli.common import guard, state_of
from assets_core.cli.printable import printable


def import_dbt(
    ctx: typer.Context,
    dbt_project_dir: Annotated[
        Path,
        typer.Argument(metavar="DBT_PROJECT_DIR", help="The dbt project (with dbt_project.yml)."),
    ],
    into: Annotated[
        str,
        typer.Option("--into", metavar="FOLDER", help="Folder of the SQL assets, in the project."),
    ] = "models",
) -> None:
    """Turn a dbt project into SQL assets: refs, sources, config blocks, seeds."""
    from assets_core.dbt.project import SOURCES_MODULE, plan_import, write_import

    with guard(ctx):
        project = state_of(ctx).project
        root = Path(project) if project is not None else Path()
        plan = plan_import(dbt_project_dir, into, root)
        write_import(plan, root)
        folder = into.rstrip("/")
        typer.echo(
            f"imported {plan.models} model{'s' if plan.models != 1 else ''} into "
            f"{printable(folder)}/, {plan.sources} source{'s' if plan.sources != 1 else ''} "
            f"and {plan.seeds} seed{'s' if plan.seeds != 1 else ''} into {SOURCES_MODULE}.py"
            + (" (seeds copied to seeds/)" if plan.seeds else "")
        )
        if "lumbung.toml" in plan.files:
            typer.echo("wrote lumbung.toml")
        if plan.untranslated:
            n = len(plan.untranslated)
            typer.echo(f"left untranslated ({n}), for you to finish:")
            for item in plan.untranslated:
                typer.echo(f"  {printable(str(item))}")
        else:
            typer.echo("everything was translated")
