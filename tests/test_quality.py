"""Project hygiene that runs with the tests: lint, format, types, and the import rule."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_lint() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (ROOT / "assets_core").rglob("*.py") if "cli" not in p.parts),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_engine_never_imports_io_managers(path: Path) -> None:
    """The engine knows IO managers only through the protocol; only the CLI may import them."""
    bad = {m for m in _imports(path) if m == "io_managers" or m.startswith("io_managers.")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_graph_imports_networkx() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "assets_core").rglob("*.py")
        if p.name != "graph.py" and any(m.split(".")[0] == "networkx" for m in _imports(p))
    ]
    assert offenders == []
