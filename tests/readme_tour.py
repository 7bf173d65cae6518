"""The README's tour as steps: every ``$ command`` line of the ```` ```console ```` blocks
under "## A five-minute tour", each with the output the README shows below it.

``tests/test_readme_tour.py`` runs the steps and compares what they print with what the README
shows. ``.ci/run`` runs them in a throwaway clone before the README's test command:
``python3 tests/readme_tour.py`` prints them as one bash script. Standard library only, since
``.ci/run`` runs it before any virtual environment exists.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## A five-minute tour"
PROMPT = "$ "


@dataclass(frozen=True)
class Step:
    """One command of the tour, the output the README shows for it (each line ending in a
    newline; empty when it shows none), and the README line the command is on."""

    command: str
    shown: str
    line: int


def tour_steps(text: str) -> list[Step]:
    """The steps of the tour in ``text`` (the README), in order."""
    lines = text.splitlines()
    start = lines.index(HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), None)
    steps: list[Step] = []
    command: tuple[str, int] | None = None
    shown: list[str] = []
    in_block = False

    def close() -> None:
        nonlocal command
        if command is not None:
            steps.append(Step(command[0], "".join(f"{s}\n" for s in shown), command[1]))
        command = None
        shown.clear()

    for i, line in enumerate(lines[start:end], start=start + 1):
        if not in_block:
            in_block = line.strip() == "```console"
            continue
        if line.startswith("```"):
            close()
            in_block = False
        elif line.startswith(PROMPT):
            close()
            command = (line[len(PROMPT) :], i)
        else:
            if command is None:
                raise ValueError(f"README.md:{i}: output before any command in a console block")
            shown.append(line)
    if in_block:
        raise ValueError("README.md: a console block of the tour is not closed")
    return steps


def script(steps: list[Step], marker: str) -> str:
    """One bash script running ``steps`` in order in one shell (so ``cd`` and ``source``
    carry over), each with stderr joined to stdout. Before each command it prints
    ``marker.format(i=<index>, command=<command>)`` on a line of its own; after a command that
    fails it prints ``exit <code>`` and stops."""
    out = []
    for i, step in enumerate(steps):
        out.append(f"printf '%s\\n' {shlex.quote(marker.format(i=i, command=step.command))}")
        # the newline before the closing brace ends a comment the command may carry
        out.append(f'{{ {step.command}\n}} 2>&1 || {{ rc=$?; echo "exit $rc"; exit "$rc"; }}')
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    steps = tour_steps(README.read_text(encoding="utf-8"))
    sys.stdout.write(script(steps, marker="+ {command}"))
