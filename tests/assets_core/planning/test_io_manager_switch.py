"""An asset moved to another IO manager (or to another place of the same one) is stale with
``io_manager_changed``, saying which manager stored its last output and whether that output is
still there, never ``output missing at`` a place that exists."""

from __future__ import annotations

from pathlib import Path

from assets_core.model.keys import AssetKey
from assets_core.planning.planner import Plan
from io_managers.parquet import ParquetIOManager
from tests.conftest import ProjectDir

CHAIN = """
import pandas as pd
from assets_core import asset

@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})

@asset
def b(a: pd.DataFrame) -> pd.DataFrame:
    return a * 2

@asset
def c(b: pd.DataFrame) -> pd.DataFrame:
    return b + 1
"""


def steps(plan: Plan) -> dict[str, tuple[str, list[str]]]:
    return {str(s.key): (s.status, [r.code for r in s.reasons]) for s in plan.steps}


def _move_b(project: ProjectDir, manager: str) -> None:
    project.edit("assets.py", "@asset\ndef b(", f"@asset(io_manager={manager!r})\ndef b(")


def test_parquet_to_duckdb_says_so_and_where_the_old_output_is(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    with project.session(default_io_manager="parquet") as session:
        session.materialize()
    _move_b(project, "duckdb")
    old = project.storage / "parquet" / "b.parquet"
    with project.session(default_io_manager="parquet") as session:
        plan = session.plan()
        assert steps(plan) == {
            "b": ("stale", ["io_manager_changed"]),
            "c": ("pending", ["waits_on"]),
        }
        reason = plan.steps[0].reasons[0]
        assert reason.message == (
            f"its IO manager changed from parquet to duckdb (the old output at {old} is left; "
            "lumbung wipe --orphans removes it)"
        )
        assert reason.to_dict() == {
            "code": "io_manager_changed",
            "message": reason.message,
            "old": "parquet",
            "new": "duckdb",
        }
        assert str(session.statuses([AssetKey.parse("b")])[AssetKey.parse("b")]) == "stale"
        old.unlink()
        assert plan.step("b") is not None
        gone = session.plan().steps[0].reasons[0].message
        assert (
            gone
            == f"its IO manager changed from parquet to duckdb (the old output at {old} is gone)"
        )
        result = session.materialize()
        assert [str(k) for k in result.materialized] == ["b"]
        assert [str(k) for k in result.up_to_date] == ["c"]
        assert steps(session.plan()) == {}


def test_back_to_a_manager_holding_an_older_output(project: ProjectDir) -> None:
    """Parquet, then DuckDB, then Parquet again: the old Parquet file is there, but it is not
    the last output, so the asset is stale because its manager changed (not ``output_changed``
    of a file it never compared)."""
    project.write("assets.py", CHAIN)
    with project.session(default_io_manager="parquet") as session:
        session.materialize()
    _move_b(project, "duckdb")
    with project.session(default_io_manager="parquet") as session:
        session.materialize()
    project.edit("assets.py", "@asset(io_manager='duckdb')\ndef b(", "@asset\ndef b(")
    with project.session(default_io_manager="parquet") as session:
        plan = session.plan()
        assert steps(plan) == {
            "b": ("stale", ["io_manager_changed"]),
            "c": ("pending", ["waits_on"]),
        }
        where = f"{project.storage / 'warehouse.duckdb'}::main.b"
        assert plan.steps[0].reasons[0].message == (
            f"its IO manager changed from duckdb to parquet (the old output at {where} is "
            "left; lumbung wipe --orphans removes it)"
        )


def test_a_manager_no_longer_configured(project: ProjectDir, tmp_path: Path) -> None:
    """The Parquet manager given to the session stores under another root: no manager
    configured here recognises the place the last outputs were stored at."""
    project.write("assets.py", CHAIN)
    with project.session(default_io_manager="parquet") as session:
        session.materialize()
    elsewhere = {"parquet": ParquetIOManager(tmp_path / "elsewhere"), "memory": project.memory}
    with project.session(default_io_manager="parquet", io_managers=elsewhere) as session:
        plan = session.plan()
    assert steps(plan) == {
        "a": ("stale", ["io_manager_changed"]),
        "b": ("stale", ["io_manager_changed", "waits_on"]),
        "c": ("stale", ["io_manager_changed", "waits_on"]),
    }
    reason = plan.steps[0].reasons[0]
    assert reason.message == (
        f"its IO manager changed to parquet (the old output at "
        f"{project.storage / 'parquet' / 'a.parquet'} was stored by an IO manager not "
        "configured here)"
    )
    assert (reason.old, reason.new) == (None, "parquet")


def test_a_missing_output_where_the_manager_stores_it_is_still_missing(
    project: ProjectDir,
) -> None:
    project.write("assets.py", CHAIN)
    with project.session(default_io_manager="parquet") as session:
        session.materialize()
        (project.storage / "parquet" / "b.parquet").unlink()
        assert steps(session.plan()) == {
            "b": ("missing", ["output_missing"]),
            "c": ("pending", ["waits_on"]),
        }
