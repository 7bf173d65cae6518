"""Checks as declared (DESIGN §13): the built-ins, ``@check``, the problems found when the
project loads, and the parser of the built-ins' call syntax."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from assets_core import CheckResult, Definitions, asset, check
from assets_core.checks import (
    accepted_values,
    column_problems,
    expect,
    freshness,
    not_null,
    parse_checks,
    relationships,
    row_count,
    schema,
    unique,
)
from assets_core.errors import DefinitionError
from assets_core.model.annotations import input_kind


def problems_of(*items: object) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        Definitions(items)  # type: ignore[arg-type]
    return [p.message for p in err.value.problems]


def test_builtins_are_values_with_names() -> None:
    assert unique("a", "b").name == "unique(a, b)"
    assert not_null("id").blocking
    assert not expect("amount >= 0", severity="warn").blocking
    assert row_count(min=1).name == "row_count(min=1)"
    assert freshness("at", "36h").max_age == timedelta(hours=36)
    assert relationships("cid", to="customers", field="id").name == (
        "relationships(cid -> customers.id)"
    )
    assert unique("a") == unique("a")


def test_an_asset_carries_its_checks_and_a_check_its_asset() -> None:
    @asset(checks=[not_null("id"), unique("id")])
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1]})

    @check(asset="orders", severity="warn")
    def small(orders: pd.DataFrame) -> CheckResult:
        return CheckResult(len(orders) < 10, {"rows": len(orders)})

    defs = Definitions([orders, small])
    assert [c.name for c in defs.assets[orders.key].spec.checks] == ["not_null(id)", "unique(id)"]
    assert defs.custom_checks[orders.key] == (small,)
    assert input_kind(small.annotation) == "pandas" and small.severity == "warn"
    assert small(pd.DataFrame({"id": [1]})).passed  # still the plain function


def test_declaration_problems_are_reported_when_the_project_loads() -> None:
    @asset(
        checks=[
            not_null("id", severity="fatal"),  # type: ignore[arg-type]
            row_count(),
            accepted_values("status", []),
            "unique('id')",
        ]
    )
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1]})

    assert problems_of(orders) == [
        "check not_null(id): severity='fatal' is not valid: give 'error' (blocks publishing) "
        "or 'warn'.",
        "check row_count(): row_count() needs min=, max= or both, like row_count(min=1).",
        "check accepted_values(status, []): accepted_values('status', ...) needs a non-empty "
        "list of values.",
        "checks= got \"unique('id')\", not a built-in check; use not_null, unique, "
        "accepted_values, relationships, row_count, expect, schema or freshness from "
        "assets_core.checks.",
    ]


def test_unknown_assets_are_named() -> None:
    @asset(checks=[relationships("cid", to="customer", field="id")])
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1]})

    @asset
    def customers() -> pd.DataFrame:
        return pd.DataFrame({"id": [1]})

    @check(asset="order")
    def positive(orders: pd.DataFrame) -> bool:
        return True

    assert problems_of(orders, customers, positive) == [
        "check relationships(cid -> customer.id) names asset customer, which does not exist; "
        "did you mean 'customers'?",
        "check positive names asset order, which does not exist; did you mean 'orders'?",
    ]


def test_unknown_columns_are_named_where_the_columns_are_known() -> None:
    checks = [not_null("id"), unique("id", "day"), schema({"idd": "BIGINT"})]
    assert column_problems(checks, ["id", "amount"]) == [
        "check unique(id, day) names column 'day', which the asset does not have (it has id, "
        "amount); fix the name.",
        "check schema(idd: BIGINT) names column 'idd', which the asset does not have (it has "
        "id, amount); fix the name.",
    ]


def test_a_custom_check_takes_one_parameter() -> None:
    @asset
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1]})

    @check(asset="orders")
    def two(orders: pd.DataFrame, other: int) -> bool:
        return True

    assert problems_of(orders, two) == [
        "check two takes 2 parameters; give it one, the asset's value (like def "
        "no_future_dates(orders: pd.DataFrame) -> bool)."
    ]


def test_parse_checks_reads_the_call_syntax() -> None:
    text = """not_null("order_id"), unique("a", "b"),
        accepted_values('status', ['placed', 'shipped']), row_count(min=1, max=10),
        relationships("cid", to="customers", field="id"), expect("amount >= 0", severity="warn"),
        schema({"id": "bigint"}), freshness("at", "2d")"""
    assert parse_checks(text) == [
        not_null("order_id"),
        unique("a", "b"),
        accepted_values("status", ["placed", "shipped"]),
        row_count(min=1, max=10),
        relationships("cid", to="customers", field="id"),
        expect("amount >= 0", severity="warn"),
        schema({"id": "BIGINT"}),
        freshness("at", "2d"),
    ]
    assert parse_checks("  ") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "not_null(",
            "checks 'not_null(' are not valid call syntax; write calls separated by commas, "
            "like not_null('id'), unique('a', 'b').",
        ),
        (
            "drop_table('x')",
            "check 'drop_table' is not a built-in; use one of not_null, unique, "
            "accepted_values, relationships, row_count, expect, schema, freshness.",
        ),
        (
            "not_null(__import__('os').system('true'))",
            "check \"not_null(__import__('os')."
            "system('true'))\": arguments must be literals (strings, numbers, lists, dicts).",
        ),
        (
            "os.system('x')",
            "check \"os.system('x')\" is not a call of a built-in check; use "
            "one of not_null, unique, accepted_values, relationships, row_count, expect, schema, "
            "freshness.",
        ),
        (
            "row_count(least=1)",
            "check 'row_count(least=1)': row_count() got an unexpected keyword argument 'least'.",
        ),
    ],
)
def test_parse_checks_refuses_anything_else(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_checks(text)
    assert str(err.value) == message


def test_parse_checks_keeps_a_declarations_problem() -> None:
    (found,) = parse_checks("not_null('id', severity='loud')")
    assert found.problem is not None and "severity='loud'" in found.problem
