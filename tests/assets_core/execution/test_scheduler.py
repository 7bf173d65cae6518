"""Where the threads backend runs a step: a trivial one in the scheduler's own thread, one that
takes CPU or waits on something on a worker, judged by the steps finished before it."""

from __future__ import annotations

import sys
import threading

import pytest

from assets_core.execution.scheduler import INLINE_BELOW, WAITS_FROM
from tests.conftest import ProjectDir

STEPS = 16
HEAD = """
import threading
import time

import pandas as pd

from assets_core import asset

THREADS = []


def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
"""


def _chain(body: str) -> str:
    """A chain of ``STEPS`` assets (one ready at a time), each noting the thread it ran on."""
    out = [HEAD]
    for i in range(STEPS):
        param = f"s{i - 1:02d}: pd.DataFrame" if i else ""
        out.append(
            f"@asset\ndef s{i:02d}({param}) -> pd.DataFrame:\n"
            f"    THREADS.append(threading.get_ident())\n    {body}\n"
            '    return pd.DataFrame({"v": [1]})\n'
        )
    return "\n\n".join(out)


@pytest.mark.parametrize(
    ("body", "inline"),
    [
        ("pass", True),
        (f"time.sleep({INLINE_BELOW * 2})", True),  # a short wait: a loaded machine's, say
        (f"spin({INLINE_BELOW * 2})", False),  # CPU on its thread
        (f"time.sleep({WAITS_FROM * 1.2})", False),  # little CPU, but it waits
    ],
    ids=["trivial", "short wait", "cpu", "waits"],
)
def test_trivial_steps_run_inline_and_others_on_workers(
    project: ProjectDir, body: str, inline: bool
) -> None:
    project.write("assets.py", _chain(body))
    session = project.session("assets")
    result = session.materialize(executor="threads", workers=2)
    assert len(result.materialized) == STEPS
    threads = sys.modules[f"{project.pkg}.assets"].THREADS
    assert len(threads) == STEPS
    here = threading.get_ident()
    assert here not in threads[:8]  # nothing is known of the run's steps yet: workers
    if inline:
        assert set(threads[8:]) == {here}
    else:
        assert here not in threads[8:]
