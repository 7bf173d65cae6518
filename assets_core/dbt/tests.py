"""dbt's generic tests on a model's columns, as Lumbung's built-in checks in their call syntax
(what a SQL asset's ``-- checks:`` line holds; ``assets_core.model.checks.parse_checks``).

``not_null``, ``unique``, ``accepted_values`` (``values``, ``quote``) and ``relationships``
(``to: ref('x')`` or ``source('s', 't')``, ``field``) are translated, with
``severity: warn`` (on the test or in its ``config``) as ``severity="warn"``. Their arguments
may sit under ``arguments:`` (dbt 1.10) or beside it. Anything else (a custom generic test, a
package's test, a ``where:`` config) is returned with what to do instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from assets_core.model.checks import parse_checks

__all__ = ["YamlTest", "translate_tests"]

_SEE = "docs/checks.md#from-dbt"
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")
# keys of a test entry that are not its arguments
_NOT_ARGUMENTS = frozenset({"config", "arguments", "name", "description", "meta", "tags"})


@dataclass(frozen=True, slots=True)
class YamlTest:
    """One test of a model's column: where (``file:line``), the column, the test's name and
    what follows it in YAML (``None`` for a bare name)."""

    where: str
    column: str
    name: str
    entry: object


class _Untranslatable(ValueError):
    """Why a test has no built-in check, as what to do."""


def translate_tests(
    tests: list[YamlTest], keys: dict[str, str]
) -> tuple[list[str], list[tuple[YamlTest, str]]]:
    """The checks (call syntax, in order) of the tests that have a built-in, and each other
    test with what to do. ``keys`` maps a model's or seed's name to its asset key."""
    checks: list[str] = []
    left: list[tuple[YamlTest, str]] = []
    for test in tests:
        try:
            call = _call(test, keys)
            problems = [c.problem for c in parse_checks(call) if c.problem]
            if problems:
                raise _Untranslatable(problems[0])
        except ValueError as exc:  # _Untranslatable, or parse_checks's own words
            left.append((test, f"not translated: {exc}"))
        else:
            checks.append(call)
    return checks, left


def _call(test: YamlTest, keys: dict[str, str]) -> str:
    entry: dict[str, Any] = test.entry if isinstance(test.entry, dict) else {}
    args = {k: v for k, v in entry.items() if not k.startswith(("__line__", "__items__"))}
    config = args.pop("config", None) or {}
    nested = args.pop("arguments", None)
    if isinstance(nested, dict):
        args.update((k, v) for k, v in nested.items() if not k.startswith("__"))
    for key in _NOT_ARGUMENTS - {"config", "arguments"}:
        args.pop(key, None)
    severity = args.pop("severity", None)
    if isinstance(config, dict):
        config = {k: v for k, v in config.items() if not k.startswith(("__line__", "__items__"))}
        severity = config.pop("severity", severity)
        if config:
            raise _Untranslatable(
                f"config {', '.join(sorted(config))} has no check option; write the check on "
                f"the model's -- checks: line by hand ({_SEE})"
            )
    column = _lit(test.column)
    if test.name in ("not_null", "unique"):
        call = [column]
    elif test.name == "accepted_values":
        call = [column, _values(args.pop("values", None), args.pop("quote", True))]
    elif test.name == "relationships":
        call = [column, f"to={_lit(_target(args.pop('to', None), keys))}"]
        field = args.pop("field", None)
        if not isinstance(field, str):
            raise _Untranslatable("relationships needs field: the column it refers to")
        call.append(f"field={_lit(field)}")
    else:
        raise _Untranslatable(
            f"no built-in check is {test.name}; write it as a built-in on the model's -- checks: "
            f"line (expect(...), row_count(...)) or as a @check function ({_SEE})"
        )
    if args:
        raise _Untranslatable(f"{test.name} takes no {', '.join(sorted(args))} as a check")
    if isinstance(severity, str) and severity.lower() == "warn":
        call.append('severity="warn"')
    elif severity is not None and str(severity).lower() != "error":
        raise _Untranslatable(f"severity {severity!r}: write error or warn")
    return f"{test.name}({', '.join(call)})"


def _values(values: object, quote: object) -> str:
    if not isinstance(values, list) or not values:
        raise _Untranslatable("accepted_values needs values: a list")
    if quote is False:
        literals = [_number(v) for v in values]
    else:
        literals = [str(v) for v in values]
    return "[" + ", ".join(_lit(v) for v in literals) + "]"


def _number(value: object) -> object:
    """A value of ``quote: false``: a number (or boolean) as written, never an expression."""
    if isinstance(value, bool | int | float):
        return value
    try:
        return json.loads(str(value).strip().lower())
    except ValueError:
        raise _Untranslatable(
            f"accepted_values with quote: false holds {value!r}, an SQL expression; write "
            f"expect(...) instead ({_SEE})"
        ) from None


def _target(to: object, keys: dict[str, str]) -> str:
    text = str(to)
    ref = _REF.match(text)
    if ref and ref.group(1) in keys:
        return keys[ref.group(1)]
    source = _SOURCE.match(text)
    if source:
        return f"{source.group(1)}/{source.group(2)}"
    raise _Untranslatable(
        f"relationships to: {to!r} is not ref('a model or seed') or source('s', 't') "
        "of this project"
    )


def _lit(value: object) -> str:
    """A literal in the call syntax: strings in double quotes."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
