"""The README's tour: each command prints what the README shows, and running the tour leaves
the checkout as it was, so the README's test command still passes after it.

The tour (this checkout's README) runs as a reader runs it: from the root of a checkout, here a
throwaway ``git clone`` of this one, after the README's install command, with the virtual
environment active. The clone's ``.venv`` is a stand-in: its ``bin/activate`` puts this
interpreter's folder first on ``PATH`` and its ``bin/lumbung`` is the installed script. Then
the tour runs in the folder that ``lumbung init --example shop`` fills, which ``mktemp -d``
makes under this test's temporary folder. ``.ci/run`` does the same with the README's own
install command, then runs the README's test command in that clone.

With an editable install, ``init --example`` copies this checkout's example_project/ as it is,
so the tour is skipped (with the reason) while that folder differs from the last commit."""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import example_edited
from tests.readme_tour import README, Step, script, tour_steps

ROOT = README.parent
#: Starts the line printed before each command's output (an ASCII record separator).
MARK = "\x1e"

#: What may differ between a run and the README, each replaced by a placeholder on both sides
#: before they are compared. Nothing else may differ.
VARYING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b\d{8}T\d{6}-[0-9a-f]{6}\b"), "<run id>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[+-]\d\d:\d\d)?"), "<date and time>"),
    (re.compile(r"\b(?:\d+[smhd] ago|just now)"), "<age>"),
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?s\b"), "<duration>"),
    # which steps were slowest is a matter of timing too
    (re.compile(r"^slowest: .*$", re.MULTILINE), "slowest: <steps>"),
    # a Parquet file's size changes with the pyarrow version that wrote it
    (re.compile(r"^(\s*bytes:\s+)\S+ \S+$", re.MULTILINE), r"\1<size>"),
    # the tour's folder is a new temporary one each time: /tmp/tmp.XXXXXXXXXX/shop
    (re.compile(r"/\S*/shop(?=/)"), "<tour>"),
)
#: A line reporting a finished step: parallel steps finish in any order, so these lines are
#: compared as a sorted block.
STEP_LINE = re.compile(r"^(?:materialized|up to date|failed|skipped) ")


def normalise(text: str) -> str:
    for pattern, placeholder in VARYING:
        text = pattern.sub(placeholder, text)
    lines = text.splitlines()
    at = [i for i, line in enumerate(lines) if STEP_LINE.match(line)]
    for i, line in zip(at, sorted(lines[i] for i in at), strict=True):
        lines[i] = line
    return "".join(f"{line}\n" for line in lines)


def _git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _install_commands() -> list[str]:
    """The ``lumbung`` commands of the README's install command (the line after the
    ``<!-- install-command -->`` marker and its fence), which run in the checkout."""
    lines = README.read_text(encoding="utf-8").splitlines()
    command = lines[lines.index("<!-- install-command -->") + 2]
    return [part.strip() for part in command.split("&&") if "bin/lumbung " in part]


def _clone(tmp_path: Path) -> Path:
    """A throwaway clone of this checkout with a stand-in for its virtual environment."""
    if not (ROOT / ".git").exists():
        pytest.skip("the tour's checkout test needs a git checkout")
    clone = tmp_path / "clone"
    _git("clone", "--quiet", str(ROOT), str(clone), cwd=tmp_path)
    bin_dir = clone / ".venv" / "bin"  # ignored by the repository's .gitignore
    bin_dir.mkdir(parents=True)
    here = Path(sys.executable).parent
    (bin_dir / "activate").write_text(f'export PATH="{here}{os.pathsep}$PATH"\n')
    script = here / "lumbung"
    if not script.exists():
        pytest.skip("no lumbung script beside this interpreter")
    (bin_dir / "lumbung").symlink_to(script)
    return clone


def _run_tour(steps: list[Step], clone: Path, tmp_path: Path) -> tuple[list[str], int, str]:
    """Run the steps in one shell from ``clone``: the output of each step that ran, the
    shell's exit code (not 0 when a step failed: it is the last that ran) and its stderr."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "VIRTUAL_ENV")}
    env.update({"NO_COLOR": "1", "COLUMNS": "80", "TMPDIR": str(tmp_path)})
    proc = subprocess.run(
        ["bash", "-c", script(steps, marker=MARK + "{i}")],
        cwd=clone,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    outputs = [part.partition("\n")[2] for part in proc.stdout.split(MARK)[1:]]
    return outputs, proc.returncode, proc.stderr


def test_the_tour_prints_what_the_readme_shows_and_leaves_the_checkout_clean(
    tmp_path: Path,
) -> None:
    steps = tour_steps(README.read_text(encoding="utf-8"))
    assert [s.command for s in steps[:4]] == [
        "source .venv/bin/activate",
        'cd "$(mktemp -d)"',
        "lumbung init --example shop shop",
        "cd shop",
    ], "the tour starts by activating the environment and copying the example elsewhere"
    if example_edited():  # the tour copies it as it is, through the editable install
        pytest.skip(
            "example_project/ differs from the last commit, and `lumbung init --example shop` "
            "would copy it as it is; commit or restore it to run the tour"
        )
    clone = _clone(tmp_path)
    for command in _install_commands():  # the example materialized in place, as it says
        proc = subprocess.run(
            ["bash", "-c", command],
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout}{proc.stderr}"

    outputs, code, stderr = _run_tour(steps, clone, tmp_path)
    if code != 0:
        step = steps[len(outputs) - 1]
        pytest.fail(
            f"README.md:{step.line}: `{step.command}` failed:\n{outputs[-1]}{stderr}",
            pytrace=False,
        )
    assert len(outputs) == len(steps), stderr

    problems = []
    for step, out in zip(steps, outputs, strict=True):
        want, got = normalise(step.shown), normalise(out)
        if want != got:
            diff = difflib.unified_diff(
                want.splitlines(), got.splitlines(), "README.md", "printed", lineterm=""
            )
            problems.append(f"README.md:{step.line}: `{step.command}`\n" + "\n".join(diff))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)

    # the tour worked on a copy outside the checkout: nothing in the clone changed
    assert _git("status", "--porcelain", "--untracked-files=all", cwd=clone) == ""
    tours = list(tmp_path.glob("tmp.*/shop/.lumbung/state.db"))
    assert len(tours) == 1, "the tour's copy is in a new temporary folder"


def test_only_what_varies_is_normalised() -> None:
    one = (
        "materialized  b  0.10s\n"
        "up to date    c\n"
        "materialized  a  1.20s\n"
        "2 materialized, 1 up to date, 0 failed, 0 skipped in 1.31s\n"
        "slowest: a 1.20s, b 0.10s\n"
        "  location:  /tmp/tmp.AbC123/shop/.lumbung/parquet/a.parquet\n"
        "    at:      2026-03-01 10:00:00+00:00\n"
        "    run:     20260301T100000-0a1b2c\n"
        "    bytes:   5.0 KiB\n"
        "a  parquet · fresh · 3m ago\n"
    )
    other = (
        "materialized  a  0.90s\n"
        "materialized  b  0.20s\n"
        "up to date    c\n"
        "2 materialized, 1 up to date, 0 failed, 0 skipped in 12s\n"
        "slowest: b 0.20s\n"
        "  location:  /home/me/tmp/tmp.x/shop/.lumbung/parquet/a.parquet\n"
        "    at:      2026-12-05 13:49:34+00:00\n"
        "    run:     20261205T134934-381456\n"
        "    bytes:   5.1 KiB\n"
        "a  parquet · fresh · just now\n"
    )
    assert normalise(one) == normalise(other)
    assert normalise(one) != normalise(one.replace("up to date    c", "up to date    d"))
    assert normalise(one) != normalise(one.replace("parquet/a.parquet", "parquet/b.parquet"))
    assert normalise("17 assets: 12 missing\n") != normalise("17 assets: 11 missing\n")
    assert normalise("data:  35b318c6\n") != normalise("data:  35b318c7\n")


def test_the_tour_is_read_command_by_command() -> None:
    text = (
        "# Title\n\n## A five-minute tour\n\n```console\n$ a\nout 1\n\nout 2\n$ b\n```\n\n"
        "```sh\n$ not a step\n```\n\n```console\n$ c\n```\n\n## Next\n\n```console\n$ d\n```\n"
    )
    assert tour_steps(text) == [
        Step("a", "out 1\n\nout 2\n", 6),
        Step("b", "", 10),
        Step("c", "", 18),
    ]
    with pytest.raises(ValueError, match="output before any command"):
        tour_steps("## A five-minute tour\n```console\nout\n```\n")
