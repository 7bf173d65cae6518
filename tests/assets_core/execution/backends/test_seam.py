"""The backend seam: a backend runs one step somewhere and reports its outcome; the scheduler
does the rest. A backend added here, without touching the scheduler, runs a plan with early
cutoff, failure propagation and retries like the built-in ones."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from assets_core.errors import AssetExecutionError, PlanError
from assets_core.execution import backends
from assets_core.execution.backends import Done
from assets_core.execution.step import StepEnvironment, run_step
from assets_core.model.keys import StepKey
from assets_core.model.project import ProjectConfig
from tests.conftest import ProjectDir

STARTED: list[str] = []


class ThreadPerStep:
    """A toy backend: every step on a thread of its own."""

    shares_memory = True
    ahead = 0

    def __init__(
        self,
        env: StepEnvironment,
        steps: Sequence[StepKey],
        workers: int,
        cancelled: threading.Event,
        config: ProjectConfig | None,
    ) -> None:
        self.env = env
        self.cancelled = cancelled
        self.threads: list[threading.Thread] = []

    def submit(self, step: StepKey, run_id: str, done: Done) -> None:
        STARTED.append(str(step))

        def work() -> None:
            done(step, run_step(self.env, step, run_id, self.cancelled))

        thread = threading.Thread(target=work)
        self.threads.append(thread)
        thread.start()

    def shutdown(self, *, wait: bool) -> None:
        if wait:
            for thread in self.threads:
                thread.join()


PROJECT = """
import pandas as pd
from assets_core import asset

ATTEMPTS = []

@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"v": [1]})

@asset(retries=1)
def flaky(a: pd.DataFrame) -> pd.DataFrame:
    ATTEMPTS.append(1)
    if len(ATTEMPTS) == 1:
        raise ValueError("first time")
    return a

@asset
def broken(a: pd.DataFrame) -> pd.DataFrame:
    raise KeyError("missing column")

@asset
def after_broken(broken: pd.DataFrame) -> pd.DataFrame:
    return broken
"""


@pytest.fixture
def with_toy_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    STARTED.clear()
    monkeypatch.setitem(backends.BACKENDS, "toy", f"{__name__}:ThreadPerStep")


@pytest.mark.usefixtures("with_toy_backend")
def test_a_new_backend_needs_no_change_of_the_scheduler(
    project: ProjectDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("assets_core.execution.scheduler.RETRY_BASE_DELAY", 0.01)
    project.write("assets.py", PROJECT)
    session = project.session()
    result = session.materialize(executor="toy", workers=2)
    assert sorted(map(str, result.materialized)) == ["a", "flaky"]
    assert [str(k) for k in result.failed] == ["broken"]
    assert [str(k) for k in result.skipped] == ["after_broken"]
    assert sorted(STARTED) == ["a", "broken", "flaky", "flaky"]  # flaky retried once
    assert session.materialize(executor="toy").summary() == (
        "0 materialized, 0 up to date, 1 failed, 1 skipped"
    )


def test_unknown_backends_are_named() -> None:
    with pytest.raises(PlanError) as err:
        backends.open_backend(
            "dask2",
            None,
            (),
            workers=1,
            cancelled=threading.Event(),
            config=None,  # type: ignore[arg-type]
        )
    assert str(err.value) == (
        "unknown executor 'dask2'; use one of threads, in-process, processes, dask."
    )


@pytest.mark.parametrize("executor", ["threads", "in-process"])
def test_a_failure_keeps_the_users_exception_as_its_cause(
    project: ProjectDir, executor: str
) -> None:
    project.write("assets.py", PROJECT)
    result = project.session().materialize(select="+broken", executor=executor)
    [step] = result.failed
    error = result.exceptions[step]
    assert isinstance(error, AssetExecutionError)
    assert isinstance(error.__cause__, KeyError)
    assert error.__cause__.args == ("missing column",)
    assert str(error) == "broken: KeyError: 'missing column'"
    assert result.errors[step].startswith("broken: KeyError: 'missing column'\nTraceback")
    assert 'raise KeyError("missing column")' in error.user_traceback
    assert "assets_core" not in error.user_traceback
