"""Data checks (DESIGN §13, docs/checks.md): the built-ins to give ``@asset(checks=[...])``.

``not_null``, ``unique`` (one or more columns), ``accepted_values``, ``relationships`` (to
another asset's column), ``row_count(min, max)``, ``expect(sql_predicate)``,
``schema({column: type})`` and ``freshness(column, max_age)``, each with
``severity="error"`` (the default: a failure blocks publishing) or ``"warn"``. Custom checks
are ``@check`` functions (``from assets_core import check, CheckResult``);
``parse_checks`` reads the built-ins' call syntax from text (a SQL asset's option line).
"""

from __future__ import annotations

from assets_core.model.checks import (
    CheckResult,
    CheckSpec,
    accepted_values,
    check,
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

__all__ = [
    "CheckResult",
    "CheckSpec",
    "accepted_values",
    "check",
    "column_problems",
    "expect",
    "freshness",
    "not_null",
    "parse_checks",
    "relationships",
    "row_count",
    "schema",
    "unique",
]
