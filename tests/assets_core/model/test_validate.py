"""Bad projects, each with the exact problems Lumbung reports, all at once."""

from __future__ import annotations

import pytest

from assets_core.errors import DefinitionError
from tests.conftest import ProjectDir

HEADER = "import pandas as pd\nfrom assets_core import asset, source\n"

CASES = [
    pytest.param(
        """
        @asset
        def orders_raw():
            return pd.DataFrame()

        @asset
        def orders(order_raw):
            return order_raw
        """,
        [
            "orders (assets.py:8): parameter 'order_raw' names 'order_raw', which is not "
            "defined. Did you mean 'orders_raw'? Define that asset, fix the name, or map it "
            "with ins=."
        ],
        id="unknown-dependency-with-suggestion",
    ),
    pytest.param(
        """
        @asset
        def a(c):
            return c

        @asset
        def b(a):
            return a

        @asset
        def c(b):
            return b
        """,
        [
            "a (assets.py:4): dependency cycle: a -> b -> c -> a (each feeds the next); "
            "remove one of these dependencies."
        ],
        id="cycle",
    ),
    pytest.param(
        """
        @asset
        def a(a):
            return a
        """,
        [
            "a (assets.py:4): dependency cycle: a -> a (each feeds the next); "
            "remove one of these dependencies."
        ],
        id="self-dependency",
    ),
    pytest.param(
        """
        @asset(name="dup")
        def one():
            return pd.DataFrame()

        @asset(name="dup")
        def two():
            return pd.DataFrame()
        """,
        [
            "dup (assets.py:8): duplicate key 'dup': also defined at assets.py:4; "
            "give one of them another name (name= or key=)."
        ],
        id="duplicate-key",
    ),
    pytest.param(
        """
        @asset(key="marts/../etc")
        def a():
            return pd.DataFrame()
        """,
        [
            "a (assets.py:4): key: Invalid key segment '..' in 'marts/../etc': a segment "
            "starts with a letter or '_' and holds only letters, digits and '_'."
        ],
        id="bad-key-segment",
    ),
    pytest.param(
        """
        @asset(key="it's")
        def a():
            return pd.DataFrame()
        """,
        [
            'a (assets.py:4): key: Invalid key segment "it\'s" in "it\'s": a segment '
            "starts with a letter or '_' and holds only letters, digits and '_'."
        ],
        id="sql-quote-in-key",
    ),
    pytest.param(
        """
        @asset(retries=-1, group="my group", io_manager="parquett", tags=[1])
        def a():
            return pd.DataFrame()
        """,
        [
            "a (assets.py:4): retries=-1 is not valid: give a whole number, 0 or more.",
            "a (assets.py:4): group='my group' is not valid: use a name of letters, digits "
            "and '_' that does not start with a digit.",
            "a (assets.py:4): tags=[1] is not valid: give a list of non-empty strings.",
            "a (assets.py:4): unknown io manager 'parquett'. Did you mean 'parquet'? Known: "
            "duckdb, memory, parquet; register others with Session(defs, io_managers={...}).",
        ],
        id="bad-option-values",
    ),
    pytest.param(
        """
        @asset(ins={"q": "nowhere"}, deps=["ghost"])
        def a(q):
            return q
        """,
        [
            "a (assets.py:4): parameter 'q' names 'nowhere', which is not defined. Define "
            "that asset, fix the name, or map it with ins=.",
            "a (assets.py:4): deps names 'ghost', which is not defined.",
        ],
        id="unknown-ins-and-deps",
    ),
    pytest.param(
        """
        ext = source("ext", observe=lambda: "v1")

        @asset
        def a(ext):
            return ext
        """,
        [
            "a (assets.py:6): parameter 'ext' reads source 'ext', which has no path to read; "
            "list it in deps=['ext'] instead.",
        ],
        id="loading-an-observe-only-source",
    ),
    pytest.param(
        """
        @asset
        def a(*frames):
            return frames[0]
        """,
        [
            "a (assets.py:4): parameter 'frames': *args and **kwargs cannot name upstream "
            "assets; give each upstream its own parameter.",
        ],
        id="varargs",
    ),
    pytest.param(
        """
        bad = source("bad", path="x.txt")
        both = source("both", path="x.csv", observe=lambda: "1")
        """,
        [
            "bad (assets.py:4): cannot tell the format of 'x.txt' from its extension; pass "
            "format='csv', 'parquet' or 'json'.",
            "both (assets.py:5): give a source exactly one of path= or observe=.",
        ],
        id="bad-sources",
    ),
    pytest.param(
        """
        @asset
        def a():
            return pd.DataFrame()

        @asset
        def b(a: dict) -> list[int]:
            return [1]

        @asset
        def c(a: list[int]) -> pd.DataFrame | None:
            return a
        """,
        [
            "b (assets.py:8): parameter 'a' is annotated dict, which Lumbung cannot load an "
            "asset as; annotate it as pandas.DataFrame, pyarrow.Table, "
            "duckdb.DuckDBPyRelation or polars.DataFrame.",
            "b (assets.py:8): returns list[int], which no IO manager can store; return a "
            "pandas.DataFrame, a pyarrow.Table, a duckdb.DuckDBPyRelation or a "
            "polars.DataFrame.",
            "c (assets.py:12): parameter 'a' is annotated list[int], which Lumbung cannot load "
            "an asset as; annotate it as pandas.DataFrame, pyarrow.Table, "
            "duckdb.DuckDBPyRelation or polars.DataFrame.",
            "c (assets.py:12): returns pandas.DataFrame | None, which no IO manager can store; "
            "return a pandas.DataFrame, a pyarrow.Table, a duckdb.DuckDBPyRelation "
            "or a polars.DataFrame.",
        ],
        id="unsupported-annotations",
    ),
    pytest.param(
        """
        @asset(code_files=["sql/orders.sql"])
        def orders():
            return pd.DataFrame()
        """,
        [
            "orders (assets.py:4): code_files names 'sql/orders.sql', which is not a file; "
            "give its path relative to the project folder.",
        ],
        id="missing-code-file",
    ),
    pytest.param(
        """
        @asset(key="temp/t", io_manager="duckdb")
        def a():
            return pd.DataFrame()

        @asset(key="SYSTEM/t", io_manager="duckdb")
        def b():
            return pd.DataFrame()

        @asset(key="warehouse/t", io_manager="duckdb")
        def c():
            return pd.DataFrame()

        @asset(name="n" * 213, io_manager="parquet")
        def d():
            return pd.DataFrame()
        """,
        [
            "temp/t (assets.py:4): the duckdb IO manager would store it as table t in schema "
            "temp, a name DuckDB reserves (its catalog of temporary objects); rename the key's "
            "first segment ('temp_data', say), or store it with another io_manager.",
            "SYSTEM/t (assets.py:8): the duckdb IO manager would store it as table t in schema "
            "SYSTEM, a name DuckDB reserves (its system catalog); rename the key's first "
            "segment ('SYSTEM_data', say), or store it with another io_manager.",
            "warehouse/t (assets.py:12): the duckdb IO manager would store it as table t in "
            "schema warehouse, a name DuckDB reserves (the catalog of the warehouse file "
            "itself); rename the key's first segment ('warehouse_data', say), or store it with "
            "another io_manager.",
            f"{'n' * 213} (assets.py:16): its last segment is 213 characters long, and the "
            "parquet IO manager adds up to 43 more to it for a file name ('.parquet' and a "
            "temporary suffix), which may have at most 255 on this file system; shorten it to "
            "212 characters or fewer.",
        ],
        id="keys-a-manager-cannot-store",
    ),
    pytest.param(
        """
        from assets_core.partitions import daily, monthly, static, window
        events = source("events", path="data/{date}.csv", partitions=daily(start="2024-01-01"))
        bad = source("bad", path="data/{day}/{region}.csv", partitions=daily(start="2024-01-01"))

        @asset(partitions=static(["eu"]))
        def sales(events: pd.DataFrame) -> pd.DataFrame:
            return events

        @asset(partitions=daily(start="2024-01-01"), ins={"totals": window(-6, 0)})
        def rolling(totals: pd.DataFrame) -> pd.DataFrame:
            return totals

        @asset(ins={"events": window(-1, 0)}, backfill="single_run")
        def totals(events: pd.DataFrame) -> pd.DataFrame:
            return events

        @asset(partitions=monthly(start="2024-01-01"), ins={"events": window(-1, 0)})
        def months(events: pd.DataFrame) -> pd.DataFrame:
            return events
        """,
        [
            "bad (assets.py:6): path='data/{day}/{region}.csv' has 2 placeholders (day, "
            "region), and daily(start='2024-01-01') has one dimension; use one placeholder, "
            "like {day}.",
            "totals (assets.py:16): backfill='single_run' needs partitions=...; add them, or "
            "remove backfill=.",
            "sales (assets.py:8): cannot map the partitions of 'events' "
            "(daily(start='2024-01-01')) to its own (static(['eu'])): daily partitions cannot "
            "be matched to static partitions; give both assets the same kind of partitions, or "
            "map the keys with ins={'events': explicit({...})}.",
            "rolling (assets.py:12): reads 'totals' with window(-6, 0), but 'totals' is not "
            "partitioned; a window needs partitions on both sides: partition 'totals', or drop "
            "window(-6, 0) from ins={'totals': ...}.",
            "totals (assets.py:16): reads 'events' with window(-1, 0), but 'totals' itself is "
            "not partitioned; a window needs partitions on both sides: partition 'totals' "
            "itself, or drop window(-1, 0) from ins={'events': ...}.",
            "months (assets.py:20): cannot map the partitions of 'events' "
            "(daily(start='2024-01-01')) to its own (monthly(start='2024-01-01')): "
            "window(-1, 0) counts windows of one unit and time zone, and these are daily in "
            "UTC and monthly in UTC; give both the same unit and time zone, or drop the window "
            "to read the overlapping windows.",
        ],
        id="partitions-that-cannot-be-mapped",
    ),
    pytest.param(
        """
        from assets_core.partitions import window

        @asset
        def events() -> pd.DataFrame:
            return pd.DataFrame()

        @asset(ins={"events": window(-1, 0)})
        def totals(events: pd.DataFrame) -> pd.DataFrame:
            return events
        """,
        [
            "totals (assets.py:10): reads 'events' with window(-1, 0), but 'events' is not "
            "partitioned; a window needs partitions on both sides: partition 'events', or drop "
            "window(-1, 0) from ins={'events': ...}.",
        ],
        id="a-mapping-where-nothing-is-partitioned",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_bad_project_reports_every_problem(
    project: ProjectDir, body: str, expected: list[str]
) -> None:
    import textwrap

    project.write("assets.py", HEADER + textwrap.dedent(body))
    with pytest.raises(DefinitionError) as err:
        project.session(io_managers={})
    assert [str(p) for p in err.value.problems] == expected
    if len(expected) > 1:
        assert str(err.value).startswith(f"{len(expected)} problems in the project's definitions:")


def test_every_problem_at_once_across_assets(project: ProjectDir) -> None:
    project.write(
        "assets.py",
        HEADER
        + "@asset\ndef a(missing):\n    return missing\n\n"
        + "@asset(retries='x')\ndef b():\n    return pd.DataFrame()\n",
    )
    with pytest.raises(DefinitionError) as err:
        project.session()
    assert len(err.value.problems) == 2


def test_prefix_resolution_prefers_the_same_folder(project: ProjectDir) -> None:
    project.write(
        "assets.py",
        HEADER
        + "@asset\ndef orders():\n    return pd.DataFrame({'v': [1]})\n\n"
        + "@asset(key='marts/orders')\ndef m_orders():\n    return pd.DataFrame({'v': [2]})\n\n"
        + "@asset(key='marts/report')\ndef report(orders):\n    return orders\n\n"
        + "@asset(key='stg/report')\ndef s_report(orders):\n    return orders\n",
    )
    session = project.session()
    assert str(session.get("marts/report").spec.ins["orders"]) == "marts/orders"
    assert str(session.get("stg/report").spec.ins["orders"]) == "orders"
