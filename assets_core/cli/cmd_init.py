"""``lumbung init [PATH]``: scaffold a small project that materializes at once.

It writes ``lumbung.toml``, ``data/orders.csv``, ``assets.py`` (a CSV source, a Parquet asset
and a DuckDB asset) and a ``.gitignore`` that keeps ``.lumbung/`` out of version control. It
never overwrites a file: if any of them exists it stops before writing anything, naming it
(an existing ``.gitignore`` only gains the ``.lumbung/`` line it lacks).

``lumbung init --example NAME [PATH]`` copies one of the example projects under
``assets_core/examples/`` instead, into a new or empty folder, leaving out stored outputs and
bytecode. In the repository ``examples/shop`` is a symbolic link to ``example_project/``, the
one copy of that example; a built wheel or sdist holds the files themselves.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from assets_core.cli.common import guard
from assets_core.cli.printable import printable

LUMBUNG_TOML = """\
# A Lumbung project: the modules scanned for assets, and where outputs and state are kept.
modules = ["assets"]
storage = ".lumbung"
"""

ORDERS_CSV = """\
order_id,day,customer,status,amount
1,2024-01-01,ana,completed,12.50
2,2024-01-01,budi,completed,30.00
3,2024-01-02,citra,cancelled,8.75
4,2024-01-02,ana,completed,5.25
5,2024-01-03,dewi,completed,19.90
6,2024-01-03,budi,cancelled,42.00
"""

ASSETS_PY = '''\
"""The project's assets: a CSV source, a Parquet asset and a DuckDB asset.

Run `lumbung materialize` to build them, then edit a function and run `lumbung plan`
to see exactly what would rebuild, and why.
"""

from __future__ import annotations

import pandas as pd

from assets_core import asset, source

raw_orders = source("raw_orders", path="data/orders.csv")


@asset(group="staging")
def orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    """Orders that were not cancelled (stored as Parquet, the default)."""
    return raw_orders[raw_orders.status != "cancelled"]


@asset(group="marts", io_manager="duckdb")
def revenue_by_day(orders: pd.DataFrame) -> pd.DataFrame:
    """Revenue per day (a table in .lumbung/warehouse.duckdb)."""
    return orders.groupby("day", as_index=False).amount.sum()
'''

GITIGNORE_LINE = ".lumbung/"

#: What ``init`` writes, relative to the project folder, in the order it writes them.
FILES: dict[str, str] = {
    "lumbung.toml": LUMBUNG_TOML,
    "data/orders.csv": ORDERS_CSV,
    "assets.py": ASSETS_PY,
}


def scaffold(folder: Path) -> list[str]:
    """Write the project into ``folder`` (created if needed); return what was created or
    updated. Raises ``ProjectError`` naming the first file that already exists."""
    from assets_core.errors import ProjectError
    from assets_core.storage.oserrors import explain

    try:
        return _scaffold(folder)
    except OSError as exc:  # a folder that cannot be made, a full disk, no permission
        where = exc.filename or folder
        raise ProjectError(f"`lumbung init` cannot write {where} {explain(exc)}.") from exc


def _scaffold(folder: Path) -> list[str]:
    from assets_core.errors import ProjectError

    if folder.exists() and not folder.is_dir():
        raise ProjectError(f"{folder} is a file; pass a folder to `lumbung init`.")
    for name in FILES:
        if (folder / name).exists():
            raise ProjectError(
                f"{folder / name} already exists; `lumbung init` never overwrites a file. "
                "Move it aside or pick another folder."
            )
    (folder / "data").mkdir(parents=True, exist_ok=True)
    done = []
    for name, text in FILES.items():
        with open(folder / name, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        done.append(name)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE_LINE + "\n", encoding="utf-8")
        done.append(".gitignore")
    else:
        text = ignore.read_text(encoding="utf-8")
        lines = {line.strip() for line in text.splitlines()}
        if not lines & {GITIGNORE_LINE, ".lumbung", "/.lumbung", "/.lumbung/"}:
            sep = "" if text.endswith("\n") or not text else "\n"
            ignore.write_text(text + sep + GITIGNORE_LINE + "\n", encoding="utf-8")
            done.append(".gitignore (added .lumbung/)")
    return done


#: The example projects, one folder each, named as ``--example`` takes them.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: What an example folder may hold that is not part of the example: the storage folder a run
#: of it wrote, and bytecode.
NOT_COPIED = (".lumbung", "__pycache__", "*.pyc")


def example_names() -> list[str]:
    """The names ``--example`` accepts, sorted."""
    if not EXAMPLES.is_dir():
        return []
    return sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and p.name[0] not in "._")


def copy_example(name: str, folder: Path) -> list[str]:
    """Copy the example ``name`` into ``folder`` (created if needed, and it must be empty);
    return the files written, relative to ``folder`` with ``/``, sorted. Raises
    ``ProjectError`` for an unknown name or a folder that is a file or not empty."""
    from assets_core.errors import ProjectError

    names = example_names()
    if name not in names:
        known = ", ".join(names) if names else "none in this installation"
        raise ProjectError(f"no example {name!r}; the examples are: {known}.")
    if folder.exists() and not folder.is_dir():
        raise ProjectError(f"{folder} is a file; pass a folder to `lumbung init`.")
    if folder.is_dir() and any(folder.iterdir()):
        shown = "this folder" if folder == Path() else str(folder)
        raise ProjectError(
            f"{shown} is not empty; `lumbung init --example` writes into a new or empty "
            "folder. Pick another one."
        )
    source = EXAMPLES / name
    files = sorted(_example_files(source))
    try:
        for rel in files:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            # contents only: the copy gets fresh times and permissions (an installed package
            # may be read-only), as a file the user wrote would
            shutil.copyfile(source / rel, folder / rel)
    except OSError as exc:  # a folder that cannot be made, a full disk, no permission
        from assets_core.storage.oserrors import explain

        raise ProjectError(
            f"`lumbung init` cannot write {exc.filename or folder} {explain(exc)}."
        ) from exc
    return files


def _example_files(source: Path) -> list[str]:
    """The files of the example folder ``source``, relative with ``/``, without what
    ``NOT_COPIED`` names."""
    import fnmatch

    def kept(name: str) -> bool:
        return not any(fnmatch.fnmatchcase(name, pattern) for pattern in NOT_COPIED)

    found = []
    for here, dirs, names in os.walk(source):
        dirs[:] = [d for d in dirs if kept(d)]
        rel = Path(here).relative_to(source)
        found += [(rel / n).as_posix() for n in names if kept(n)]
    return found


#: A folder holding more files than this is one line of ``init``'s list: its name and count.
FOLDER_LINES = 10


def _shown(files: list[str]) -> list[str]:
    """The lines listing ``files`` (sorted): each file, except that the files of a folder
    holding more than ``FOLDER_LINES`` of them (such as a day's file per partition) are one
    line, ``folder/ (N files)``."""
    per_folder: dict[str, int] = {}
    for name in files:
        per_folder[name.rpartition("/")[0]] = per_folder.get(name.rpartition("/")[0], 0) + 1
    lines: list[str] = []
    for name in files:
        folder = name.rpartition("/")[0]
        if not folder or per_folder[folder] <= FOLDER_LINES:
            lines.append(name)
        elif f"{folder}/ ({per_folder[folder]} files)" not in lines[-1:]:
            lines.append(f"{folder}/ ({per_folder[folder]} files)")
    return lines


def init(
    ctx: typer.Context,
    path: Annotated[
        str | None,
        typer.Argument(
            metavar="PATH", help="Folder for the new project (created if needed). Default: here."
        ),
    ] = None,
    example: Annotated[
        str | None,
        typer.Option(
            "--example",
            metavar="NAME",
            help="Copy the named example project (shop) instead; PATH must be new or empty.",
        ),
    ] = None,
) -> None:
    """Create a small working project: config, sample data, a source and two assets; or a
    copy of an example project."""
    with guard(ctx):
        folder = _folder(path or ".")
        if example is not None:
            done = copy_example(example, folder)
            what = f'a copy of the example "{printable(example)}"'
        else:
            done = scaffold(folder)
            what = "a Lumbung project"
        where = "" if path is None else f" in {printable(path)}"
        typer.echo(f"Created {what}{where}:")
        for name in _shown(done):
            typer.echo(f"  {name}")
        here = path is None or folder.resolve() == Path.cwd().resolve()
        project = "" if here else f"--project {printable(_quoted(path or '.'))} "
        typer.echo(f"Next: lumbung {project}materialize")


def _folder(text: str) -> Path:
    """``text`` as a folder path, ``~`` expanded (an unknown user's home is an error)."""
    from assets_core.errors import ProjectError

    try:
        return Path(text).expanduser()
    except RuntimeError as exc:  # pathlib: "Could not determine home directory."
        raise ProjectError(
            f"`lumbung init` cannot expand {text.split('/', 1)[0]!r}: that user's home folder "
            "is unknown; pass the folder's full path."
        ) from exc


def _quoted(text: str) -> str:
    """``text`` as one shell word."""
    if text and all(c.isalnum() or c in "-_./" for c in text.replace(os.sep, "/")):
        return text
    import shlex

    return shlex.quote(text)
