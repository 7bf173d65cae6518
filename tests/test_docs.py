"""The documentation runs: every fenced block marked runnable in README.md and docs/*.md.

A block is runnable when the line right before its opening fence is ``<!-- run -->``. Only
```` ```python ```` and ```` ```sh ```` blocks can be marked. The blocks of one file run in
order, in one fresh, pristine copy of example_project (``tests.conftest.copy_example``), so a
page can materialize, edit a file, then plan:
Python blocks with this interpreter (``python -c``), shell blocks with ``bash -e``, both with the
copy as the working folder and this interpreter's bin folder first on PATH (``lumbung``
resolves to the installed script). A block passes when it exits with 0.

The README's tour is made of ```` ```console ```` blocks instead, each command with what it
prints: ``tests/test_readme_tour.py`` runs those and compares.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import copy_example

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- run -->"
FENCE = re.compile(r"^```(\w*)\s*$")
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One runnable block: its language, its code and the line its fence opens on."""

    lang: str
    code: str
    line: int


def runnable_blocks(path: Path) -> list[Block]:
    """The blocks of ``path`` marked runnable, in order; a marker not followed by a Python or
    shell fence is an error (a typo must not silently turn a test off)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        where = f"{path.relative_to(ROOT)}:{i + 1}"
        fence = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        assert fence is not None, f"{where}: {MARKER} must be followed by a ``` fence"
        lang = fence.group(1)
        assert lang in ("python", "sh"), f"{where}: only python and sh blocks can run"
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        blocks.append(Block(lang, "\n".join(lines[i + 2 : end]) + "\n", i + 2))
    return blocks


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({"NO_COLOR": "1", "COLUMNS": "120", "PYTHONDONTWRITEBYTECODE": "1"})
    env.pop("FORCE_COLOR", None)
    return env


def _run(block: Block, cwd: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-c", block.code] if block.lang == "python" else ["bash", "-e", "-c"]
    if block.lang == "sh":
        args.append(block.code)
    return subprocess.run(
        args,
        cwd=cwd,
        env=_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tour_and_the_api_pages_are_runnable() -> None:
    """The pages a newcomer follows carry runnable blocks (so they cannot drift silently)."""
    counts = {p.name: len(runnable_blocks(p)) for p in DOC_FILES}
    for name in ("README.md", "getting-started.md", "concepts.md", "python-api.md"):
        assert counts.get(name, 0) > 0, f"{name} has no {MARKER} block"


def _run_file(path: Path, tmp_path: Path) -> str | None:
    """Run the blocks of one file in order in a fresh copy of the example; the first failure,
    described, or None."""
    project = copy_example(tmp_path / path.stem / "example_project")
    for block in runnable_blocks(path):
        res = _run(block, project)
        if res.returncode != 0:
            return (
                f"{path.relative_to(ROOT)}:{block.line}: the {block.lang} block exited with "
                f"{res.returncode}\n--- code\n{block.code}--- stdout\n{res.stdout}"
                f"--- stderr\n{res.stderr}"
            )
    return None


def test_runnable_blocks_run(tmp_path: Path) -> None:
    """Every file's blocks, the files side by side (each in its own copy of the example)."""
    files = [p for p in DOC_FILES if runnable_blocks(p)]
    with ThreadPoolExecutor(max(1, min(len(files), os.cpu_count() or 1))) as pool:
        failures = [f for f in pool.map(lambda p: _run_file(p, tmp_path), files) if f]
    assert not failures, "\n\n".join(failures)
