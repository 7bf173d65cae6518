"""SQL assets, and Python assets returning a relation, run inside the DuckDB warehouse (DESIGN
§14): inputs bound under the names they were referenced by (a warehouse table read where it
is, a Parquet output and a CSV source scanned in place), the result created in the warehouse
(never through ``save``), and its data version the same canonical hash the same rows saved
through ``save`` get; a relation of another connection is saved as any value is; a
partitioned SQL asset sees only the rows of the partitions its partition reads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.project import find_project, load_definitions
from assets_core.session import Session
from assets_core.storage.io import OutputContext, StoredOutput
from io_managers.duckdb import DuckDBIOManager

PYTHON = '''
import duckdb
import pandas as pd
import pyarrow as pa
from assets_core import asset, source
from assets_core.partitions import static

raw_prices = source("raw_prices", path="prices.csv")

@asset(key="marts/orders", io_manager="duckdb")
def orders() -> pd.DataFrame:
    return pd.DataFrame({"sku": ["a", "b", "a"], "qty": [1, 2, 3]})

@asset
def names() -> pd.DataFrame:  # Parquet
    return pd.DataFrame({"sku": ["a", "b"], "name": ["apple", "bean"]})

@asset(io_manager="duckdb", ins={"orders": "marts/orders"})
def as_relation(
    context,
    orders: duckdb.DuckDBPyRelation,
    names: duckdb.DuckDBPyRelation,
    raw_prices: duckdb.DuckDBPyRelation,
) -> duckdb.DuckDBPyRelation:
    return context.duckdb.sql("""QUERY""".replace("marts.orders", "orders"))

@asset(io_manager="duckdb", ins={"orders": "marts/orders"})
def as_arrow(
    context,
    orders: duckdb.DuckDBPyRelation,
    names: duckdb.DuckDBPyRelation,
    raw_prices: duckdb.DuckDBPyRelation,
) -> pa.Table:  # through save, as Arrow
    return context.duckdb.sql("""QUERY""".replace("marts.orders", "orders")).to_arrow_table()

@asset(io_manager="duckdb")
def elsewhere() -> duckdb.DuckDBPyRelation:  # a relation of a connection of its own
    return duckdb.connect().sql("select 'a' as sku, 3 as qty")

@asset(io_manager="duckdb")
def as_reader(context) -> duckdb.DuckDBPyRelation:  # relation.arrow() gives a batch reader
    return context.duckdb.sql("select 'a' as sku, 4 as qty").arrow()

@asset(io_manager="duckdb", partitions=static(["eu", "us"]))
def sales(context) -> pd.DataFrame:
    region = context.partition
    return pd.DataFrame({"region": [region] * 2, "amount": [1, 2] if region == "eu" else [10, 20]})
'''
QUERY = (
    "select o.sku, n.name, sum(o.qty * p.price) as total\n"
    "from marts.orders o join names n using (sku) join raw_prices p using (sku)\n"
    "group by all order by 1"
)
FILES = {
    "totals.sql": "-- a comment\n" + QUERY + "\n",
    "regional.sql": '-- partitions: static(["eu", "us"])\nselect sum(amount) as total from sales\n',
}


class _NoSave(DuckDBIOManager):
    """The real DuckDB manager, except that a value passing through ``save`` is an error for
    the SQL asset and the relation asset: their tables must be created inside the warehouse.
    The keys saved are noted in ``saved``."""

    saved: list[str]

    def save(self, ctx: OutputContext, value: object) -> StoredOutput:
        assert str(ctx.key) not in NATIVE, f"{ctx.key}'s result went through save"
        self.saved.append(str(ctx.key))
        return super().save(ctx, value)


NATIVE = ("totals", "as_relation", "counted")


@pytest.fixture
def session(tmp_path: Path) -> Session:
    (tmp_path / "lumbung.toml").write_text('sql = ["models"]\n')
    (tmp_path / "assets.py").write_text(PYTHON.replace("QUERY", QUERY))
    (tmp_path / "prices.csv").write_text("sku,price\na,2.5\nb,4.0\n")
    (tmp_path / "models").mkdir()
    for name, text in FILES.items():
        (tmp_path / "models" / name).write_text(textwrap.dedent(text))
    config = find_project(tmp_path)
    manager = _NoSave(config.storage / "warehouse.duckdb", idle_close=0)
    manager.saved = []
    return Session(load_definitions(config), config=config, io_managers={"duckdb": manager})


def test_sql_asset_runs_inside_the_warehouse(session: Session) -> None:
    result = session.materialize()
    assert not result.failed, result.errors
    table = session.load("totals", duckdb.DuckDBPyRelation).fetchall()
    assert table == [("a", "apple", 10.0), ("b", "bean", 8.0)]
    names = ("totals", "as_relation", "as_arrow")
    states = session.state.latest([AssetKey([k]) for k in names])
    versions = {k: states[StepKey(AssetKey([k]))].last for k in names}
    assert all(v is not None for v in versions.values())
    # one hash for every way: the SQL asset's and the relation's tables created inside the
    # warehouse, the same rows reaching it as Arrow
    assert len({v.data_version for v in versions.values() if v is not None}) == 1
    manager = session.io.get("duckdb")
    assert isinstance(manager, _NoSave)
    assert "as_arrow" in manager.saved and "elsewhere" in manager.saved
    assert session.load("elsewhere", duckdb.DuckDBPyRelation).fetchall() == [("a", 3)]
    assert "as_reader" in manager.saved  # read into a table, then saved
    assert session.load("as_reader", duckdb.DuckDBPyRelation).fetchall() == [("a", 4)]
    with duckdb.connect(str(session.storage / "warehouse.duckdb"), read_only=True) as con:
        views = con.sql("select view_name from duckdb_views() where not internal").fetchall()
        catalogs = con.sql("select database_name from duckdb_databases()").fetchall()
    assert views == []  # nothing the step bound was left in the warehouse
    assert sorted(c for (c,) in catalogs) == ["system", "temp", "warehouse"]


def test_partitioned_sql_asset_reads_its_partitions_rows(session: Session) -> None:
    result = session.materialize()
    assert not result.failed, result.errors
    rows = session.load("regional", duckdb.DuckDBPyRelation).fetchall()
    assert sorted(rows) == [("eu", 3), ("us", 30)]  # each partition's own upstream rows


def test_sql_error_is_the_assets_and_keeps_the_stored_table(session: Session) -> None:
    assert not session.materialize().failed
    models = session.defs.root / "models"
    (models / "totals.sql").write_text(QUERY.replace("sum(o.qty", "sum(o.qtty") + "\n")
    config = session.config
    assert config is not None
    manager = session.io.get("duckdb")
    again = Session(load_definitions(config), config=config, io_managers={"duckdb": manager})
    result = again.materialize()
    [(step, error)] = result.errors.items()
    assert str(step) == "totals"
    assert error.startswith("totals: BinderException: Binder Error: ")
    assert 'does not have a column named "qtty"' in error.splitlines()[0]
    assert "Traceback" not in error  # DuckDB's own Python frames say nothing to the user
    assert again.load("totals", duckdb.DuckDBPyRelation).fetchall()[0] == ("a", "apple", 10.0)


CHECKED = """
import duckdb
from assets_core import asset
from assets_core.checks import expect

@asset(io_manager="duckdb", checks=[expect("n < LIMIT")])
def counted(context) -> duckdb.DuckDBPyRelation:
    return context.duckdb.sql("select range as n from range(ROWS)")
"""


def test_relation_asset_is_checked_before_it_is_published(tmp_path: Path) -> None:
    """A relation created inside the warehouse is audited in its open transaction: a failing
    blocking check leaves the table the last good run published."""
    config_file = tmp_path / "lumbung.toml"
    config_file.write_text('modules = ["assets"]\n')

    def run(rows: int) -> Session:
        (tmp_path / "assets.py").write_text(
            CHECKED.replace("LIMIT", "3").replace("ROWS", str(rows))
        )
        config = find_project(tmp_path)
        manager = _NoSave(config.storage / "warehouse.duckdb", idle_close=0)
        manager.saved = []
        return Session(load_definitions(config), config=config, io_managers={"duckdb": manager})

    good = run(3)
    assert not good.materialize().failed
    bad = run(5)
    result = bad.materialize()
    [(step, error)] = result.errors.items()
    assert str(step) == "counted" and "n < 3" in error, error
    rows = bad.load("counted", duckdb.DuckDBPyRelation).fetchall()
    assert sorted(rows) == [(0,), (1,), (2,)]  # the published table is the good run's


def test_sql_statement_errors_as_it_runs_are_the_assets(session: Session) -> None:
    """Inside the warehouse a SQL asset's statement is bound as it creates the table: an error
    DuckDB finds only then (a value that does not convert) is the asset's, like a binder
    error, and the line DuckDB points at is the file's."""
    assert not session.materialize().failed
    models = session.defs.root / "models"
    (models / "totals.sql").write_text(
        "-- a comment\n-- description: totals\n"
        "select o.sku,\n  'x'::int as n\nfrom marts.orders o\n"
    )
    config = session.config
    assert config is not None
    manager = session.io.get("duckdb")
    again = Session(load_definitions(config), config=config, io_managers={"duckdb": manager})
    [(step, error)] = again.materialize(select="totals").errors.items()
    assert str(step) == "totals"
    assert error.startswith("totals: ConversionException: Conversion Error: "), error
    assert "LINE 4:   'x'::int as n" in error  # the file's fourth line
    assert "CREATE TABLE" not in error  # the statement Lumbung wraps it in is not shown
    assert again.load("totals", duckdb.DuckDBPyRelation).fetchall()[0] == ("a", "apple", 10.0)
    (models / "totals.sql").write_text("select 'x'::int as n\n")  # the file's first line
    third = Session(load_definitions(config), config=config, io_managers={"duckdb": manager})
    [error] = third.materialize(select="totals").errors.values()
    assert "LINE 1: " in error and "LINE 2" not in error, error


def test_parquet_sources_are_views_of_their_files(tmp_path: Path) -> None:
    """A SQL asset reads a Parquet source through a view made from its files at once, under the
    name it wrote, dotted or not; a damaged file is its input's failure, not its SQL's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"sku": ["a", "b"], "price": [2.5, 4.0]}), tmp_path / "p.parquet")
    (tmp_path / "lumbung.toml").write_text('modules = ["assets"]\nsql = ["models"]\n')
    (tmp_path / "assets.py").write_text(
        "from assets_core import source\n"
        'prices = source("raw/prices", path="p.parquet")\n'
        'flat = source("flat", path="p.parquet")\n'
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "both.sql").write_text(
        "-- io_manager: duckdb\n"
        "select p.sku, p.price + f.price as twice from raw.prices p join flat f using (sku)\n"
    )
    config = find_project(tmp_path)
    manager = _NoSave(config.storage / "warehouse.duckdb", idle_close=0)
    manager.saved = []
    session = Session(load_definitions(config), config=config, io_managers={"duckdb": manager})
    assert not session.materialize().failed
    rows = session.load("both", duckdb.DuckDBPyRelation).fetchall()
    assert sorted(rows) == [("a", 5.0), ("b", 8.0)]
    (tmp_path / "p.parquet").write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    [(step, error)] = session.materialize().errors.items()
    assert str(step) == "both"
    assert error.startswith("both: loading input 'raw.prices' (raw/prices) failed ("), error


def test_relation_asset_reads_a_parquet_source_as_a_view_and_a_relation(tmp_path: Path) -> None:
    """A Python relation asset's Parquet source input is both the relation it receives and the
    view of its parameter's name that its SQL reads; nothing is saved through ``save``; a
    damaged file is its input's failure."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"sku": ["a", "b"], "price": [2.5, 4.0]}), tmp_path / "p.parquet")
    (tmp_path / "lumbung.toml").write_text('modules = ["assets"]\n')
    (tmp_path / "assets.py").write_text(
        "import duckdb\n"
        "from assets_core import asset, source\n"
        'prices = source("prices", path="p.parquet")\n\n'
        '@asset(io_manager="duckdb")\n'
        "def both(context, prices: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:\n"
        "    doubled = prices.project('sku, price * 2 as price')\n"
        "    doubled.create_view('doubled')\n"
        "    return context.duckdb.sql(\n"
        "        'select p.sku, p.price + d.price as thrice'\n"
        "        ' from prices p join doubled d using (sku)'\n"
        "    )\n"
    )
    config = find_project(tmp_path)
    manager = _NoSave(config.storage / "warehouse.duckdb", idle_close=0)
    manager.saved = []
    session = Session(load_definitions(config), config=config, io_managers={"duckdb": manager})
    assert not session.materialize().failed
    assert manager.saved == []
    rows = session.load("both", duckdb.DuckDBPyRelation).fetchall()
    assert sorted(rows) == [("a", 7.5), ("b", 12.0)]
    (tmp_path / "p.parquet").write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    [(step, error)] = session.materialize().errors.items()
    assert str(step) == "both"
    assert error.startswith("both: loading input 'prices' (prices) failed ("), error
