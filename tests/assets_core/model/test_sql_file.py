"""``parse_sql_file``: a SQL asset file's option lines, its one query and the tables it reads
(DESIGN §14), or the first thing wrong with it and its line."""

from __future__ import annotations

import pytest

from assets_core.model.keys import AssetKey
from assets_core.model.sql_file import (
    SqlFileError,
    normalized_sql,
    parse_sql_file,
    unknown_option,
)

FILE = """\
-- models/marts/customer_orders.sql
-- group: marts
-- tags: daily, finance

-- io_manager: duckdb
with recent as (select * from stg_orders where amount > 0)
select c.customer_id, count(*) as orders
from stg_customers c
join recent r using (customer_id)
join marts.orders o using (customer_id)
join a__b.c on true, read_parquet('x.parquet') p, range(3) g
group by 1
"""


def test_options_statement_and_references() -> None:
    parsed = parse_sql_file(FILE)
    assert [(o.name, o.value, o.line) for o in parsed.options] == [
        ("group", "marts", 2),
        ("tags", "daily, finance", 3),
        ("io_manager", "duckdb", 5),
    ]
    assert parsed.line == 6
    assert parsed.text.startswith("with recent as")
    refs = [(r.name, r.key, r.line, r.relative) for r in parsed.references]
    # the CTE and the table functions are not references; each table once, in the order written
    assert refs == [
        ("stg_orders", AssetKey(["stg_orders"]), 6, True),
        ("stg_customers", AssetKey(["stg_customers"]), 8, True),
        ("marts.orders", AssetKey(["marts", "orders"]), 10, False),
        ("a__b.c", AssetKey(["a", "b", "c"]), 11, False),
    ]


def test_normalized_text_ignores_comments_case_and_layout_not_predicates() -> None:
    base = normalized_sql(parse_sql_file("select a from t where a > 1").statement)
    same = "-- a comment\nSELECT  a -- why\n  FROM t\nWHERE a>1 /* note */\n"
    assert normalized_sql(parse_sql_file(same).statement) == base
    changed = normalized_sql(parse_sql_file("select a from t where a > 2").statement)
    assert changed != base


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("-- c\nselect from where (\n", "cannot parse the SQL near 'where'", 2),
        ("select 1;\nselect a from t;\n", "holds 2 statements; a SQL asset is one SELECT", 2),
        ("-- only a comment\n", "holds no SQL statement; write one SELECT query.", 2),
        ("\ndelete from t\n", "is a DELETE statement, not a query", 2),
        ("select * from db.s.t\n", "table 'db.s.t' names a catalog; write a key of three", 1),
    ],
)
def test_errors_name_the_line(text: str, message: str, line: int) -> None:
    with pytest.raises(SqlFileError) as caught:
        parse_sql_file(text)
    assert message in caught.value.message
    assert caught.value.line == line


def test_unknown_option_suggests_the_close_one() -> None:
    parsed = parse_sql_file("-- grup: marts\n-- note that\nselect 1 as x\n")
    assert [o.name for o in parsed.options] == ["grup"]  # "note that" has no colon: a comment
    assert unknown_option(parsed.options[0]) == (
        "unknown option 'grup'; did you mean 'group'? options are checks, description, group, "
        "io_manager, owners, partitions, tags (a plain comment must not start with 'word:')."
    )


def test_checks_line_is_kept_raw() -> None:
    parsed = parse_sql_file("-- checks: not_null('id'), unique('id')\nselect 1 as id\n")
    option = parsed.option("checks")
    assert option is not None and option.value == "not_null('id'), unique('id')"
