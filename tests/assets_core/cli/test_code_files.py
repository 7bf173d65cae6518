"""Files an asset reads as code (``code_files=``) are part of its code version: editing the SQL
a Python asset reads makes it stale, says which file changed, and a run stores what the new
SQL computes."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.assets_core.cli.conftest import run, run_sequence

ASSETS = textwrap.dedent(
    """
    from pathlib import Path

    import duckdb
    import pandas as pd

    from assets_core import asset

    HERE = Path(__file__).parent


    @asset
    def numbers() -> pd.DataFrame:
        return pd.DataFrame({"n": [1, 2, 3]})


    @asset(code_files=["sql/total.sql"])
    def total(numbers: pd.DataFrame) -> pd.DataFrame:
        sql = (HERE / "sql" / "total.sql").read_text()
        return duckdb.sql(sql).df()


    @asset
    def report(total: pd.DataFrame) -> pd.DataFrame:
        return total
    """
)


def _project(path: Path) -> None:
    (path / "lumbung.toml").write_text('modules = ["assets"]\n')
    (path / "assets.py").write_text(ASSETS)


def test_editing_a_code_file_makes_its_asset_stale(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    _project(tmp_path)
    sql = tmp_path / "sql" / "total.sql"
    sql.write_text("select sum(n) as total from numbers\n")
    first = run(["materialize"], tmp_path)
    assert first.code == 0, first.err

    sql.write_text("select sum(n) * 10 as total from numbers\n")
    plan, done, shown = run_sequence(
        [
            (["plan"], tmp_path),
            (["materialize"], tmp_path),
            (["plan"], tmp_path),
        ]
    )
    lines = plan.out.splitlines()
    assert any("total" in ln and "code changed (file:sql/total.sql)" in ln for ln in lines)
    assert not any(ln.strip().startswith("numbers") for ln in lines), plan.out
    assert done.code == 0, done.err
    assert "1 materialized" in done.out or "2 materialized" in done.out
    assert shown.out.strip() == "Nothing to do: 3 selected assets are fresh."

    import pandas as pd

    stored = pd.read_parquet(tmp_path / ".lumbung" / "parquet" / "total.parquet")
    assert stored["total"].tolist() == [60]


def test_a_missing_code_file_is_a_definition_error(tmp_path: Path) -> None:
    _project(tmp_path)
    res = run(["plan"], tmp_path)
    assert res.code == 2
    assert res.err_lines == [
        "error: total (assets.py:17): code_files names 'sql/total.sql', which is not a file; "
        "give its path relative to the project folder."
    ]
