"""``lumbung lineage``: what feeds an asset and what it feeds, in five formats.

The assets shown are the selection (positional terms and ``-s``, DESIGN §6, less
``--exclude``) with ``--upstream N`` / ``--downstream N`` hops around it (default: all
ancestors and descendants), or the whole project when nothing is selected. Formats: ``tree``
(rich, coloured by status), ``mermaid``, ``dot`` (Graphviz), ``json`` and ``html`` (one
self-contained page). The format defaults to the ``-o`` file's suffix, else ``tree``.
``--columns`` prints the selected SQL assets' column lineage instead of the tree; ``json``
and ``html`` always carry it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from assets_core.cli.common import (
    ExcludeOpt,
    SelectOpt,
    fail,
    guard,
    joined,
    open_session,
    warn,
)
from assets_core.cli.printable import printable

if TYPE_CHECKING:
    from assets_core.lineage.model import Lineage


class Format(str, Enum):
    """The forms ``lumbung lineage`` writes."""

    tree = "tree"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"
    html = "html"


#: The format an ``-o`` file's suffix implies when ``--format`` is not given.
SUFFIXES = {
    ".html": Format.html,
    ".htm": Format.html,
    ".dot": Format.dot,
    ".gv": Format.dot,
    ".mmd": Format.mermaid,
    ".mermaid": Format.mermaid,
    ".json": Format.json,
}


def lineage(
    ctx: typer.Context,
    selection: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SELECTOR",
            help="Assets to centre on (same syntax as -s); default: the whole project.",
            show_default=False,
        ),
    ] = None,
    select: SelectOpt = None,
    exclude: ExcludeOpt = None,
    upstream: Annotated[
        int | None,
        typer.Option(
            "--upstream", min=0, metavar="N", help="Hops upstream of the selection (default: all)."
        ),
    ] = None,
    downstream: Annotated[
        int | None,
        typer.Option(
            "--downstream",
            min=0,
            metavar="N",
            help="Hops downstream of the selection (default: all).",
        ),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="tree, mermaid, dot, json or html (default: from -o's suffix, else tree).",
        ),
    ] = None,
    output_text: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to this file instead of stdout."
        ),
    ] = None,
    columns: Annotated[
        bool,
        typer.Option(
            "--columns",
            help="For each selected SQL asset, the input columns each output column derives "
            "from (json and html always include them).",
        ),
    ] = False,
) -> None:
    """Show lineage: upstream and downstream of assets, as a tree, Mermaid, DOT, JSON or HTML."""
    from assets_core.lineage.model import build_lineage

    if output_text is not None and not output_text.strip():
        raise fail(f"--output {output_text!r}: give the name of a file, such as lineage.html.")
    output = None if output_text is None else Path(output_text)
    chosen = fmt or (SUFFIXES.get(output.suffix.lower()) if output else None) or Format.tree
    if columns and chosen is not Format.tree:
        raise fail(
            f"--columns prints text: drop --format {chosen.value} (json and html include "
            "the columns already)."
        )
    terms = [*(selection or []), *(select or [])]
    with guard(ctx), open_session(ctx, read_only=True) as session:
        found = build_lineage(
            session,
            joined(terms),
            joined(exclude),
            upstream=upstream,
            downstream=downstream,
            columns=columns or chosen in (Format.json, Format.html),
        )
        for message in found.warnings:
            warn(message)
        if columns:
            _print_columns(found, output)
            return
        if chosen is Format.tree:
            _print_tree(found, output)
            return
        text = _render(found, chosen)
        if output is None:
            typer.echo(text, nl=False)
            return
        with _writing(output) as fh:
            fh.write(text)
        typer.echo(
            f"wrote {printable(output)} ({chosen.value}, {len(found.nodes)} assets)", err=True
        )


@contextmanager
def _writing(output: Path) -> Iterator[TextIO]:
    """``output`` opened for writing; a file that cannot be written (a folder, a missing
    folder, a full disk, no permission) is one line: ``--output FILE: cannot write it (...)``."""
    from assets_core.errors import LumbungError
    from assets_core.storage.oserrors import explain

    try:
        with output.open("w", encoding="utf-8") as fh:
            yield fh
    except OSError as exc:
        raise LumbungError(f"--output {output}: cannot write it {explain(exc)}.") from exc


def _render(found: Lineage, chosen: Format) -> str:
    from assets_core.lineage import dot, html, jsonfmt, mermaid

    if chosen is Format.mermaid:
        return mermaid.render(found)
    if chosen is Format.dot:
        return dot.render(found)
    if chosen is Format.json:
        return jsonfmt.render(found)
    return html.render(found)


def _print_tree(found: Lineage, output: Path | None) -> None:
    from assets_core.cli.common import console
    from assets_core.lineage import tree

    if output is None:
        out = console()
        for item in tree.render(found):
            out.print(item)
        return
    from rich.console import Console

    with _writing(output) as fh:
        file_console = Console(file=fh, highlight=False, width=200, no_color=True)
        for item in tree.render(found):
            file_console.print(item)
    typer.echo(f"wrote {printable(output)} (tree, {len(found.nodes)} assets)", err=True)


def _print_columns(found: Lineage, output: Path | None) -> None:
    from assets_core.lineage.tree import column_lines

    text = "".join(line + "\n" for line in column_lines(found))
    if output is None:
        typer.echo(text, nl=False)
        return
    with _writing(output) as fh:
        fh.write(text)
    typer.echo(f"wrote {printable(output)} (columns, {len(found.nodes)} assets)", err=True)
