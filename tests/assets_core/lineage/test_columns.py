"""lineage.columns: each output column of a statement with the input columns it derives from,
through joins, aggregates, CTEs, subqueries, set operations and ``select *``."""

from __future__ import annotations

import duckdb
import pytest

from assets_core.lineage.columns import ColumnLineage, ColumnLineageError, Columns, column_lineage

ORDERS = ("order_id", "customer_id", "amount")
CUSTOMERS = ("customer_id", "name")


def pairs(found: Columns) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(c.column, list(c.sources)) for c in found.columns]


def test_a_join_names_each_column_from_its_own_table() -> None:
    found = column_lineage(
        "select o.order_id, c.name, o.amount * 2 as doubled "
        "from orders o join customers c on o.customer_id = c.customer_id",
        {"orders": ORDERS, "customers": CUSTOMERS},
    )
    assert pairs(found) == [
        ("order_id", [("orders", "order_id")]),
        ("name", [("customers", "name")]),
        ("doubled", [("orders", "amount")]),
    ]
    assert found.unknown == ()


def test_an_aggregate_derives_from_what_it_adds_up_and_count_star_from_nothing() -> None:
    found = column_lineage(
        "select customer_id, sum(amount) as total, count(*) as n, 1 as one "
        "from orders group by customer_id",
        {"orders": ORDERS},
    )
    assert pairs(found) == [
        ("customer_id", [("orders", "customer_id")]),
        ("total", [("orders", "amount")]),
        ("n", []),
        ("one", []),
    ]


def test_a_cte_and_a_subquery_are_followed_down_to_the_tables() -> None:
    found = column_lineage(
        """
        with big as (select customer_id, amount * 2 as doubled from orders where amount > 1)
        select c.name, t.total
        from customers c
        join (select customer_id, sum(doubled) as total from big group by 1) t using (customer_id)
        """,
        {"orders": ORDERS, "customers": CUSTOMERS},
    )
    assert pairs(found) == [("name", [("customers", "name")]), ("total", [("orders", "amount")])]


def test_select_star_expands_with_the_schemas_and_a_using_column_has_both_sides() -> None:
    sql = "select * from orders join customers using (customer_id)"
    found = column_lineage(sql, {"orders": ORDERS, "customers": CUSTOMERS})
    con = duckdb.connect()
    con.execute("create table orders (order_id int, customer_id int, amount double)")
    con.execute("create table customers (customer_id int, name text)")
    assert [c.column for c in found.columns] == con.sql(sql).columns  # DuckDB's own order
    assert found.columns[1].sources == (("customers", "customer_id"), ("orders", "customer_id"))
    assert found.columns[3] == ColumnLineage("name", (("customers", "name"),))


def test_select_star_over_a_table_of_unknown_columns_stays_star_and_says_so() -> None:
    found = column_lineage("select * from orders", {}, ["orders"])
    assert pairs(found) == [("*", [("orders", "*")])]
    assert found.unknown == ("orders",)
    # an unqualified column of the only table is still found without its schema
    found = column_lineage("select amount + 1 as a1 from orders", {}, ["orders"])
    assert pairs(found) == [("a1", [("orders", "amount")])]


def test_tables_keep_their_written_names_and_columns_their_case() -> None:
    found = column_lineage(
        "select o.Amount, p.price from marts.orders o join a__b.prices p using (order_id) "
        "union all select 1, 2",
        {"marts.orders": ("order_id", "Amount"), "a__b.prices": ("order_id", "price")},
    )
    assert pairs(found) == [
        ("Amount", [("marts.orders", "Amount")]),
        ("price", [("a__b.prices", "price")]),
    ]


def test_what_sqlglot_cannot_parse_is_one_line() -> None:
    with pytest.raises(ColumnLineageError) as caught:
        column_lineage("select from where", {})
    assert "\n" not in str(caught.value)


def test_an_unqualified_column_of_a_cte_reading_one_table_of_unknown_columns() -> None:
    found = column_lineage(
        """
        with items as (select order_id, sum(qty) as n from order_items group by order_id),
        paid as (select order_id, sum(amount) as paid from payments group by order_id)
        select o.order_id, round(coalesce(paid.paid, 0), 2) as paid, items.n
        from orders o left join items using (order_id) left join paid using (order_id)
        """,
        {"order_items": ("order_id", "qty")},
        ["order_items", "payments", "orders"],
    )
    assert pairs(found) == [
        ("order_id", [("orders", "order_id")]),
        ("paid", [("payments", "amount")]),
        ("n", [("order_items", "qty")]),
    ]
