"""dbt.tests: a model's column tests as built-in checks in their call syntax, or what to do."""

from __future__ import annotations

from assets_core.dbt.tests import YamlTest, translate_tests
from assets_core.model.checks import parse_checks


def test_the_four_generic_tests_become_checks_that_parse() -> None:
    tests = [
        YamlTest("s.yml:3", "id", "unique", None),
        YamlTest("s.yml:4", "id", "not_null", {"severity": "WARN"}),
        YamlTest("s.yml:5", "st", "accepted_values", {"values": ["a", 1]}),
        YamlTest(
            "s.yml:6", "n", "accepted_values", {"arguments": {"values": [1, "2.5"]}, "quote": False}
        ),
        YamlTest("s.yml:7", "c", "relationships", {"to": "ref('cust')", "field": "id"}),
        YamlTest(
            "s.yml:8",
            "r",
            "relationships",
            {"to": 'source("raw", "t")', "field": "k", "config": {"severity": "warn"}},
        ),
    ]
    checks, left = translate_tests(tests, {"cust": "staging/cust"})
    assert left == []
    assert checks == [
        'unique("id")',
        'not_null("id", severity="warn")',
        'accepted_values("st", ["a", "1"])',
        'accepted_values("n", [1, 2.5])',
        'relationships("c", to="staging/cust", field="id")',
        'relationships("r", to="raw/t", field="k", severity="warn")',
    ]
    parsed = parse_checks(", ".join(checks))
    assert [c.problem for c in parsed] == [None] * 6
    assert parsed[3].values == (1, 2.5) and parsed[1].severity == "warn"


def test_what_has_no_check_is_returned_with_what_to_do() -> None:
    tests = [
        YamlTest("s.yml:3", "id", "not_null", {"config": {"where": "id > 0"}}),
        YamlTest("s.yml:4", "c", "relationships", {"to": "ref('elsewhere')", "field": "id"}),
        YamlTest("s.yml:5", "n", "accepted_values", {"values": ["upper(x)"], "quote": False}),
        YamlTest("s.yml:6", "n", "accepted_values", {"values": []}),
        YamlTest("s.yml:7", "n", "is_even", None),
        YamlTest("s.yml:8", "n", "unique", {"severity": "fatal"}),
    ]
    checks, left = translate_tests(tests, {})
    assert checks == []
    assert [(t.where, fix) for t, fix in left] == [
        (
            "s.yml:3",
            "not translated: config where has no check option; write the check on the "
            "model's -- checks: line by hand (docs/checks.md#from-dbt)",
        ),
        (
            "s.yml:4",
            "not translated: relationships to: \"ref('elsewhere')\" is not ref('a model "
            "or seed') or source('s', 't') of this project",
        ),
        (
            "s.yml:5",
            "not translated: accepted_values with quote: false holds 'upper(x)', an SQL "
            "expression; write expect(...) instead (docs/checks.md#from-dbt)",
        ),
        ("s.yml:6", "not translated: accepted_values needs values: a list"),
        (
            "s.yml:7",
            "not translated: no built-in check is is_even; write it as a built-in on "
            "the model's -- checks: line (expect(...), row_count(...)) or as a @check function "
            "(docs/checks.md#from-dbt)",
        ),
        ("s.yml:8", "not translated: severity 'fatal': write error or warn"),
    ]
