"""Tests for assets_core.planning.selection: the dbt-compatible selection grammar (DESIGN.md §6).

The expected sets below were worked out by hand from dbt's documented semantics (graph
operators, ``n-plus`` depth by shortest distance, ``@``, set operators, ``--exclude``) on the
fixed graph drawn here:

    raw/orders ──> staging/stg_orders ──> marts/orders ──> marts/revenue ──> reports/daily_summary
    raw/payments ─> staging/stg_payments ─┘     │               └──────────> reports/finance/ledger
    raw/customers > staging/stg_customers ─> marts/customers ─────────────> reports/daily_summary
                    staging/stg_orders ───────────────────────────────────> reports/daily_summary
    (marts/orders also feeds marts/customers)

    ingest -> clean -> enrich -> publish          lonely        scratch/notes
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_core.errors import SelectionError
from assets_core.model.graph import AssetGraph
from assets_core.model.keys import AssetKey
from assets_core.planning.selection import (
    METHODS,
    AssetInfo,
    Criterion,
    Selection,
    parse,
    select,
)

# key: (upstream, group, tags, owners, io manager, kind, path)
_ASSETS: dict[str, tuple[tuple[str, ...], str, set[str], tuple[str, ...], str, str, str]] = {
    "raw/orders": ((), "raw", set(), (), "", "source", "assets/sources.py"),
    "raw/customers": ((), "raw", {"pii"}, (), "", "source", "assets/sources.py"),
    "raw/payments": ((), "raw", set(), (), "", "source", "assets/sources.py"),
    "staging/stg_orders": (
        ("raw/orders",),
        "staging",
        {"daily"},
        ("ana@example.com",),
        "parquet",
        "python",
        "assets/staging.py",
    ),
    "staging/stg_customers": (
        ("raw/customers",),
        "staging",
        {"daily", "pii"},
        ("ana@example.com",),
        "parquet",
        "python",
        "assets/staging.py",
    ),
    "staging/stg_payments": (
        ("raw/payments",),
        "staging",
        {"hourly"},
        ("bo@example.com",),
        "parquet",
        "python",
        "assets/staging.py",
    ),
    "marts/orders": (
        ("staging/stg_orders", "staging/stg_payments"),
        "marts",
        {"daily", "finance"},
        ("bo@example.com",),
        "duckdb",
        "python",
        "assets/marts/orders.py",
    ),
    "marts/customers": (
        ("staging/stg_customers", "marts/orders"),
        "marts",
        {"daily", "pii"},
        ("ana@example.com",),
        "duckdb",
        "python",
        "assets/marts/customers.py",
    ),
    "marts/revenue": (
        ("marts/orders",),
        "marts",
        {"finance"},
        ("bo@example.com", "team:finance"),
        "duckdb",
        "sql",
        "models/marts/revenue.sql",
    ),
    "reports/daily_summary": (
        ("marts/revenue", "marts/customers", "staging/stg_orders"),
        "reports",
        {"daily"},
        ("team:finance",),
        "parquet",
        "python",
        "assets/reports.py",
    ),
    "reports/finance/ledger": (
        ("marts/revenue",),
        "reports",
        {"finance", "monthly"},
        ("team:finance",),
        "parquet",
        "sql",
        "models/reports/ledger.sql",
    ),
    "ingest": ((), "chain", {"hourly"}, ("dee@example.com",), "memory", "python", "chain.py"),
    "clean": (("ingest",), "chain", set(), ("dee@example.com",), "memory", "python", "chain.py"),
    "enrich": (("clean",), "chain", set(), ("dee@example.com",), "memory", "python", "chain.py"),
    "publish": (("enrich",), "chain", set(), (), "memory", "python", "chain.py"),
    "lonely": ((), "misc", set(), (), "parquet", "python", "assets.py"),
    "scratch/notes": ((), "misc", {"wip"}, (), "memory", "python", "scratch/notes.py"),
}

GRAPH = AssetGraph(
    {AssetKey.parse(k): [AssetKey.parse(u) for u in spec[0]] for k, spec in _ASSETS.items()}
)
INFOS = {
    AssetKey.parse(k): AssetInfo(
        key=AssetKey.parse(k),
        group=group,
        tags=frozenset(tags),
        owners=owners,
        io_manager=io,
        kind=kind,
        path=path,
    )
    for k, (_, group, tags, owners, io, kind, path) in _ASSETS.items()
}
STATUS = dict.fromkeys(INFOS, "fresh") | {
    AssetKey.parse("marts/orders"): "stale",
    AssetKey.parse("reports/finance/ledger"): "missing",
    AssetKey.parse("publish"): "failed",
}


def keys(text: str) -> frozenset[AssetKey]:
    """``"a b/c"`` -> the keys a and b/c."""
    return frozenset(AssetKey.parse(t) for t in text.split())


def run(sel: str | list[str] | None, exc: str | list[str] | None = None) -> Selection:
    return select(GRAPH, INFOS, sel, exc, status=lambda: STATUS)


RAW = "raw/orders raw/customers raw/payments"
STG = "staging/stg_orders staging/stg_customers staging/stg_payments"
MARTS = "marts/orders marts/customers marts/revenue"
REPORTS = "reports/daily_summary reports/finance/ledger"
CHAIN = "ingest clean enrich publish"
WAREHOUSE = f"{RAW} {STG} {MARTS} {REPORTS}"

CASES: list[tuple[str | list[str] | None, str | list[str] | None, str]] = [
    # -- no selection means everything --------------------------------------------------------
    (None, None, f"{WAREHOUSE} {CHAIN} lonely scratch/notes"),
    ("", None, f"{WAREHOUSE} {CHAIN} lonely scratch/notes"),
    ("   \t ", None, f"{WAREHOUSE} {CHAIN} lonely scratch/notes"),
    ([], None, f"{WAREHOUSE} {CHAIN} lonely scratch/notes"),
    (["", " "], None, f"{WAREHOUSE} {CHAIN} lonely scratch/notes"),
    # -- key: exact, bare name, folder, glob ----------------------------------------------------
    ("marts/revenue", None, "marts/revenue"),
    ("key:marts/revenue", None, "marts/revenue"),
    ("revenue", None, "marts/revenue"),
    ("orders", None, "raw/orders marts/orders"),  # every asset with that bare name
    ("ingest", None, "ingest"),
    ("marts/", None, MARTS),
    ("reports/", None, REPORTS),
    ("reports/finance/", None, "reports/finance/ledger"),
    ("key:raw/", None, RAW),
    ("marts/*", None, MARTS),
    ("stg_*", None, STG),  # glob on the bare name
    ("*/stg_c*", None, "staging/stg_customers"),
    ("reports/*", None, REPORTS),  # like fnmatch, '*' also crosses '/'
    ("r*", None, f"{RAW} {REPORTS} marts/revenue"),  # full key or bare name
    ("?lean", None, "clean"),
    ("[ce]*", None, "clean enrich raw/customers marts/customers"),
    ("sta*/", None, STG),  # a glob on the folder
    # -- graph operators ------------------------------------------------------------------------
    (
        "+marts/revenue",
        None,
        "marts/revenue marts/orders staging/stg_orders staging/stg_payments raw/orders "
        "raw/payments",
    ),
    ("marts/revenue+", None, f"marts/revenue {REPORTS}"),
    (
        "+revenue+",
        None,
        "marts/revenue marts/orders staging/stg_orders staging/stg_payments raw/orders "
        f"raw/payments {REPORTS}",
    ),
    # depth counts the shortest distance: stg_orders is a parent of daily_summary
    (
        "1+reports/daily_summary",
        None,
        "reports/daily_summary marts/revenue marts/customers staging/stg_orders",
    ),
    (
        "2+reports/daily_summary",
        None,
        "reports/daily_summary marts/revenue marts/customers staging/stg_orders marts/orders "
        "staging/stg_customers raw/orders",
    ),
    (
        "3+reports/daily_summary",
        None,
        "reports/daily_summary marts/revenue marts/customers staging/stg_orders marts/orders "
        "staging/stg_customers raw/orders staging/stg_payments raw/customers",
    ),
    ("+reports/daily_summary", None, f"reports/daily_summary {RAW} {STG} {MARTS}"),
    ("0+revenue", None, "marts/revenue"),
    ("revenue+0", None, "marts/revenue"),
    ("0+revenue+0", None, "marts/revenue"),
    ("00+revenue", None, "marts/revenue"),
    ("marts/orders+1", None, "marts/orders marts/customers marts/revenue"),
    ("marts/orders+2", None, f"{MARTS} {REPORTS}"),
    ("raw/orders+2", None, "raw/orders staging/stg_orders marts/orders reports/daily_summary"),
    ("raw/orders+", None, f"raw/orders staging/stg_orders {MARTS} {REPORTS}"),
    (
        "1+marts/customers+1",
        None,
        "marts/customers staging/stg_customers marts/orders reports/daily_summary",
    ),
    ("ingest+2", None, "ingest clean enrich"),
    ("2+publish", None, "publish enrich clean"),
    ("+lonely+", None, "lonely"),
    # '@': the asset, its descendants, and every ancestor of those (raw/customers and
    # marts/customers come in as ancestors of daily_summary, though neither is upstream or
    # downstream of revenue)
    ("@marts/revenue", None, WAREHOUSE),
    ("@clean", None, CHAIN),
    ("@publish", None, CHAIN),
    ("@lonely", None, "lonely"),
    (
        "@reports/finance/ledger",
        None,
        "reports/finance/ledger marts/revenue marts/orders staging/stg_orders "
        "staging/stg_payments raw/orders raw/payments",
    ),
    ("@tag:pii", None, f"{RAW} {STG} {MARTS} reports/daily_summary"),
    # graph operators apply to everything the method matched
    ("tag:finance+", None, f"{MARTS} {REPORTS}"),
    (
        "+tag:pii",
        None,
        "raw/customers staging/stg_customers marts/customers " + "marts/orders "
        "staging/stg_orders staging/stg_payments raw/orders raw/payments",
    ),
    ("group:staging+1", None, f"{STG} marts/orders marts/customers reports/daily_summary"),
    # -- other methods --------------------------------------------------------------------------
    (
        "tag:daily",
        None,
        "staging/stg_orders staging/stg_customers marts/orders "
        "marts/customers reports/daily_summary",
    ),
    ("tag:pii", None, "raw/customers staging/stg_customers marts/customers"),
    ("tag:*ly", None, f"{STG} marts/orders marts/customers {REPORTS} ingest"),
    ("tag:[dh]*", None, f"{STG} marts/orders marts/customers reports/daily_summary ingest"),
    ("group:marts", None, MARTS),
    ("group:ch*", None, CHAIN),
    ("owner:ana@example.com", None, "staging/stg_orders staging/stg_customers marts/customers"),
    ("owner:team:finance", None, f"marts/revenue {REPORTS}"),
    ("owner:b*", None, "staging/stg_payments marts/orders marts/revenue"),
    ("io:duckdb", None, MARTS),
    ("io:parquet", None, f"{STG} {REPORTS} lonely"),
    ("io:mem*", None, f"{CHAIN} scratch/notes"),
    ("kind:source", None, RAW),
    ("kind:sql", None, "marts/revenue reports/finance/ledger"),
    ("kind:s*", None, f"{RAW} marts/revenue reports/finance/ledger"),
    ("path:assets/staging.py", None, STG),
    ("path:staging.py", None, STG),  # the file name alone
    ("path:./assets/staging.py", None, STG),
    ("path:models/", None, "marts/revenue reports/finance/ledger"),
    ("path:models", None, "marts/revenue reports/finance/ledger"),  # a folder, as in dbt
    ("path:assets/marts/", None, "marts/orders marts/customers"),
    ("path:assets/marts", None, "marts/orders marts/customers"),
    ("path:*.sql", None, "marts/revenue reports/finance/ledger"),
    ("path:models/*/revenue.sql", None, "marts/revenue"),
    ("path:assets.py", None, "lonely"),
    ("path:assets/*", None, f"{RAW} {STG} marts/orders marts/customers reports/daily_summary"),
    ("path:ass*/", None, f"{RAW} {STG} marts/orders marts/customers reports/daily_summary"),
    ("path:assets/m*", None, "marts/orders marts/customers"),  # a folder glob
    ("status:stale", None, "marts/orders"),
    ("status:stale+", None, f"{MARTS} {REPORTS}"),
    ("status:missing status:failed", None, "reports/finance/ledger publish"),
    ("status:fresh,group:marts", None, "marts/customers marts/revenue"),
    # -- set operators: ',' binds tighter than ' ' ----------------------------------------------
    ("tag:daily,tag:pii", None, "staging/stg_customers marts/customers"),
    (
        "tag:daily,tag:pii marts/revenue",
        None,
        "staging/stg_customers marts/customers marts/revenue",
    ),
    (
        "marts/revenue tag:daily,tag:pii",
        None,
        "staging/stg_customers marts/customers marts/revenue",
    ),
    ("+marts/customers,tag:pii", None, "marts/customers staging/stg_customers raw/customers"),
    ("tag:pii,+marts/customers", None, "marts/customers staging/stg_customers raw/customers"),
    ("marts/orders,marts/revenue", None, ""),
    ("group:marts,kind:sql,tag:finance", None, "marts/revenue"),
    ("revenue revenue", None, "marts/revenue"),
    (["revenue", "lonely"], None, "marts/revenue lonely"),
    (["revenue lonely", "ingest"], None, "marts/revenue lonely ingest"),
    # -- exclude is subtracted last -------------------------------------------------------------
    (
        "+marts/revenue",
        "raw/",
        "marts/revenue marts/orders staging/stg_orders staging/stg_payments",
    ),
    ("marts/revenue+", "reports/daily_summary", "marts/revenue reports/finance/ledger"),
    (
        ["tag:daily", "lonely"],
        "tag:pii",
        "staging/stg_orders marts/orders reports/daily_summary lonely",
    ),
    (None, "kind:source", f"{STG} {MARTS} {REPORTS} {CHAIN} lonely scratch/notes"),
    (None, "marts/orders+", f"{RAW} {STG} {CHAIN} lonely scratch/notes"),
    (None, ["@marts/revenue", "group:chain"], "lonely scratch/notes"),
    ("marts/", "marts/", ""),
    ("tag:daily", "tag:daily,tag:pii", "staging/stg_orders marts/orders reports/daily_summary"),
    (
        "@revenue",
        "+marts/orders",
        "marts/customers staging/stg_customers raw/customers "
        "marts/revenue reports/daily_summary reports/finance/ledger",
    ),
    (None, "", f"{WAREHOUSE} {CHAIN} lonely scratch/notes"),
]


@pytest.mark.parametrize(("sel", "exc", "expected"), CASES, ids=lambda v: repr(v))
def test_selection_table(
    sel: str | list[str] | None, exc: str | list[str] | None, expected: str
) -> None:
    result = run(sel, exc)
    assert result.keys == keys(expected), sorted(map(str, result.keys ^ keys(expected)))
    assert result.warnings == ()


# -- errors: (selection, exact message) -----------------------------------------------------

FORM = (
    "expected [@][N+][method:]value[+[N]], "
    "e.g. 'orders', '+orders', 'tag:daily+1', '@marts/revenue'."
)
ERRORS: list[tuple[str, str]] = [
    (
        "tags:daily",
        "Unknown selection method 'tags' in 'tags:daily' (did you mean 'tag'?); "
        "valid methods: group, io, key, kind, owner, path, status, tag.",
    ),
    (
        "+fqn:orders",
        "Unknown selection method 'fqn' in '+fqn:orders'; "
        "valid methods: group, io, key, kind, owner, path, status, tag.",
    ),
    (
        "@marts/revenue+",
        "'@marts/revenue+' is not valid: '@' already includes every descendant; "
        "use '@marts/revenue' or 'marts/revenue+'",
    ),
    ("@x+", "'@x+' is not valid: '@' already includes every descendant; use '@x' or 'x+'"),
    (
        "@revenue+1",
        "'@revenue+1' is not valid: '@' already includes every descendant; "
        "use '@revenue' or 'revenue+1'",
    ),
    (
        "@+revenue",
        "'@+revenue' is not valid: '@' already includes every ancestor of what it selects; "
        "use '@revenue' or '+revenue'",
    ),
    (
        "@2+tag:daily",
        "'@2+tag:daily' is not valid: '@' already includes every ancestor of what it selects; "
        "use '@tag:daily' or '2+tag:daily'",
    ),
    ("+", f"Malformed selection criterion '+': there is no value to select; {FORM}"),
    ("@", f"Malformed selection criterion '@': there is no value to select; {FORM}"),
    ("2+", f"Malformed selection criterion '2+': there is no value to select; {FORM}"),
    ("tag:", f"Malformed selection criterion 'tag:': there is no value to select; {FORM}"),
    (
        ":daily",
        f"Malformed selection criterion ':daily': a method name must come before ':'; {FORM}",
    ),
    (
        "a+b",
        f"Malformed selection criterion 'a+b': '+' may only come before or after the value; {FORM}",
    ),
    (
        "revenue++",
        "Malformed selection criterion 'revenue++': '+' may only come before or after the "
        f"value; {FORM}",
    ),
    (
        "++revenue",
        "Malformed selection criterion '++revenue': '+' may only come before or after the "
        f"value; {FORM}",
    ),
    ("@@revenue", f"Malformed selection criterion '@@revenue': '@' may only come first; {FORM}"),
    ("revenue@", f"Malformed selection criterion 'revenue@': '@' may only come first; {FORM}"),
    (
        "tag:daily,,revenue",
        f"Malformed selection criterion in 'tag:daily,,revenue': empty criterion around ','; "
        f"{FORM}",
    ),
    (
        "revenue,",
        f"Malformed selection criterion in 'revenue,': empty criterion around ','; {FORM}",
    ),
    (
        "1234567890+revenue",
        "Malformed selection criterion '1234567890+revenue': depth 1234567890 is too large; "
        f"{FORM}",
    ),
    (
        "status:stal",
        "Unknown status 'stal' in 'status:stal'; valid statuses: failed, fresh, missing, stale.",
    ),
    (
        "status:*",
        "Unknown status '*' in 'status:*'; valid statuses: failed, fresh, missing, stale.",
    ),
    # a plain name (no glob, no method) that matches nothing is an error with "did you mean"
    ("revenu", "No asset matches 'revenu'; did you mean 'revenue'?"),
    ("+revenu+", "No asset matches 'revenu' in '+revenu+'; did you mean 'revenue'?"),
    (
        "marts/revenu",
        "No asset matches 'marts/revenu'; did you mean 'marts/revenue' or 'marts/orders' "
        "or 'marts/'?",
    ),
    ("mart", "No asset matches 'mart'; did you mean 'marts/'?"),
    ("mart/", "No asset matches 'mart/'; did you mean 'marts/'?"),
    (
        "stg_order",
        "No asset matches 'stg_order'; did you mean 'stg_orders' or 'orders' or 'stg_customers'?",
    ),
    ("zzzzzz", "No asset matches 'zzzzzz'; 'lumbung list' shows every asset."),
    ("tag:daily,revenu", "No asset matches 'revenu'; did you mean 'revenue'?"),
]


@pytest.mark.parametrize(("sel", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(sel: str, message: str) -> None:
    with pytest.raises(SelectionError) as info:
        run(sel)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("sel", "message"), ERRORS[:22], ids=[e[0] for e in ERRORS[:22]])
def test_syntax_errors_come_from_parse_alone(sel: str, message: str) -> None:
    with pytest.raises(SelectionError) as info:
        parse(sel)
    assert str(info.value) == message


def test_errors_in_exclude_are_raised_too() -> None:
    with pytest.raises(SelectionError, match=r"^No asset matches 'lonley'; did you mean"):
        run(None, "lonley")
    with pytest.raises(SelectionError, match=r"^Unknown selection method 'tags'"):
        run("revenue", ["lonely", "tags:x"])


def test_status_without_a_status_source_is_an_error() -> None:
    with pytest.raises(SelectionError) as info:
        select(GRAPH, INFOS, "status:stale")
    assert str(info.value) == (
        "'status:' needs asset statuses, but none were given to select(); "
        "pass status=... (the CLI does this for you)."
    )


def test_non_string_selection_is_an_error() -> None:
    with pytest.raises(SelectionError) as info:
        select(GRAPH, INFOS, [1, 2])  # type: ignore[list-item]
    assert str(info.value) == (
        "A selection must be a string or a list of strings such as ['+orders', 'tag:daily']."
    )
    with pytest.raises(SelectionError) as info:
        parse(3)  # type: ignore[arg-type]
    assert str(info.value) == "A selection must be a string such as '+orders', got int."


# -- warnings: a glob or a method that matches nothing ---------------------------------------

WARNINGS: list[tuple[str | None, str | None, str, tuple[str, ...]]] = [
    ("tag:nightly", None, "", ("Selection criterion 'tag:nightly' matches no asset.",)),
    (
        "tag:dayly+",
        None,
        "",
        ("Selection criterion 'tag:dayly' matches no asset; did you mean 'tag:daily'?",),
    ),
    ("zz*", None, "", ("Selection criterion 'zz*' matches no asset.",)),
    ("zz*/", None, "", ("Selection criterion 'zz*/' matches no asset.",)),
    (
        "key:revenu",
        None,
        "",
        ("Selection criterion 'key:revenu' matches no asset; did you mean 'key:revenue'?",),
    ),
    (
        "kind:pyton",
        None,
        "",
        ("Selection criterion 'kind:pyton' matches no asset; did you mean 'kind:python'?",),
    ),
    (
        "group:mart,kind:sql",
        None,
        "",
        ("Selection criterion 'group:mart' matches no asset; did you mean 'group:marts'?",),
    ),
    ("path:nowhere/*.py", None, "", ("Selection criterion 'path:nowhere/*.py' matches no asset.",)),
    ("status:failed", "publish", "", ()),  # matched, then excluded: no warning
    (
        "owner:nobody revenue",
        None,
        "marts/revenue",
        ("Selection criterion 'owner:nobody' matches no asset.",),
    ),
    (
        "revenue",
        "tag:nightly io:s3*",
        "marts/revenue",
        (
            "Exclude criterion 'tag:nightly' matches no asset.",
            "Exclude criterion 'io:s3*' matches no asset.",
        ),
    ),
    (
        "tag:nightly tag:nightly+",
        None,
        "",
        ("Selection criterion 'tag:nightly' matches no asset.",),  # reported once
    ),
]


@pytest.mark.parametrize(("sel", "exc", "expected", "warnings"), WARNINGS, ids=repr)
def test_warnings(
    sel: str | None, exc: str | None, expected: str, warnings: tuple[str, ...]
) -> None:
    result = run(sel, exc)
    assert result.keys == keys(expected)
    assert result.warnings == warnings


# -- status is read lazily, at most once ------------------------------------------------------


def test_status_is_called_once_and_only_when_used() -> None:
    calls: list[int] = []

    def status() -> Mapping[AssetKey, str]:
        calls.append(1)
        return STATUS

    select(GRAPH, INFOS, "+revenue tag:daily", "lonely", status=status)
    assert calls == []
    result = select(GRAPH, INFOS, "status:stale status:missing+", "status:failed", status=status)
    assert calls == [1]
    assert result.keys == keys("marts/orders reports/finance/ledger")


def test_status_ignores_keys_outside_the_graph() -> None:
    extra = {**STATUS, AssetKey.parse("ghost"): "stale"}
    result = select(GRAPH, INFOS, "status:stale", status=lambda: extra)
    assert result.keys == keys("marts/orders")


# -- parse -------------------------------------------------------------------------------------


def test_parse_tree() -> None:
    expr = parse("  2+tag:daily,kind:sql+   @revenue ")
    assert [t.text for t in expr.terms] == ["2+tag:daily,kind:sql+", "@revenue"]
    first, second = expr.terms[0].criteria
    assert first == Criterion(
        text="2+tag:daily",
        method="tag",
        value="daily",
        method_given=True,
        parents=True,
        parents_depth=2,
    )
    assert second == Criterion(
        text="kind:sql+", method="kind", value="sql", method_given=True, children=True
    )
    assert expr.terms[1].criteria == (
        Criterion(text="@revenue", method="key", value="revenue", at=True),
    )
    assert str(expr) == "2+tag:daily,kind:sql+ @revenue"
    assert parse("").terms == ()


def test_infos_may_lack_assets_and_hold_extra_ones() -> None:
    partial = {k: v for k, v in INFOS.items() if k.name != "revenue"}
    ghost = AssetKey.parse("ghost")
    partial[ghost] = AssetInfo(ghost, "marts", frozenset(), (), "duckdb", "python", "g.py")
    result = select(GRAPH, partial, "group:marts revenue")
    assert result.keys == keys("marts/orders marts/customers marts/revenue")


def test_large_graph() -> None:
    """A 10,000-asset graph: layered folders, every asset depending on two of the layer above."""
    upstream: dict[AssetKey, list[AssetKey]] = {}
    infos: dict[AssetKey, AssetInfo] = {}
    for layer in range(100):
        for i in range(100):
            k = AssetKey((f"l{layer}", f"a{layer}_{i}"))
            upstream[k] = [
                AssetKey((f"l{layer - 1}", f"a{layer - 1}_{j}"))
                for j in ((i, (i + 1) % 100) if layer else ())
            ]
            infos[k] = AssetInfo(
                k, f"g{layer % 7}", frozenset({f"t{i % 10}"}), (), "parquet", "python", "x.py"
            )
    graph = AssetGraph(upstream)
    assert select(graph, infos, "l5/").keys == {k for k in upstream if k.path[0] == "l5"}
    assert len(select(graph, infos, "a50_0+2").keys) == 1 + 2 + 3
    assert len(select(graph, infos, "tag:t3,group:g1").keys) == 10 * len(range(1, 100, 7))
    # the ancestor cone of a99_0 widens by one per layer: 1 + 2 + ... + 100
    assert len(select(graph, infos, "+a99_0").keys) == 5050


# -- robustness: arbitrary text raises nothing but SelectionError -----------------------------

_TOKENS = st.sampled_from(
    [
        "+", "@", ",", ":", " ", "/", "*", "?", "[", "]", "!", "0", "1", "2", "12",
        "revenue", "orders", "marts", "marts/", "raw/orders", "stg_*", "x", "",
        *(f"{m}:" for m in METHODS), "daily", "stale", "fresh", "sql", "tag", "\\", "./",
        "é", "٣", "\x00", "\n",
    ]
)  # fmt: skip
GRAMMARISH = st.lists(_TOKENS, max_size=12).map("".join)


def _only_selection_errors(sel: object, exc: object) -> None:
    try:
        select(GRAPH, INFOS, sel, exc, status=lambda: STATUS)  # type: ignore[arg-type]
    except SelectionError as err:
        assert "\n" not in str(err)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.one_of(st.none(), st.text()))
def test_arbitrary_text_raises_only_selection_error(sel: str, exc: str | None) -> None:
    with contextlib.suppress(SelectionError):
        parse(sel)
    _only_selection_errors(sel, exc)


@settings(max_examples=500, deadline=None)
@given(GRAMMARISH, st.one_of(st.none(), GRAMMARISH))
def test_grammarish_text_raises_only_selection_error(sel: str, exc: str | None) -> None:
    try:
        expr = parse(sel)
    except SelectionError:
        pass
    else:
        # the canonical spelling parses back to the same criteria
        again = parse(str(expr))
        strip = [
            [(c.method, c.value, c.method_given, c.at, c.parents, c.parents_depth, c.children,
              c.children_depth) for c in t.criteria]
            for e in (expr, again) for t in e.terms
        ]  # fmt: skip
        half = len(strip) // 2
        assert strip[:half] == strip[half:]
    _only_selection_errors(sel, exc)
    _only_selection_errors([sel, "revenue"], [exc or ""])


# -- cost: linear in the length of the selection ----------------------------------------------


def _steps(text: str) -> int:
    """How many Python-level steps (calls, lines, returns, in Lumbung and in ``fnmatch`` and
    ``re``'s compiler alike) selecting ``text`` on the fixed graph takes, from nothing cached:
    a count of work that does not depend on the machine's speed."""
    import re
    import sys

    from assets_core.planning import selection

    selection._parse_cached.cache_clear()
    re.purge()
    count = 0

    def tracer(frame: object, event: str, arg: object) -> object:
        nonlocal count
        count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)  # type: ignore[arg-type]
    try:
        select(GRAPH, INFOS, text, status=lambda: STATUS)
    except SelectionError:
        pass
    finally:
        sys.settrace(previous)
    return count


@pytest.mark.parametrize(
    "unit",
    ["[", "*[", "[!", "[a-", "?*", "tag:[", "path:[", "marts/[", "[/", "a,", "a ", "revenux"],
)
def test_selection_cost_is_linear_in_its_length(unit: str) -> None:
    """Ten times the text costs about ten times the steps, not a hundred: ``[[[[...`` was
    quadratic (fnmatch looked for the ``]`` of every ``[`` to the end of the text; 20,000 of
    them took 10 s), about 70 times the steps for ten times the text at these sizes."""
    method, _, body = unit.rpartition(":")
    prefix = f"{method}:" if method else ""

    def text(n: int) -> str:
        return prefix + body * n

    small, large = _steps(text(200)), _steps(text(2000))
    assert large / small < 20, (small, large)


def test_a_selection_longer_than_the_limit_is_refused() -> None:
    from assets_core.planning.selection import MAX_SELECTION_LENGTH

    assert MAX_SELECTION_LENGTH == 100_000
    parse("[" * MAX_SELECTION_LENGTH)  # the longest allowed parses
    with pytest.raises(SelectionError) as err:
        parse("a" * (MAX_SELECTION_LENGTH + 1))
    assert str(err.value) == (
        "The selection is 100,001 characters long; the limit is 100,000. Select by tag:, "
        "group: or a key folder (marts/) instead of naming every asset."
    )


_GLOB_TEXT = st.text(alphabet="[]!-a*?\\^&/", max_size=10)


@settings(max_examples=400, deadline=None)
@given(_GLOB_TEXT, st.lists(_GLOB_TEXT, max_size=8))
def test_linear_globs_match_what_fnmatch_matches(pattern: str, values: list[str]) -> None:
    """Writing an unclosed ``[`` as ``[[]`` keeps the glob's meaning (dbt's: fnmatch)."""
    import fnmatch
    import re

    from assets_core.planning.selection import _closed_brackets

    ours = re.compile(fnmatch.translate(_closed_brackets(pattern)))
    for value in [*values, "[", "]", "a[", "[a]", "!", "-"]:
        assert bool(ours.match(value)) == fnmatch.fnmatchcase(value, pattern), (pattern, value)
