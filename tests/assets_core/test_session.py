"""The Session: a project's definitions bound to storage, state and IO managers. What a
long-lived session (a notebook) does when the project's modules change on disk: it never runs
or records code other than what its modules were compiled from."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from assets_core import load_project
from assets_core.errors import ProjectError
from assets_core.session import ProjectReloaded

CODE = """
import pandas as pd
from assets_core import asset

FACTOR = {factor}


@asset
def base() -> pd.DataFrame:
    return pd.DataFrame({{"v": [1, 2]}})


@asset
def scaled(base: pd.DataFrame) -> pd.DataFrame:
    return base * FACTOR
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "lumbung.toml").write_text('modules = ["assets_session_t"]\n')
    (root / "assets_session_t.py").write_text(textwrap.dedent(CODE.format(factor=2)))
    sys.modules.pop("assets_session_t", None)
    return root


def _edit(root: Path, factor: int) -> None:
    file = root / "assets_session_t.py"
    file.write_text(textwrap.dedent(CODE.format(factor=factor)))


def test_an_edit_after_loading_is_loaded_again_and_said(root: Path) -> None:
    with load_project(root) as session:
        session.materialize()
        _edit(root, 10)
        with pytest.warns(ProjectReloaded, match=r"assets_session_t\.py changed on disk since "):
            result = session.materialize()
        assert [str(k) for k in result.materialized] == ["scaled"]
        assert session.load("scaled")["v"].tolist() == [10, 20]  # type: ignore[index]
        # what was recorded is the code that ran: nothing is stale now
        assert session.plan().steps == ()
    with load_project(root) as fresh:
        assert fresh.plan().steps == ()


def test_a_plan_made_before_an_edit_is_refused(root: Path) -> None:
    with load_project(root) as session:
        plan = session.plan()
        _edit(root, 3)
        with pytest.raises(ProjectError) as err:
            session.materialize(plan=plan)
        assert str(err.value) == (
            "assets_session_t.py changed on disk since this plan was made; make the plan again "
            "(it loads the project again)."
        )
        assert session.state.runs() == []  # nothing ran, nothing recorded


def test_an_edit_that_restores_the_bytes_changes_nothing(root: Path) -> None:
    file = root / "assets_session_t.py"
    with load_project(root) as session:
        session.materialize()
        text = file.read_text()
        file.write_text(text + "\n# a comment\n")
        file.write_text(text)  # a new mtime, the same bytes
        assert session.plan().steps == ()  # not even loaded again: the bytes are the same
