"""``lumbung import-dbt`` end to end: a small dbt project written here (Jinja refs, sources with
their files, config blocks, a seed, a schema.yml with tests) is imported into a new Lumbung
project, which ``lumbung materialize`` builds; its tables must equal the same SQL run by hand
in DuckDB. The report lists, file:line, what was not translated. dbt itself is not needed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb

from tests.assets_core.cli.conftest import Result

DBT_FILES = {
    "dbt_project.yml": """\
name: shop
version: "1.0"
profile: shop
model-paths: ["models"]
seed-paths: ["seeds"]
models:
  shop:
    +materialized: table
    staging:
      +schema: staging_area
    marts:
      +tags: ["finance"]
      +group: marts
""",
    "seeds/countries.csv": "code,country\nID,Indonesia\nMY,Malaysia\n",
    "data/customers.csv": "customer_id,name,country_code\n1,Ani,ID\n2,Budi,MY\n3,Citra,ID\n",
    "data/orders.csv": (
        "order_id,customer_id,amount,status\n10,1,1250,paid\n11,1,300,cancelled\n"
        "12,2,999,paid\n13,1,100,paid\n"
    ),
    "models/sources.yml": """\
version: 2
sources:
  - name: raw
    meta:
      external_location: "data/{name}.csv"
    tables:
      - name: customers
      - name: orders
        description: One row per order.
""",
    "models/staging/stg_customers.sql": """\
{{ config(materialized='view') }}
select c.customer_id, c.name, k.country
from {{ source('raw', 'customers') }} c
join {{ ref('countries') }} k on k.code = c.country_code
""",
    "models/staging/stg_orders.sql": """\
{{ config(tags=['staging', 'orders']) }}
{# amounts are in cents #}
select order_id, customer_id, amount / 100.0 as amount, status
from {{ source("raw", "orders") }}
where status != 'cancelled'
""",
    "models/marts/customer_orders.sql": """\
{{ config(materialized='table', schema='finance') }}
with totals as (
    select customer_id, count(*) as orders, sum(amount) as amount
    from {{ ref('stg_orders') }}
    group by customer_id
)
select c.customer_id, c.name, c.country,
       coalesce(t.orders, 0) as orders, coalesce(t.amount, 0) as amount
from {{ ref('stg_customers') }} c
left join totals t using (customer_id)
""",
    "models/marts/schema.yml": """\
version: 2
models:
  - name: customer_orders
    description: Orders and amounts per customer.
    columns:
      - name: customer_id
        tests:
          - unique
          - not_null
          - relationships:
              to: ref('stg_customers')
              field: customer_id
      - name: country
        data_tests:
          - not_null:
              config:
                severity: warn
          - dbt_utils.not_empty_string
  - name: stg_orders
    columns:
      - name: status
        tests:
          - accepted_values:
              arguments:
                values: ['paid', 'refunded']
""",
    "tests/no_negative_amounts.sql": "select * from {{ ref('stg_orders') }} where amount < 0\n",
}

#: the same models run by hand, Jinja resolved by the writer of the test
BY_HAND = {
    "staging.stg_customers": """
        select c.customer_id, c.name, k.country
        from raw.customers c join countries k on k.code = c.country_code""",
    "staging.stg_orders": """
        select order_id, customer_id, amount / 100.0 as amount, status
        from raw.orders where status != 'cancelled'""",
    "marts.customer_orders": """
        with totals as (
            select customer_id, count(*) as orders, sum(amount) as amount
            from staging.stg_orders group by customer_id)
        select c.customer_id, c.name, c.country,
               coalesce(t.orders, 0) as orders, coalesce(t.amount, 0) as amount
        from staging.stg_customers c left join totals t using (customer_id)""",
}


def dbt_project(folder: Path) -> Path:
    for name, text in DBT_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def by_hand(dbt: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect()
    con.execute("create schema raw; create schema staging; create schema marts")
    for table in ("customers", "orders"):
        con.execute(f"create view raw.{table} as select * from read_csv('{dbt}/data/{table}.csv')")
    con.execute(f"create table countries as select * from read_csv('{dbt}/seeds/countries.csv')")
    for table, sql in BY_HAND.items():
        con.execute(f"create table {table} as {sql}")
    return {t: sorted(con.table(t).fetchall()) for t in BY_HAND}


def test_import_then_materialize_gives_the_tables_of_the_sql_run_by_hand(
    tmp_path: Path, lumbung: Callable[..., Result]
) -> None:
    dbt = dbt_project(tmp_path / "shop_dbt")
    root = tmp_path / "project"
    root.mkdir()
    done = lumbung("import-dbt", str(dbt), cwd=root)
    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        "imported 3 models into models/, 2 sources and 1 seed into dbt_sources.py "
        "(seeds copied to seeds/)",
        "wrote lumbung.toml",
        "left untranslated (4), for you to finish:",
        "  dbt_project.yml:10: models: shop.staging +schema: staging_area: set it on each "
        "model's file instead (-- name: value)",
        "  models/marts/customer_orders.sql:1: config(schema='finance'): the folder under the "
        "models folder names the schema (marts/x.sql is table marts.x); move the file",
        "  models/marts/schema.yml:18: test dbt_utils.not_empty_string on "
        "customer_orders.country: not translated: no built-in check is "
        "dbt_utils.not_empty_string; write it as a built-in on the model's -- checks: line "
        "(expect(...), row_count(...)) or as a @check function (docs/checks.md#from-dbt)",
        "  tests/no_negative_amounts.sql:1: singular test no_negative_amounts: not translated: "
        'write it as expect("sql condition") on the model\'s -- checks: line, or as a @check '
        "function returning whether its query finds no rows",
    ]
    assert (
        (root / "models/staging/stg_orders.sql")
        .read_text()
        .startswith(
            "-- tags: staging, orders\n"
            '-- checks: accepted_values("status", ["paid", "refunded"])\n'
            "-- imported from dbt: models/staging/stg_orders.sql\n"
            "/* amounts are in cents */\nselect order_id, customer_id, amount / 100.0 as amount"
        )
    )
    marts = (root / "models/marts/customer_orders.sql").read_text()
    assert marts.startswith(
        "-- tags: finance\n-- group: marts\n-- description: Orders and amounts per customer.\n"
        '-- checks: unique("customer_id"), not_null("customer_id"), relationships("customer_id", '
        'to="staging/stg_customers", field="customer_id"), not_null("country", severity="warn")\n'
    )
    run = lumbung("materialize", cwd=root)
    assert run.code == 0, run.out + run.err
    checked = lumbung("check", "--force", "--json", cwd=root)
    assert checked.code == 0, checked.out + checked.err
    results = {c["check"]: c["result"] for c in json.loads(checked.out)["checks"]}
    assert results == {
        "unique(customer_id)": "pass",
        "not_null(customer_id)": "pass",
        "relationships(customer_id -> staging/stg_customers.customer_id)": "pass",
        "not_null(country)": "pass",
        "accepted_values(status, ['paid', 'refunded'])": "pass",
    }
    warehouse = duckdb.connect(str(root / ".lumbung/warehouse.duckdb"), read_only=True)
    got = {t: sorted(warehouse.table(t).fetchall()) for t in BY_HAND}
    warehouse.close()
    assert got == by_hand(dbt)
    assert got["marts.customer_orders"][0] == (1, "Ani", "Indonesia", 2, 13.5)
    listed = lumbung("list", "-s", "tag:staging", cwd=root)
    assert "staging/stg_orders" in listed.out and "stg_customers" not in listed.out
    finance = lumbung("list", "-s", "tag:finance", "-s", "group:marts", cwd=root)
    assert "marts/customer_orders" in finance.out and "staging" not in finance.out

    # an order with a status the test does not accept: the translated check blocks it
    with open(dbt / "data/orders.csv", "a") as fh:
        fh.write("14,2,50,lost\n")
    failed = lumbung("materialize", "--json", cwd=root)
    assert failed.code == 1, failed.out + failed.err
    assert "check_failed" in failed.out and "accepted_values(status, " in failed.out

    again = lumbung("import-dbt", str(dbt), cwd=root)
    assert again.code == 2
    assert again.err_lines == [
        f"error: {Path('models/marts/customer_orders.sql')} already exists; `lumbung "
        "import-dbt` never overwrites a file. Move it aside or import --into another folder."
    ]


def test_a_folder_without_dbt_project_yml(tmp_path: Path, lumbung: Callable[..., Result]) -> None:
    bad = lumbung("import-dbt", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert bad.code == 2
    assert bad.err_lines == [
        f"error: {tmp_path / 'nowhere'} has no dbt_project.yml; pass the folder of a dbt "
        "project to `lumbung import-dbt`."
    ]
