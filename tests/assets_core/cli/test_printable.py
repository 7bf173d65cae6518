"""Terminal escapes in a project's data are shown, never obeyed (assets_core.cli.printable):
every command's text output writes control characters from names, values, column names,
descriptions and errors as visible escapes; ``--json`` keeps them, escaped by JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assets_core.cli.printable import has_controls, printable, printable_lines
from tests.assets_core.cli.conftest import Result, run_sequence

ESC, BEL, CR, CSI = "\x1b", "\x07", "\r", "\x9b"  # CSI: the one-character C1 form of ESC [


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (f"{ESC}[31mred{ESC}[0m", "\\x1b[31mred\\x1b[0m"),
        (f"ring{BEL}", "ring\\x07"),
        (f"safe{CR}evil", "safe\\revil"),
        (f"{CSI}2J", "\\x9b2J"),
        ("tab\tnew\nline\x00\x7f", "tab\\tnew\\nline\\x00\\x7f"),
        ("right\u202eleft\u2066", "right\\u202eleft\\u2066"),
        ("plain, é and 漢字 stay", "plain, é and 漢字 stay"),
    ],
)
def test_printable_escapes_control_characters(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    assert not has_controls(printable(raw))
    assert printable(printable(raw)) == printable(raw)  # escaping twice changes nothing


def test_printable_lines_split_at_line_feeds_only() -> None:
    assert printable_lines(f"a{CR}b\nc{ESC}") == ["a\\rb", "c\\x1b"]


DESCRIPTION = f"Orders{CR}HIDDEN, then a C1 {CSI}2J clear."
#: written with escapes (``repr``): Python reads a raw CR in a source file as a line end
ASSETS = f"""
import pandas as pd
from assets_core import asset, source

raw = source("raw", path="data/raw.csv")


@asset(tags={{{f"daily{BEL}"!r}}}, owners=[{f"ana{ESC}[8m"!r}], description={DESCRIPTION!r})
def orders(raw: pd.DataFrame) -> pd.DataFrame:
    return raw


@asset
def broken(orders: pd.DataFrame) -> pd.DataFrame:
    raise ValueError({f"{ESC}]0;window title{BEL}{ESC}[2J"!r})
"""
#: the header of the CSV source: a column name that recolours the terminal, one that rings
HEADER = f"{ESC}[31mred{ESC}[0m,bell{BEL},{CSI}1m\n"

#: any control character but the line feeds that end lines
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    root = tmp_path_factory.mktemp("escapes") / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text(HEADER + "1,2,3\n")
    (root / "lumbung.toml").write_text('modules = ["assets"]\n')
    (root / "assets.py").write_text(ASSETS)
    commands = {
        "materialize": ("materialize",),
        "show": ("show", "orders"),
        "show_failed": ("show", "broken"),
        "list": ("list",),
        "plan": ("plan",),
        "history": ("history",),
        "dry_run": ("materialize", "--dry-run"),
        "show_json": ("show", "orders", "--json"),
    }
    found = run_sequence([(args, root) for args in commands.values()])
    return dict(zip(commands, found, strict=True))


@pytest.mark.parametrize(
    "name", ["materialize", "show", "show_failed", "list", "plan", "history", "dry_run"]
)
def test_no_control_character_reaches_the_terminal(name: str, results: dict[str, Result]) -> None:
    res = results[name]
    assert not RAW.search(res.out), res.out
    assert not RAW.search(res.err), res.err


def test_what_was_escaped_is_shown(results: dict[str, Result]) -> None:
    show = results["show"].out
    assert "\\x1b[31mred\\x1b[0m" in show  # the column names
    assert "bell\\x07" in show and "\\x9b1m" in show
    assert "Orders\\rHIDDEN, then a C1 \\x9b2J clear." in show  # the description
    assert "daily\\x07" in show and "ana\\x1b[8m" in show  # tags and owners
    error = "ValueError: \\x1b]0;window title\\x07\\x1b[2J"
    assert f"broken failed: {error}" in results["materialize"].err
    assert f"last error:     broken: {error}" in results["show_failed"].out
    assert error in results["history"].out


def test_json_keeps_the_data_as_it_is(results: dict[str, Result]) -> None:
    data = json.loads(results["show_json"].out)
    names = [c["name"] for c in data["last_materialization"]["schema"]]
    assert names == [f"{ESC}[31mred{ESC}[0m", f"bell{BEL}", f"{CSI}1m"]
    assert data["description"] == DESCRIPTION
    assert data["tags"] == [f"daily{BEL}"]


def test_the_helper_is_the_one_the_cli_uses() -> None:
    """Every command module that prints data goes through ``printable`` (one helper)."""
    cli = Path(__file__).resolve().parents[3] / "assets_core" / "cli"
    users = sorted(
        p.name
        for p in cli.glob("*.py")
        if "printable" in p.read_text() and p.name != "printable.py"
    )
    assert users == [
        "app.py",
        "cmd_check.py",
        "cmd_history.py",
        "cmd_import_dbt.py",
        "cmd_init.py",
        "cmd_lineage.py",
        "cmd_list.py",
        "cmd_logs.py",
        "cmd_materialize.py",
        "cmd_partitions.py",
        "cmd_plan.py",
        "cmd_show.py",
        "cmd_unlock.py",
        "cmd_wipe.py",
        "common.py",
        "progress.py",
    ]
