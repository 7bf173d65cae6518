"""Data checks as values (DESIGN §13): the built-ins, custom ``@check`` functions, and the
parser of the built-ins' call syntax (what a SQL asset's ``-- checks:`` line holds).

Nothing here reads data: a ``CheckSpec`` says what to check and how severely, and
``assets_core.storage.checks`` runs it as DuckDB SQL where the data is stored. A check that
is declared wrong (a bad severity, no columns) carries its ``problem``, which the decorator
reports with every other problem of the asset when the project loads.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Literal

from assets_core.errors import InvalidKeyError, Problem
from assets_core.model.keys import AssetKey, CoercibleToKey

__all__ = [
    "BUILTINS",
    "SEVERITIES",
    "CheckResult",
    "CheckSpec",
    "CustomCheck",
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

Severity = Literal["error", "warn"]
SEVERITIES: tuple[str, ...] = ("error", "warn")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One built-in check of an asset's output. ``kind`` is the built-in's name; the other
    fields are its arguments (those it does not take stay empty)."""

    kind: str
    columns: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()
    to: AssetKey | None = None
    to_column: str | None = None
    min: int | None = None
    max: int | None = None
    predicate: str | None = None
    types: tuple[tuple[str, str], ...] = ()
    max_age: timedelta | None = None
    severity: str = "error"
    #: what is wrong with the declaration (reported when the project loads), or ``None``
    problem: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """How the check is shown and recorded: ``unique(a, b)``, ``row_count(min=1)``."""
        return f"{self.kind}({self._arguments()})"

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    def _arguments(self) -> str:
        k = self.kind
        if k in ("not_null", "unique"):
            return ", ".join(self.columns)
        if k == "accepted_values":
            return f"{self.columns[0] if self.columns else ''}, {list(self.values)!r}"
        if k == "relationships":
            return f"{self.columns[0] if self.columns else ''} -> {self.to}.{self.to_column}"
        if k == "row_count":
            return ", ".join(
                f"{n}={v}" for n, v in (("min", self.min), ("max", self.max)) if v is not None
            )
        if k == "expect":
            return repr(self.predicate)
        if k == "schema":
            return ", ".join(f"{c}: {t}" for c, t in self.types)
        if k == "freshness":
            return f"{self.columns[0] if self.columns else ''}, {self.max_age}"
        return ""

    def identity(self) -> str:
        """Everything that decides the check's result, as text (its code version hashes it)."""
        return repr(
            (
                self.kind,
                self.columns,
                self.values,
                None if self.to is None else str(self.to),
                self.to_column,
                self.min,
                self.max,
                self.predicate,
                self.types,
                None if self.max_age is None else self.max_age.total_seconds(),
            )
        )

    @property
    def referenced_columns(self) -> tuple[str, ...]:
        """The columns of the asset the check names."""
        return self.columns if self.kind != "schema" else tuple(c for c, _ in self.types)


def _severity(severity: object) -> str | None:
    if severity in SEVERITIES:
        return None
    return f"severity={severity!r} is not valid: give 'error' (blocks publishing) or 'warn'."


def _columns(kind: str, columns: Iterable[object]) -> tuple[tuple[str, ...], str | None]:
    out = tuple(columns)
    if not out:
        return (), f"{kind}() needs a column name, like {kind}('order_id')."
    for c in out:
        if not isinstance(c, str) or not c:
            return (), f"{kind}() got column {c!r}; give column names as strings."
    return tuple(str(c) for c in out), None


def _make(kind: str, severity: object, problem: str | None = None, **fields: Any) -> CheckSpec:
    problem = problem or _severity(severity)
    return CheckSpec(kind, severity=str(severity), problem=problem, **fields)


def not_null(column: str, *, severity: Severity = "error") -> CheckSpec:
    """No row has ``column`` null."""
    columns, problem = _columns("not_null", (column,))
    return _make("not_null", severity, problem, columns=columns)


def unique(*columns: str, severity: Severity = "error") -> CheckSpec:
    """No two rows share the values of ``columns`` (one column, or a combination)."""
    cols, problem = _columns("unique", columns)
    return _make("unique", severity, problem, columns=cols)


def accepted_values(
    column: str, values: Iterable[Any], *, severity: Severity = "error"
) -> CheckSpec:
    """Every non-null ``column`` is one of ``values``."""
    columns, problem = _columns("accepted_values", (column,))
    vals = tuple(values) if isinstance(values, Iterable) and not isinstance(values, str) else ()
    if problem is None and not vals:
        problem = f"accepted_values({column!r}, ...) needs a non-empty list of values."
    return _make("accepted_values", severity, problem, columns=columns, values=vals)


def relationships(
    column: str, *, to: CoercibleToKey, field: str, severity: Severity = "error"
) -> CheckSpec:
    """Every non-null ``column`` is a value of ``field`` in asset ``to``."""
    columns, problem = _columns("relationships", (column,))
    key: AssetKey | None = None
    try:
        key = AssetKey.parse(to)
    except InvalidKeyError as exc:
        problem = problem or f"relationships(to={to!r}): {exc.problems[0].message}"
    if problem is None and (not isinstance(field, str) or not field):
        problem = f"relationships(field={field!r}): give the column of {to} as a string."
    return _make("relationships", severity, problem, columns=columns, to=key, to_column=field)


def row_count(
    min: int | None = None,
    max: int | None = None,
    *,
    severity: Severity = "error",
) -> CheckSpec:
    """The output has at least ``min`` and at most ``max`` rows."""
    problem = None
    for n, v in (("min", min), ("max", max)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            problem = f"row_count({n}={v!r}) is not valid: give a whole number, 0 or more."
    if problem is None and min is None and max is None:
        problem = "row_count() needs min=, max= or both, like row_count(min=1)."
    if problem is None and min is not None and max is not None and min > max:
        problem = f"row_count(min={min}, max={max}): min is more than max."
    return _make("row_count", severity, problem, min=min, max=max)


def expect(predicate: str, *, severity: Severity = "error") -> CheckSpec:
    """Every row satisfies the SQL ``predicate`` (``"amount >= 0"``)."""
    problem = None
    if not isinstance(predicate, str) or not predicate.strip():
        problem = f"expect({predicate!r}) needs a SQL condition, like expect('amount >= 0')."
    return _make("expect", severity, problem, predicate=predicate)


def schema(columns: Mapping[str, str], *, severity: Severity = "error") -> CheckSpec:
    """The output has each of ``columns`` with the DuckDB type given (``{"id": "BIGINT"}``)."""
    problem = None
    types: tuple[tuple[str, str], ...] = ()
    if not isinstance(columns, Mapping) or not columns:
        problem = "schema() needs a dict of column name to DuckDB type, like {'id': 'BIGINT'}."
    else:
        items = list(columns.items())
        if not all(isinstance(c, str) and isinstance(t, str) and t for c, t in items):
            problem = "schema() needs column names and DuckDB type names as strings."
        else:
            types = tuple((c, t.upper()) for c, t in items)
    return _make("schema", severity, problem, types=types)


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _max_age(value: object) -> timedelta | None:
    if isinstance(value, timedelta):
        return value if value > timedelta(0) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _AGE.match(value)
        if m is not None and float(m.group(1)) > 0:
            return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    return None


def freshness(
    column: str, max_age: timedelta | str | float, *, severity: Severity = "error"
) -> CheckSpec:
    """The newest ``column`` (a timestamp) is at most ``max_age`` old: a ``timedelta``,
    seconds, or text like ``"36h"`` (units ``s``, ``m``, ``h``, ``d``)."""
    columns, problem = _columns("freshness", (column,))
    age = _max_age(max_age)
    if problem is None and age is None:
        problem = (
            f"freshness({column!r}, max_age={max_age!r}): give a positive age, like '36h', "
            "'7d' or a timedelta."
        )
    return _make("freshness", severity, problem, columns=columns, max_age=age)


#: the built-ins by name (what ``parse_checks`` accepts)
BUILTINS: Mapping[str, Callable[..., CheckSpec]] = MappingProxyType(
    {
        f.__name__: f
        for f in (
            not_null,
            unique,
            accepted_values,
            relationships,
            row_count,
            expect,
            schema,
            freshness,
        )
    }
)


def column_problems(checks: Iterable[CheckSpec], columns: Iterable[str]) -> list[str]:
    """Where an asset's columns are known before it runs (a SQL asset's, say): a line for
    each check naming a column that is not one of ``columns``."""
    known = list(columns)
    out = []
    for spec in checks:
        for column in spec.referenced_columns:
            if column not in known:
                out.append(
                    f"check {spec.name} names column {column!r}, which the asset does not have "
                    f"(it has {', '.join(known)}); fix the name."
                )
    return out


# ---- custom checks ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a custom check may return instead of a bool: whether it passed, and metadata
    (shown and recorded with the result)."""

    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class CustomCheck:
    """A ``@check`` function of one asset: it receives the asset's value as its one
    parameter's annotation asks and returns a bool or a ``CheckResult``."""

    asset: AssetKey
    fn: Callable[..., Any]
    severity: str = "error"
    annotation: Any = None
    file: str = "<unknown>"
    line: int = 0
    problems: tuple[Problem, ...] = ()

    @property
    def name(self) -> str:
        return str(getattr(self.fn, "__name__", "check"))

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def check(
    *, asset: CoercibleToKey, severity: Severity = "error"
) -> Callable[[Callable[..., Any]], CustomCheck]:
    """Declare a custom check of ``asset``: ``@check(asset="orders")`` on a function taking
    the asset's value (annotated ``pd.DataFrame``, ``pa.Table``, a DuckDB relation...) and
    returning a bool or ``CheckResult(passed, metadata)``. ``severity="warn"`` records and
    shows a failure without blocking the asset's publishing."""

    def decorate(fn: Callable[..., Any]) -> CustomCheck:
        if not callable(fn):
            raise TypeError(f"@check decorates a function, got {type(fn).__name__}.")
        code = getattr(fn, "__code__", None)
        file = code.co_filename if code is not None else "<unknown>"
        line = code.co_firstlineno if code is not None else 0
        name = getattr(fn, "__name__", "check")
        where = f"{file}:{line}"
        problems: list[Problem] = []
        key = AssetKey(("unknown",))
        try:
            key = AssetKey.parse(asset)
        except InvalidKeyError as exc:
            message = exc.problems[0].message
            problems.append(Problem(f"check {name}: asset={asset!r}: {message}", None, where))
        bad = _severity(severity)
        if bad is not None:
            problems.append(Problem(f"check {name}: {bad}", str(key), where))
        annotation: Any = None
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        if len(params) != 1:
            problems.append(
                Problem(
                    f"check {name} takes {len(params)} parameters; give it one, the asset's "
                    "value (like def no_future_dates(orders: pd.DataFrame) -> bool).",
                    str(key),
                    where,
                )
            )
        else:
            annotation = params[0].annotation
            if annotation is inspect.Parameter.empty:
                annotation = None
            else:
                from assets_core.model.annotations import input_kind, resolved

                annotation = resolved(annotation, getattr(fn, "__globals__", {}))
                if input_kind(annotation) is None:
                    problems.append(
                        Problem(
                            f"check {name}: Lumbung cannot load the asset as {annotation!r}; "
                            "annotate the parameter pd.DataFrame, pa.Table, "
                            "duckdb.DuckDBPyRelation or polars.DataFrame.",
                            str(key),
                            where,
                        )
                    )
        return CustomCheck(key, fn, str(severity), annotation, file, line, tuple(problems))

    return decorate


# ---- the call syntax ----------------------------------------------------------------------


def parse_checks(text: str) -> list[CheckSpec]:
    """The built-in checks written in ``text`` as calls separated by commas, like
    ``not_null("order_id"), unique("a", "b"), row_count(min=1)``: parsed with ``ast``, never
    evaluated (arguments are literals only). Raises ``ValueError`` with one line saying what
    is wrong; a check declared wrong (a bad severity) carries its ``problem`` as usual."""
    source = text.strip()
    if not source:
        return []
    try:
        tree = ast.parse(f"(\n{source}\n)", mode="eval")
    except SyntaxError:
        raise ValueError(
            f"checks {source!r} are not valid call syntax; write calls separated by commas, "
            "like not_null('id'), unique('a', 'b')."
        ) from None
    body = tree.body
    nodes = body.elts if isinstance(body, ast.Tuple) else [body]
    out = []
    for node in nodes:
        shown = ast.unparse(node)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            raise ValueError(
                f"check {shown!r} is not a call of a built-in check; use one of "
                f"{', '.join(BUILTINS)}."
            )
        make = BUILTINS.get(node.func.id)
        if make is None:
            raise ValueError(
                f"check {node.func.id!r} is not a built-in; use one of {', '.join(BUILTINS)}."
            )
        try:
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except (ValueError, SyntaxError, TypeError):
            raise ValueError(
                f"check {shown!r}: arguments must be literals (strings, numbers, lists, dicts)."
            ) from None
        if any(k.arg is None for k in node.keywords) or any(
            isinstance(a, ast.Starred) for a in node.args
        ):
            raise ValueError(f"check {shown!r}: write each argument out (no * or **).")
        try:
            out.append(make(*args, **kwargs))
        except TypeError as exc:
            raise ValueError(f"check {shown!r}: {exc}.") from None
    return out
