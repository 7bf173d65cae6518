"""A project mixing Python, SQL and source assets across the Parquet and DuckDB IO managers,
driven through the ``lumbung`` command (DESIGN §14's acceptance): exact plans after a
comment-only edit (nothing to do), a predicate edit (that asset stale, downstream waits), an
upstream Python asset changing its output (the SQL asset runs again), and a referenced table
renamed (a definition error naming the file and line). Selection by ``kind:sql`` and
``path:`` on ``.sql`` files works as for any asset."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.assets_core.cli.conftest import run

ASSETS = textwrap.dedent(
    """
    import pandas as pd

    from assets_core import asset, source

    raw_orders = source("raw_orders", path="orders.csv")


    @asset
    def customers() -> pd.DataFrame:  # Parquet
        return pd.DataFrame({"customer_id": [1, 2, 3], "name": ["ana", "bo", "cy"]})


    @asset(key="marts/orders", io_manager="duckdb")
    def orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
        return raw_orders.assign(amount=raw_orders["amount"] * 1)


    @asset
    def report(customer_totals: pd.DataFrame) -> pd.DataFrame:
        return customer_totals.head(2)
    """
)
TOTALS = """\
-- group: marts
-- io_manager: duckdb
-- the biggest customers first
select c.name, sum(o.amount) as amount
from customers c join marts.orders o using (customer_id)
where o.amount > 0
group by c.name
order by amount desc, c.name
"""
BIG = "-- io_manager: parquet\nselect * from customer_totals where amount >= 10\n"


def _project(root: Path) -> None:
    (root / "lumbung.toml").write_text('sql = ["models"]\n')
    (root / "assets.py").write_text(ASSETS)
    (root / "orders.csv").write_text("customer_id,amount\n1,10\n1,5\n2,7\n3,-1\n")
    (root / "models" / "marts").mkdir(parents=True)
    (root / "models" / "marts" / "customer_totals.sql").write_text(TOTALS)
    (root / "models" / "big.sql").write_text(BIG)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_sql_assets_through_the_cli(tmp_path: Path) -> None:
    _project(tmp_path)
    totals = tmp_path / "models" / "marts" / "customer_totals.sql"
    first = run(["materialize"], tmp_path)
    assert first.code == 0, first.err
    assert "5 materialized" in first.out

    shown = run(["list", "-s", "kind:sql", "path:models/big.sql"], tmp_path)
    assert shown.code == 0, shown.err
    assert shown.out.splitlines() == [
        "key                    group    io manager  kind  status  checks",
        "marts/customer_totals  marts    duckdb      sql   fresh   -",
        "big                    default  parquet     sql   fresh   -",
        "2 assets: 2 fresh",
    ]

    # comments, layout and keyword case never make it stale
    _edit(totals, "-- the biggest customers first", "-- the biggest first\n-- (ties by name)")
    _edit(totals, "where o.amount > 0", "WHERE   o.amount>0  -- refunds out")
    plan = run(["plan"], tmp_path)
    assert (plan.code, plan.out) == (0, "Nothing to do: 5 selected assets are fresh.\n"), plan.err

    # a changed predicate does, and what reads it waits
    _edit(totals, "o.amount>0", "o.amount>5")
    plan = run(["plan"], tmp_path)
    assert plan.code == 0, plan.err
    assert plan.out.splitlines() == [
        "3 of 5 selected assets would run:",
        "  stale    marts/customer_totals  code changed (sql)",
        "  pending  big                    waits on marts/customer_totals",
        "  pending  report                 waits on marts/customer_totals",
    ]
    done = run(["materialize"], tmp_path)
    assert done.code == 0, done.err

    # an upstream Python asset's new output runs the SQL asset again
    _edit(tmp_path / "assets.py", "* 1)", "* 2)")
    done = run(["materialize"], tmp_path)
    assert done.code == 0, done.err
    ran = {line.split()[1] for line in done.out.splitlines() if line.startswith("materialized")}
    assert {"marts/orders", "marts/customer_totals", "big", "report"} <= ran
    shown = run(["show", "big"], tmp_path)
    assert "    rows:         2\n" in shown.out  # ana 30 and bo 14 now reach 10 (was ana alone)

    # a referenced table renamed: one line naming the file and line, the fix, exit 2
    _edit(totals, "join marts.orders o", "join marts.order o")
    broken = run(["plan"], tmp_path)
    assert broken.code == 2
    assert broken.err == (
        "error: marts/customer_totals (models/marts/customer_totals.sql:6): table 'marts.order' "
        "(key 'marts/order') is not an asset or source. Did you mean 'marts.orders'? Define it, "
        "or fix the name.\n"
    )


def test_a_run_of_sql_assets_alone_runs_no_project_code(tmp_path: Path) -> None:
    """Such a run may end without tearing the interpreter down (``assets_core.cli.leave``): no
    object of the project's code is left whose finalizer would not run. A Python asset in the
    plan, or a custom check of a SQL asset, keeps the ordinary exit."""
    from assets_core.cli.cmd_materialize import _runs_project_code
    from assets_core.session import load_project

    _project(tmp_path)
    first = run(["materialize"], tmp_path)
    assert first.code == 0, first.err

    def runs_code(select: str) -> bool:
        with load_project(tmp_path) as session:
            return _runs_project_code(session, session.plan(select, force=True))

    assert runs_code("kind:sql") is False
    assert runs_code("kind:sql customers") is True
    (tmp_path / "checks.py").write_text(
        "from assets_core import check\n\n\n"
        '@check(asset="big")\n'
        "def some_rows(value) -> bool:\n"
        "    return True\n"
    )
    (tmp_path / "lumbung.toml").write_text('modules = ["assets", "checks"]\nsql = ["models"]\n')
    assert runs_code("marts/customer_totals") is False
    assert runs_code("big") is True
