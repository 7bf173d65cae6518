"""Who is blamed when a step fails (assets_core.execution.failures): the asset's own code
gets the user's traceback, its own frames only; a failure to load an input or store the
output is one line naming the asset, the manager and the cause, with no traceback; and every
failure keeps all its frames for ``--debug``. The CLI cases are in the bad-input catalogue
(tests/reliability/test_bad_input.py) and tests/reliability/test_storage_faults.py."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from assets_core.errors import ConversionError, describe_exception, exception_message
from assets_core.storage.io import InputContext, MemoryIOManager, OutputContext, StoredOutput
from tests.conftest import ProjectDir

PROJECT = """
import pandas as pd
from assets_core import asset


@asset(io_manager="flaky")
def up():
    return pd.DataFrame({"x": [1, 2]})


@asset
def down(up):
    return up


@asset
def mine():
    frame = pd.DataFrame({"x": [1]})
    return frame["missing"]
"""


class Flaky(MemoryIOManager):
    """A memory manager whose save or load raises what it is told to."""

    def __init__(self, on_save: Exception | None = None, on_load: Exception | None = None):
        super().__init__()
        self.on_save, self.on_load = on_save, on_load

    def save(self, ctx: OutputContext, value: object) -> StoredOutput:
        if self.on_save is not None:
            raise self.on_save
        return super().save(ctx, value)

    def load(self, ctx: InputContext) -> object:
        if self.on_load is not None:
            raise self.on_load
        return super().load(ctx)


def _fail(project: ProjectDir, manager: Flaky, select: str) -> tuple[str, str]:
    """The error text and the full traceback of the one step of ``select`` that failed."""
    project.write("assets.py", PROJECT)
    session = project.session(io_managers={"memory": project.memory, "flaky": manager})
    try:
        result = session.materialize(select=select, executor="in-process")
    finally:
        session.close()
    [step] = result.failed
    return result.errors[step], result.tracebacks[step]


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (
            OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] ..."),
            "up: the flaky IO manager cannot store the output (No space left on device); free "
            "some space on that disk, or use a path on another one.",
        ),
        (
            PermissionError(errno.EACCES, "Failed to open local file"),
            "up: the flaky IO manager cannot store the output (Permission denied); check that "
            "this user may write there, or use another path.",
        ),
        (
            RuntimeError("a bug in the manager"),
            "up: the flaky IO manager failed to store the output (RuntimeError: a bug in the "
            "manager); this is not the asset's code failing: run with --debug to see where.",
        ),
        (
            ConversionError("column 'x': it mixes int and str"),
            "up: the flaky IO manager cannot store column 'x': it mixes int and str",
        ),
    ],
)
def test_a_failure_to_store_is_one_line_naming_asset_manager_and_cause(
    project: ProjectDir, raised: Exception, message: str
) -> None:
    error, full = _fail(project, Flaky(on_save=raised), "up")
    assert error == message  # no traceback: the asset's code did not fail
    assert full.startswith("Traceback (most recent call last):")
    assert "test_failures.py" in full and "in save" in full  # --debug: every frame
    assert full.rstrip().endswith(message)


def test_a_failure_to_load_an_input_is_one_line(project: ProjectDir) -> None:
    flaky = Flaky(on_load=PermissionError(errno.EACCES, "denied"))
    project.write("assets.py", PROJECT)
    session = project.session(io_managers={"memory": project.memory, "flaky": flaky})
    try:
        session.materialize(select="up", executor="in-process")
        result = session.materialize(select="down", executor="in-process")
    finally:
        session.close()
    [step] = result.failed
    assert result.errors[step] == (
        "down: cannot load input 'up' (up) (Permission denied); check that this user may read "
        "there, or use another path."
    )


def test_the_users_own_failure_shows_the_users_frames_only(project: ProjectDir) -> None:
    error, full = _fail(project, Flaky(), "mine")
    first, *trace = error.splitlines()
    assert first == "mine: KeyError: 'missing'"
    assert trace[0] == "Traceback (most recent call last):"
    assert 'return frame["missing"]' in error  # the user's line, then pandas' own frames
    assert "assets_core" not in error and "io_managers" not in error
    assert "assets_core/execution/step.py" in full  # --debug shows Lumbung's frames too


class Unprintable(Exception):
    def __str__(self) -> str:
        raise ValueError("no message")


def test_a_message_that_cannot_be_read_is_told_as_python_tells_it() -> None:
    assert exception_message(Unprintable()) == "<exception str() failed>"
    assert describe_exception(Unprintable()) == "Unprintable: <exception str() failed>"
    assert describe_exception(KeyError()) == "KeyError"


def _arrow_of(frame: Any) -> None:
    from assets_core.storage.values import to_arrow

    to_arrow(frame)


def test_frames_arrow_refuses_name_the_column_and_the_fix() -> None:
    import pandas as pd

    class Thing:
        pass

    cases = {
        "column 'x': it mixes int and str, and a stored column holds one type; convert its "
        "values first, e.g. df['x'] = df['x'].astype(str).": pd.DataFrame({"x": [1, "a"]}),
        "column 'x': it mixes int, str, float and 2 more types, and a stored column holds one "
        "type; convert its values first, e.g. df['x'] = df['x'].astype(str).": pd.DataFrame(
            {"x": [1, "a", 2.5, b"b", Thing()]}
        ),
        "column 'a': 2 columns have that name, and a stored table needs one name per column; "
        "rename them (df.columns = [...]).": pd.DataFrame([[1, 2]], columns=["a", "a"]),
        "column 'c': it holds complex numbers (complex128), which a stored column cannot hold; "
        "store the real and imaginary parts as two columns (.real, .imag).": pd.DataFrame(
            {"c": [1 + 2j]}
        ),
        "column 's': it is sparse (Sparse[int64, 0]), and a stored column is dense; make it "
        "dense first: df['s'] = df['s'].sparse.to_dense().": pd.DataFrame(
            {"s": pd.arrays.SparseArray([0, 1, 0])}
        ),
        "column 'b': its values of type int cannot be stored (Python int too large to convert "
        "to C long); convert them first, e.g. df['b'] = df['b'].astype(str).": pd.DataFrame(
            {"b": [2**70]}
        ),
        "index 'i': it mixes int and str, and a stored column holds one type; convert its "
        "values first, e.g. df.index = df.index.astype(str).": pd.DataFrame(
            {"x": [1, 2]}, index=pd.Index([1, "a"], name="i")
        ),
    }
    for message, frame in cases.items():
        with pytest.raises(ConversionError) as err:
            _arrow_of(frame)
        assert str(err.value) == message
    _arrow_of(pd.DataFrame({"ok": [None, "a", float("nan")]}))  # missing values mix with any


def test_lumbungs_own_error_stays_as_raised_with_its_cause(project: ProjectDir) -> None:
    from assets_core.errors import IOManagerError

    refused = IOManagerError("up: the flaky IO manager cannot write here (it said no).")
    refused.__cause__ = KeyError("the root cause")
    error, full = _fail(project, Flaky(on_save=refused), "up")
    assert error == "up: the flaky IO manager cannot write here (it said no)."
    assert "KeyError: 'the root cause'" in full  # --debug still shows what caused it
