"""A run keeps what its steps said: through the Python API, on every executor that shares the
process, with many steps at once and every attempt of a retried step."""

from __future__ import annotations

import pytest

from assets_core.execution.capture import line_text
from assets_core.model.keys import AssetKey
from assets_core.storage.state import LogLine
from tests.conftest import ProjectDir

MANY = """
import pandas as pd
from assets_core import asset

def make(name):
    @asset(name=name)
    def step(context):
        for i in range(20):
            print(name, i)
            context.log.debug("%s debug %d", name, i)
        return pd.DataFrame({"v": [1]})
    return step

for n in range(24):
    globals()[f"a{n}"] = make(f"a{n}")

ATTEMPTS = []

@asset(retries=1)
def flaky(context):
    ATTEMPTS.append(1)
    context.log.warning("attempt %d", len(ATTEMPTS))
    if len(ATTEMPTS) == 1:
        raise RuntimeError("first time")
    return pd.DataFrame({"v": [1]})
"""


@pytest.mark.parametrize("executor", ["threads", "in-process"])
def test_every_step_keeps_its_own_lines_and_every_attempt(
    project: ProjectDir, executor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("assets.py", MANY)
    with project.session() as session:
        result = session.materialize(executor=executor, workers=8)
        assert result.success, result.errors
        for n in range(24):
            key = AssetKey([f"a{n}"])
            got = [(x.stream, x.level, x.message) for x in session.state.logs(result.run_id, key)]
            expected = []
            for i in range(20):
                expected += [("stdout", None, f"a{n} {i}"), ("log", "DEBUG", f"a{n} debug {i}")]
            assert got == expected
        flaky = session.state.logs(result.run_id, AssetKey(["flaky"]))
        assert [(x.seq, x.message) for x in flaky] == [(0, "attempt 1"), (1, "attempt 2")]
        assert result.logged[flaky[0].step] == 2
    # the Python API shows warnings on stderr, prefixed with the asset
    assert capsys.readouterr().err.splitlines() == [
        "flaky | WARNING: attempt 1",
        "flaky | WARNING: attempt 2",
    ]


def test_on_log_receives_the_lines_asked_for(project: ProjectDir) -> None:
    project.write("assets.py", MANY)
    shown: list[LogLine] = []
    with project.session() as session:
        session.materialize("a3", on_log=shown.append, log_level=0)
    assert [line_text(x) for x in shown][:2] == ["a3 | a3 0", "a3 | DEBUG: a3 debug 0"]
    assert len(shown) == 40
