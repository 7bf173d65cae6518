"""The first moments of a tick's run: ``python -m assets_core.automation.child PID ARGS...``.

It asks the kernel to end it when the server (``PID``, its parent) ends (``lifeline``), then
replaces itself with ``python -m assets_core.cli ARGS...`` (the same process: its pid is the
run's pid in the state store). A server killed outright so takes its runs with it; the ticks
stay recorded, and the next server marks them interrupted.
"""

from __future__ import annotations

import os
import sys

from assets_core.execution.backends.lifeline import die_with_parent


def main(argv: list[str]) -> None:
    parent, args = int(argv[0]), argv[1:]
    die_with_parent(parent)
    os.execv(sys.executable, [sys.executable, "-m", "assets_core.cli", *args])


if __name__ == "__main__":
    main(sys.argv[1:])
