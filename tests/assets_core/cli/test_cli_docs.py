"""docs/cli.md against the typer app, so the reference cannot drift: every command has a
section, every option and argument of a command appears in its section, and no section (nor
the introduction) names an option that does not exist there."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from assets_core.cli.app import app

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
OPTION_RE = re.compile(r"(?<![\w-])(--[a-z][a-z-]*[a-z]|-[a-zA-Z])(?![\w-])")
HEADING_RE = re.compile(r"^## `lumbung ([\w-]+)`\s*$")
HELP = {"--help", "-h"}


def _options(command: Any) -> set[str]:
    return {
        name
        for p in command.params
        if p.param_type_name == "option"
        for name in (*p.opts, *p.secondary_opts)
    }


def _arguments(command: Any) -> list[str]:
    return [p.name.upper() for p in command.params if p.param_type_name == "argument"]


def _sections() -> tuple[str, dict[str, str]]:
    """The text before the first command heading, and each command's section."""
    intro: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] = intro
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = HEADING_RE.match(line)
        if m:
            assert m.group(1) not in sections, f"two sections for lumbung {m.group(1)}"
            current = sections[m.group(1)] = []
        elif line.startswith("## "):
            current = intro  # other top-level sections (global options) belong to everyone
        current.append(line)
    return "\n".join(intro), {name: "\n".join(lines) for name, lines in sections.items()}


ROOT = get_command(app)
COMMANDS: dict[str, Any] = dict(ROOT.commands)  # type: ignore[attr-defined]
GLOBAL = _options(ROOT) | HELP
ALL = GLOBAL.union(*(_options(c) for c in COMMANDS.values()))


def test_every_command_has_a_section_and_no_section_is_for_a_missing_command() -> None:
    _, sections = _sections()
    assert sorted(sections) == sorted(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_section_names_exactly_its_command_s_options(name: str) -> None:
    section = _sections()[1][name]
    command = COMMANDS[name]
    named = set(OPTION_RE.findall(section))
    missing = _options(command) - named
    assert not missing, f"docs/cli.md: `lumbung {name}` does not document {sorted(missing)}"
    unknown = named - _options(command) - GLOBAL
    assert not unknown, f"docs/cli.md: `lumbung {name}` names {sorted(unknown)}, which it lacks"
    for arg in _arguments(command):
        assert re.search(rf"\b{arg}\b", section), f"`lumbung {name}`: argument {arg} undocumented"


def test_global_options_are_documented_and_the_intro_names_only_real_options() -> None:
    intro, _ = _sections()
    named = set(OPTION_RE.findall(intro))
    assert _options(ROOT) <= named
    assert named <= ALL, sorted(named - ALL)


def test_help_imports_no_pandas_pyarrow_or_duckdb() -> None:
    code = (
        "import sys\n"
        "from assets_core.cli.app import app\n"
        "for args in (['--help'], ['list', '--help'], ['show', '--help'], ['init', '--help']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), exc.code\n"
        "heavy = sorted({'pandas', 'pyarrow', 'duckdb', 'numpy'} & set(sys.modules))\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == ""
