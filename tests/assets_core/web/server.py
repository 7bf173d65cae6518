"""A real ``lumbung ui`` in another process, on a free port: started, read for its URL, and
stopped (SIGTERM, as Ctrl-C would)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.assets_core.cli.conftest import LUMBUNG

URL = re.compile(r"(http://\S+)")


@contextmanager
def serving(project: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The URL of ``lumbung ui`` serving ``project`` (with ``options``) while in the block."""
    command: Sequence[str] = [*LUMBUNG, "--project", str(project), "ui", "--port", "0", *options]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = URL.search(line)
        if found is None:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"lumbung ui did not start: {line!r} {err!r}")
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
