"""SQL assets from a project's ``sql`` folders (DESIGN §14): keys from paths, options from the
leading lines, dependencies from the tables read by §14's name rules, and every problem
reported at once with the Python assets' problems, each at its file's line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from assets_core.errors import DefinitionError, ProjectError
from assets_core.model.keys import AssetKey
from assets_core.model.project import find_project, load_definitions
from assets_core.model.spec import SqlAsset
from assets_core.partitions import daily

PYTHON = """
import pandas as pd
from assets_core import asset, source

raw_orders = source("raw_orders", path="orders.csv")

@asset
def stg_customers() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [1]})

@asset(key="marts/orders")
def orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    return raw_orders

@asset(key="a/b/c")
def c() -> pd.DataFrame:
    return pd.DataFrame({"x": [1]})
"""


def _project(root: Path, files: dict[str, str], python: str = PYTHON) -> Path:
    (root / "lumbung.toml").write_text('sql = ["models"]\n')
    (root / "assets.py").write_text(textwrap.dedent(python))
    (root / "orders.csv").write_text("customer_id,amount\n1,2.5\n")
    for name, text in files.items():
        path = root / "models" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    (root / "models").mkdir(exist_ok=True)
    return root


def _problems(root: Path) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_definitions(find_project(root))
    return [str(p) for p in caught.value.problems]


def test_keys_options_and_dependencies(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "marts/customer_orders.sql": """
                -- group: marts
                -- tags: daily, finance
                -- owners: ana@example.com
                -- description: Orders per customer.
                select c.customer_id, count(*) as n
                from stg_customers c join marts.orders o using (customer_id)
                group by 1
            """,
            "marts/top.sql": """
                -- io_manager: parquet
                -- partitions: daily("2024-01-01")
                with t as (select * from customer_orders) select * from t, a__b.c
            """,
        },
    )
    defs = load_definitions(find_project(root))
    co = defs.get("marts/customer_orders")
    assert isinstance(co, SqlAsset) and co.kind == "sql"
    assert co.location == f"{root / 'models/marts/customer_orders.sql'}:5"
    spec = co.spec
    assert (spec.group, spec.tags) == ("marts", {"daily", "finance"})
    assert spec.owners == ("ana@example.com",)
    assert spec.description == "Orders per customer."
    assert spec.io_manager == "duckdb"  # the default of SQL assets
    assert dict(spec.ins) == {
        "stg_customers": AssetKey(["stg_customers"]),
        "marts.orders": AssetKey(["marts", "orders"]),
    }
    top = defs.get("marts/top")
    # a bare name finds its sibling first (DESIGN §3); a__b.c is key a/b/c
    assert defs.upstream[top.key] == (
        AssetKey(["marts", "customer_orders"]),
        AssetKey(["a", "b", "c"]),
    )
    assert top.spec.io_manager == "parquet"
    assert top.spec.partitions == daily("2024-01-01")


def test_every_problem_at_once_with_the_python_ones(tmp_path: Path) -> None:
    python = PYTHON + "\n@asset\ndef broken(nothing_here: pd.DataFrame) -> pd.DataFrame:\n"
    python += "    return nothing_here\n"
    root = _project(
        tmp_path,
        {
            "renamed.sql": "-- grup: x\nselect *\nfrom stg_customer\n",
            "two.sql": "select 1 as a;\nselect 2 as b\n",
            "bad.sql": "select from where (\n",
            "write.sql": "-- a comment\ninsert into t values (1)\n",
            "part.sql": '-- partitions: hourly_ish("x")\nselect 1 as a\n',
            "1st.sql": "select 1 as a\n",
        },
        python,
    )
    assert _problems(root) == [
        "1st (models/1st.sql:1): '1st' cannot be part of a key (its path under the SQL "
        "folder); rename it with letters, digits and '_' only, not starting with a digit.",
        "bad (models/bad.sql:1): cannot parse the SQL near 'where' (Expected table name); fix "
        "the statement.",
        "part (models/part.sql:1): partitions: 'hourly_ish' is not a partitions definition; use "
        "one of daily, dynamic, hourly, monthly, multi, static, weekly.",
        "renamed (models/renamed.sql:1): unknown option 'grup'; did you mean 'group'? options "
        "are checks, description, group, io_manager, owners, partitions, tags (a plain comment "
        "must not start with 'word:').",
        "two (models/two.sql:2): holds 2 statements; a SQL asset is one SELECT query: move the "
        "others to their own files.",
        "write (models/write.sql:2): is an INSERT statement, not a query; a SQL asset is one "
        "SELECT query whose rows are the asset (Lumbung creates the table).",
        "broken (assets.py:19): parameter 'nothing_here' names 'nothing_here', which is not "
        "defined. Define that asset, fix the name, or map it with ins=.",
        "renamed (models/renamed.sql:3): table 'stg_customer' is not an asset or source. Did "
        "you mean 'stg_customers'? Define it, or fix the name.",
    ]


def test_unknown_qualified_table_suggests_in_sql_spelling(tmp_path: Path) -> None:
    root = _project(tmp_path, {"x.sql": "select * from a__b.d join marts.order using (x)\n"})
    got = _problems(root)
    print("\n".join(got))
    assert got == [
        "x (models/x.sql:1): table 'a__b.d' (key 'a/b/d') is not an asset or source. Did you "
        "mean 'a__b.c'? Define it, or fix the name.",
        "x (models/x.sql:1): table 'marts.order' (key 'marts/order') is not an asset or source. "
        "Did you mean 'marts.orders'? Define it, or fix the name.",
    ]


def test_sql_config_must_name_folders(tmp_path: Path) -> None:
    (tmp_path / "lumbung.toml").write_text('sql = ["nowhere"]\n')
    with pytest.raises(ProjectError) as caught:
        find_project(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path.resolve() / 'lumbung.toml'}: sql: 'nowhere' is not a folder under "
        f"{tmp_path.resolve()}; create it, or fix `sql`."
    )
    (tmp_path / "lumbung.toml").write_text('sql = "models"\n')
    with pytest.raises(ProjectError, match="sql: must be a list of folders, got 'models'"):
        find_project(tmp_path)
