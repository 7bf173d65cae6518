"""``lumbung list``: the table, ``--output name`` (keys only) and ``--output json``; selection
errors and warnings; a missing project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import EXAMPLE_ASSETS, EXAMPLE_KEYS, Result, run_many

JSON_FIELDS = {
    "key",
    "group",
    "tags",
    "owners",
    "io_manager",
    "kind",
    "status",
    "description",
    "file",
    "upstream_stale",
    "checks",
}
METHODS = "group, io, key, kind, owner, path, status, tag"


@pytest.fixture(scope="module")
def r(built: Path, unbuilt: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    empty = tmp_path_factory.mktemp("no_project")
    return run_many(
        {
            "table": (["list"], built),
            "table_unbuilt": (["list"], unbuilt),
            "name": (["list", "--output", "name"], built),
            "json": (["list", "-o", "json"], built),
            "name_warn": (["list", "-s", "stg_*", "-s", "tag:nope", "--output", "name"], built),
            "union_exclude": (
                ["list", "-s", "stg_orders+ stg_payments", "--exclude", "customers", "-o", "name"],
                built,
            ),
            "words": (
                [
                    *("list", "-s", "stg_orders+", "stg_payments"),
                    *("--exclude", "customers", "revenue_by_day", "-o", "name"),
                ],
                built,
            ),
            "status_sel": (["list", "-s", "status:missing", "-o", "name"], unbuilt),
            "unknown_method": (["list", "-s", "foo:x"], built),
            "at_plus": (["list", "-s", "@orders+"], built),
            "no_match": (["list", "-s", "ordrs"], built),
            "no_project": (["list"], empty),
        }
    )


def test_table_shows_every_asset_with_status(r: dict[str, Result]) -> None:
    res = r["table"]
    assert res.code == 0, res.err
    assert res.err == ""
    lines = res.out.splitlines()
    assert lines[0].split() == ["key", "group", "io", "manager", "kind", "status", "checks"]
    rows = [line.split(maxsplit=5) for line in lines[1:-1]]
    assert [row[0] for row in rows] == EXAMPLE_KEYS
    assert rows[0] == ["raw_customers", "sources", "-", "source", "-", "-"]
    assert rows[12] == ["orders", "intermediate", "duckdb", "python", "fresh", "1 warn, 4 pass"]
    assert rows[15] == ["revenue_by_day", "marts", "parquet", "python", "fresh", "-"]
    assert lines[-1] == "17 assets: 12 fresh, 5 sources"


def test_table_of_a_project_never_built(r: dict[str, Result]) -> None:
    res = r["table_unbuilt"]
    assert res.code == 0, res.err
    rows = [line.split(maxsplit=5) for line in res.out.splitlines()[6:-1]]
    assert [row[4] for row in rows] == ["missing"] * 12
    assert [row[5] for row in rows if row[5] != "-"] == ["5 not run"]  # orders: never checked
    assert res.out.splitlines()[-1] == "17 assets: 12 missing, 5 sources"


def test_output_name_is_keys_in_dependency_order_and_nothing_else(r: dict[str, Result]) -> None:
    res = r["name"]
    assert res.code == 0
    assert res.out == "\n".join(EXAMPLE_KEYS) + "\n"
    assert res.err == ""


def test_output_name_keeps_warnings_off_stdout(r: dict[str, Result]) -> None:
    res = r["name_warn"]
    assert res.code == 0
    assert res.out == "stg_customers\nstg_order_items\nstg_orders\nstg_payments\nstg_products\n"
    assert res.err == "warning: Selection criterion 'tag:nope' matches no asset.\n"


def test_selection_union_and_exclude(r: dict[str, Result]) -> None:
    assert r["union_exclude"].out.split() == [
        "stg_orders",
        "stg_payments",
        "orders",
        "product_sales",
        "revenue_by_day",
        "shop_report",
    ]
    assert r["status_sel"].out.split() == EXAMPLE_ASSETS


def test_words_after_a_selection_option_are_a_union_as_in_dbt(r: dict[str, Result]) -> None:
    assert r["words"].code == 0, r["words"].err
    assert r["words"].out.split() == [
        "stg_orders",
        "stg_payments",
        "orders",
        "product_sales",
        "shop_report",
    ]


def test_json_objects_have_the_documented_fields(r: dict[str, Result]) -> None:
    res = r["json"]
    assert res.code == 0
    rows = json.loads(res.out)
    assert [row["key"] for row in rows] == EXAMPLE_KEYS
    assert all(set(row) == JSON_FIELDS for row in rows)
    by_key = {row["key"]: row for row in rows}
    assert by_key["orders"] == {
        "key": "orders",
        "group": "intermediate",
        "tags": [],
        "owners": ["finance@shop.test"],
        "io_manager": "duckdb",
        "kind": "python",
        "status": "fresh",
        "upstream_stale": None,
        "description": "One row per order with its item count, order total and what was paid.",
        "file": by_key["orders"]["file"],
        "checks": {"fail": 0, "warn": 1, "pass": 4, "not run": 0},
    }
    assert by_key["orders"]["file"].startswith("assets.py:")
    assert by_key["stg_orders"]["tags"] == ["daily"]
    raw = by_key["raw_orders"]
    assert (raw["kind"], raw["io_manager"], raw["status"]) == ("source", None, None)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "unknown_method",
            f"error: Unknown selection method 'foo' in 'foo:x'; valid methods: {METHODS}.",
        ),
        (
            "at_plus",
            "error: '@orders+' is not valid: '@' already includes every descendant; "
            "use '@orders' or 'orders+'",
        ),
        (
            "no_match",
            "error: No asset matches 'ordrs'; did you mean 'orders' or 'stg_orders' or "
            "'raw_orders'?",
        ),
    ],
)
def test_selection_errors_are_one_line_exit_2(
    r: dict[str, Result], name: str, message: str
) -> None:
    res = r[name]
    assert (res.code, res.out, res.err_lines) == (2, "", [message])


def test_a_missing_project_points_at_lumbung_init(r: dict[str, Result], tmp_path: Path) -> None:
    res = r["no_project"]
    assert res.code == 2
    assert len(res.err_lines) == 1
    assert res.err_lines[0].startswith("error: No Lumbung project found in ")
    assert res.err_lines[0].endswith(
        " or any folder above it; create one with `lumbung init`, or pass --project PATH."
    )
