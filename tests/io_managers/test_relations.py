"""DuckDB relations through the engine: inputs from Parquet, DuckDB and a CSV source joined in
one SQL query on the asset's own connection, stored by the DuckDB manager; many assets written
into one warehouse by the threads executor."""

from __future__ import annotations

from typing import Any

import pandas as pd

from assets_core.model.keys import AssetKey, StepKey

JOIN_PROJECT = '''
import duckdb
import pandas as pd

from assets_core import asset, source

customers = source("customers", path="customers.csv")


@asset(io_manager="parquet")
def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4, 5],
            "customer_id": [10, 20, 10, 30, 20],
            "item": ["apple", "pear", "pear", "apple", "fig"],
            "qty": [3, 1, 2, 5, 4],
        }
    )


@asset(io_manager="duckdb")
def prices() -> pd.DataFrame:
    return pd.DataFrame({"item": ["apple", "pear", "fig"], "price": [0.5, 1.25, 2.0]})


@asset(io_manager="duckdb")
def revenue(
    context,
    orders: duckdb.DuckDBPyRelation,
    prices: duckdb.DuckDBPyRelation,
    customers: duckdb.DuckDBPyRelation,
) -> duckdb.DuckDBPyRelation:
    return context.duckdb.sql(
        """
        select c.name, count(*) as n_orders, sum(o.qty * p.price) as total
        from orders o
        join prices p using (item)
        join customers c using (customer_id)
        group by c.name
        order by c.name
        """
    )
'''

CUSTOMERS = "customer_id,name\n10,Ani\n20,Budi\n30,Citra\n"


def test_relation_inputs_from_three_managers_joined_in_one_query(project: Any) -> None:
    project.write("assets.py", JOIN_PROJECT)
    (project.dir / "customers.csv").write_text(CUSTOMERS)
    session = project.session("assets", io_managers={}, default_io_manager="parquet")
    result = session.materialize()
    assert result.failed == [], result.errors
    assert sorted(map(str, result.materialized)) == ["orders", "prices", "revenue"]

    revenue = session.load("revenue")
    assert isinstance(revenue, pd.DataFrame)
    assert revenue.to_dict("list") == {
        "name": ["Ani", "Budi", "Citra"],
        "n_orders": [2, 2, 1],
        "total": [3 * 0.5 + 2 * 1.25, 1 * 1.25 + 4 * 2.0, 5 * 0.5],
    }
    key = AssetKey.parse("revenue")
    stored = session.state.latest([key])[StepKey(key)].last
    assert stored is not None
    assert stored.location == f"{session.storage / 'warehouse.duckdb'}::main.revenue"
    assert stored.rows == 3
    session.close()

    again = project.session("assets", io_managers={}, default_io_manager="parquet")
    assert again.plan().steps == ()
    rerun = again.materialize()
    assert rerun.materialized == [] and rerun.failed == []
    again.close()


def _many_project(n: int) -> str:
    lines = [
        "import duckdb",
        "import pandas as pd",
        "from assets_core import asset",
        "",
        "@asset(io_manager='duckdb')",
        "def base() -> pd.DataFrame:",
        "    return pd.DataFrame({'i': range(1000)})",
        "",
    ]
    for k in range(n):
        if k % 3 == 0:  # a relation computed from a relation input
            lines += [
                f"@asset(io_manager='duckdb', key='wave/t{k}')",
                f"def t{k}(context, base: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:",
                f"    return context.duckdb.sql('select i, i * {k} as v from base order by i')",
                "",
            ]
        elif k % 3 == 1:  # pandas in, pandas out
            lines += [
                f"@asset(io_manager='duckdb', key='wave/t{k}')",
                f"def t{k}(base: pd.DataFrame) -> pd.DataFrame:",
                f"    return base.assign(v=base.i * {k})",
                "",
            ]
        else:  # a relation input, returned as it came plus a column
            lines += [
                f"@asset(io_manager='duckdb', key='wave/t{k}')",
                f"def t{k}(base: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:",
                f"    return base.project('i, i * {k} as v').order('i')",
                "",
            ]
    return "\n".join(lines)


def test_threads_materialize_thirty_assets_into_one_warehouse(project: Any) -> None:
    n = 30
    project.write("assets.py", _many_project(n))
    session = project.session("assets", io_managers={}, default_io_manager="duckdb")
    result = session.materialize(executor="threads", workers=8)
    assert result.failed == [], result.errors
    assert len(result.materialized) == n + 1
    for k in range(n):
        df = session.load(f"wave/t{k}")
        assert isinstance(df, pd.DataFrame)
        assert df.columns.tolist() == ["i", "v"]
        assert df.i.tolist() == list(range(1000))
        assert df.v.tolist() == [i * k for i in range(1000)]
    session.close()
    again = project.session("assets", io_managers={}, default_io_manager="duckdb")
    assert again.plan().steps == ()
    again.close()
