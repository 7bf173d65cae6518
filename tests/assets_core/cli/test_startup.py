"""Starting ``lumbung`` stays cheap: ``--help`` and ``--version`` load none of the heavy
libraries (pandas, pyarrow, duckdb, networkx), checked in a fresh interpreter that runs the
console entry point and then lists ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "pyarrow", "duckdb", "networkx", "numpy")

#: Runs the CLI in this interpreter as the console script does, then prints what it imported.
WRAPPER = r"""
import contextlib, io, json, sys
from assets_core.cli import main

sys.argv = ["lumbung", *sys.argv[1:]]
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exc:
        code = exc.code
report = {"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}
sys.__stdout__.write(json.dumps(report))
"""


def modules_after(*args: str) -> tuple[object, str, set[str]]:
    code, out, modules = all_modules_after(*args)
    return code, out, {m.split(".")[0] for m in modules}


def all_modules_after(*args: str) -> tuple[object, str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(proc.stdout)
    return data["code"], data["out"], set(data["modules"])


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["materialize", "--help"], ["plan", "--help"]]
)
def test_no_heavy_imports(args: list[str]) -> None:
    code, out, loaded = modules_after(*args)
    assert code in (0, None)
    assert out.strip()
    assert sorted(loaded.intersection(HEAVY)) == []


def test_help_loads_neither_rich_markup_nor_pydantic() -> None:
    # rich's markdown renderer and pydantic cost more than the rest of `--help` together
    code, out, loaded = modules_after("--help")
    assert code in (0, None)
    assert out.startswith("Usage: lumbung [OPTIONS] COMMAND [ARGS]...")
    assert sorted(loaded.intersection({"markdown_it", "pydantic", "pydantic_core"})) == []


def _commands_loaded(modules: set[str]) -> list[str]:
    return sorted(m.removeprefix("assets_core.cli.") for m in modules if ".cli.cmd_" in m)


@pytest.mark.parametrize("command", ["materialize", "plan"])
def test_a_command_loads_no_other_commands_module(command: str) -> None:
    # each command is built when it is asked for: the other fifteen cost nothing
    code, out, modules = all_modules_after(command, "--help")
    assert code in (0, None)
    assert out.startswith(f"Usage: lumbung {command} [OPTIONS]")
    assert _commands_loaded(modules) == [f"cmd_{command}"]


def test_the_help_lists_every_command_in_order() -> None:
    from assets_core.cli.app import COMMANDS

    code, out, modules = all_modules_after("--help")
    assert code in (0, None)
    listed = [line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines() if line]
    assert listed == list(COMMANDS)
    assert len(_commands_loaded(modules)) == len(COMMANDS)


def test_no_command_prints_the_help_and_exits_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "assets_core.cli"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("Usage: lumbung [OPTIONS] COMMAND [ARGS]...")
    assert "materialize" in proc.stderr


def test_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    code, out, _ = modules_after("--version")
    assert code in (0, None)
    assert out == f"lumbung {version('lumbung')}\n"
