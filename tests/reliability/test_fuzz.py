"""Fuzzing the boundaries where a user's text or code enters Lumbung: selection strings, asset
keys, and whole generated asset modules. Whatever comes in, the outcome is a result or one of
Lumbung's own errors (``assets_core.errors``) with a one-line message (a definition error may
list several problems, one per line), never another exception. A failure of the user's own
code during a run is recorded as that asset's failure, with the user's exception.

CI runs a modest number of examples (``FUZZ_EXAMPLES``, default 50); set the
``LUMBUNG_FUZZ_EXAMPLES`` environment variable, or run the ``slow`` variants, for more.
"""

from __future__ import annotations

import itertools
import os
import string
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assets_core import AssetKey, Definitions, Session, asset, source
from assets_core.errors import (
    DefinitionError,
    InvalidKeyError,
    LumbungError,
    SelectionError,
)
from assets_core.model.keys import SEGMENT_RE
from assets_core.model.project import ProjectConfig, find_project, import_assets
from assets_core.planning.selection import Selection, select
from assets_core.storage.io import MemoryIOManager

FUZZ_EXAMPLES = int(os.environ.get("LUMBUNG_FUZZ_EXAMPLES", "50"))
SLOW_EXAMPLES = 2000
CI = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SLOW = settings(CI, max_examples=SLOW_EXAMPLES)


def memory_session(assets: list[Any], config: ProjectConfig | None = None) -> Session:
    """A session whose outputs and state stay in memory."""
    defs = Definitions(
        assets,
        default_io_manager="memory",
        root=config.root if config else tempfile.gettempdir(),
    )
    return Session(defs, io_managers={"memory": MemoryIOManager()}, state="memory", config=config)


def one_line(exc: BaseException) -> None:
    """A Lumbung error's message: non-empty, and one line unless it lists problems."""
    text = str(exc)
    assert text.strip(), repr(exc)
    if isinstance(exc, DefinitionError) and len(exc.problems) > 1:
        assert all("\n" not in str(p) for p in exc.problems), text
    else:
        assert "\n" not in text, text


# --------------------------------------------------------------------------- selections


@asset(group="staging", tags={"daily"}, owners=["ana"])
def orders() -> Any:
    return None


@asset(key="marts/revenue", group="marts")
def revenue(orders: Any) -> Any:
    return None


@asset(key="marts/report", deps=["marts/revenue"])
def report() -> Any:
    return None


RAW = source("raw", path="data/raw.csv")


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    s = memory_session([RAW, orders, revenue, report])
    yield s
    s.close()


STATUSES = {
    AssetKey.parse("orders"): "fresh",
    AssetKey.parse("marts/revenue"): "stale",
    AssetKey.parse("marts/report"): "missing",
}
GRAMMAR = [
    "orders", "marts/revenue", "revenue", "report", "raw", "marts/", "stg_*", "*", "?", "[a-z]*",
    "tag:", "group:", "key:", "owner:", "io:", "kind:", "path:", "status:", "bogus:",
    "daily", "staging", "marts", "python", "source", "memory", "fresh", "stale", "missing",
    "failed", "ana", "assets.py", "*.py",
    "+", "@", "1", "2", "0", "10", ",", " ", "  ", ":", "/", "//", "..", "'", '"', "\\", "\t",
]  # fmt: skip
tokens = st.one_of(st.sampled_from(GRAMMAR), st.text(max_size=3))
selections = st.lists(tokens, max_size=8).map("".join)


def check_selection(session: Session, text: str, exclude: str | None) -> None:
    try:
        found = select(session.graph, session.infos, text, exclude, status=lambda: STATUSES)
    except SelectionError as exc:
        one_line(exc)
        return
    assert isinstance(found, Selection)
    assert found.keys <= set(session.defs.assets)


@CI
@given(text=selections, exclude=st.none() | selections)
def test_selection_strings(session: Session, text: str, exclude: str | None) -> None:
    check_selection(session, text, exclude)


@pytest.mark.slow
@SLOW
@given(text=selections, exclude=st.none() | selections)
def test_selection_strings_slow(session: Session, text: str, exclude: str | None) -> None:
    check_selection(session, text, exclude)


@CI
@given(text=selections)
def test_selection_through_plan(session: Session, text: str) -> None:
    """The Python API's entry point: ``plan`` takes the same strings."""
    try:
        session.plan(text)
    except LumbungError as exc:  # SelectionError, or PlanError (an upstream never built)
        one_line(exc)


# --------------------------------------------------------------------------- keys

segment_chars = st.sampled_from(string.ascii_letters + string.digits + "_/ .-'\"\\é\x00")
key_texts = st.one_of(st.text(max_size=12), st.text(segment_chars, max_size=12))
key_values: st.SearchStrategy[Any] = st.one_of(
    key_texts,
    st.lists(key_texts, max_size=4),
    st.lists(st.one_of(key_texts, st.integers(), st.none()), max_size=3).map(tuple),
    st.integers(),
    st.none(),
    st.binary(max_size=4),
    st.dictionaries(key_texts, key_texts, max_size=2),
)


def check_key(value: Any) -> None:
    try:
        key = AssetKey.parse(value)
    except InvalidKeyError as exc:
        one_line(exc)
    else:
        assert all(SEGMENT_RE.match(part) for part in key)
        assert AssetKey.parse(str(key)) == key


@CI
@given(value=key_values)
def test_asset_key_parse(value: Any) -> None:
    check_key(value)


@pytest.mark.slow
@SLOW
@given(value=key_values)
def test_asset_key_parse_slow(value: Any) -> None:
    check_key(value)


def _build(options: dict[str, Any]) -> None:
    def fn() -> Any:
        return None

    try:
        built = asset(**options)(fn)
        d = memory_session([built])
        d.close()
        assert list(d.defs.assets) == [built.key]
    except DefinitionError as exc:
        one_line(exc)


@CI
@given(
    key=st.none() | key_values,
    name=st.none() | key_texts | st.integers(),
    deps=st.none() | key_values,
    ins=st.none() | st.dictionaries(key_texts, key_values, max_size=2),
)
def test_asset_decorator_keys(key: Any, name: Any, deps: Any, ins: Any) -> None:
    options = {"key": key, "name": name, "deps": deps, "ins": ins}
    _build({k: v for k, v in options.items() if v is not None})


# --------------------------------------------------------------------------- generated modules

NAMES = ["a", "b", "c", "d"]
PARAMS = ["a", "b", "c", "context", "zz", "é", "_x", "raw"]
GOOD_OPTIONS = [
    'group="g"', 'tags=["t"]', 'owners=["o"]', "retries=1", 'io_manager="memory"',
    'code_version="v1"', 'deps=["a"]', 'metadata={"m": 1}',
    'description="d"', 'key="x/y"', 'name="n"',
]  # fmt: skip
BAD_OPTIONS = [
    "group=5", 'group="a b"', "tags=3", "tags=[1]", "owners=[None]", "retries=-1", 'retries="1"',
    "retries=True", 'io_manager="nope"', "io_manager=7", 'code_version=""', "code_version=3",
    'deps=["zz"]', "deps=5", "deps=[[1]]", 'ins={"q": "a"}', "ins=[1]", 'ins={"zz": "../a"}',
    "metadata={1: 2}", "description=4", 'key="../x"', "key=5", 'name="a/b"', "colour=1",
]  # fmt: skip
RETURNS = [
    'pd.DataFrame({"x": [1, 2]})', "pa.table({'x': [1]})", "None", '{"x": [1]}', "[1, 2]",
    "1", '"text"', "object()", "1 / 0", "pd.DataFrame()", "pd.Series([1])",
    "pd.DataFrame({'x': [object()]})", "pd.DataFrame({1: [1]})",
]  # fmt: skip
SHAPES = ["plain"] * 20 + ["default", "kwonly", "posonly", "async", "generator"]
MODULE_HEADER = (
    "import pandas as pd\nimport pyarrow as pa\nfrom assets_core import asset, source\n\n"
    'raw = source("raw", path="raw.csv")\n'
)


@st.composite
def modules(draw: st.DrawFn) -> str:
    """A small asset module: random parameters, decorator options (often wrong) and returns."""
    lines = [MODULE_HEADER]
    done: list[str] = []
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True)):
        params = draw(st.lists(st.sampled_from(PARAMS), max_size=3, unique=True))
        if draw(st.integers(0, 3)):  # mostly names of assets defined so far (and the source)
            params = [p for p in params if p in (*done, "raw", "context")]
        done.append(name)
        shape = draw(st.sampled_from(SHAPES))
        if params and shape == "default":
            params[-1] += "=None"
        elif params and shape == "kwonly":
            params.insert(0, "*")
        elif params and shape == "posonly":
            params.append("/")
        options = draw(st.lists(st.sampled_from(GOOD_OPTIONS), max_size=2))
        if draw(st.integers(0, 5)) == 0:
            options.append(draw(st.sampled_from(BAD_OPTIONS)))
        options = list({o.split("=")[0]: o for o in options}.values())  # each keyword once
        decorator = (
            "@asset" if not options and draw(st.booleans()) else (f"@asset({', '.join(options)})")
        )
        body = draw(st.sampled_from(RETURNS))
        prefix = "async " if shape == "async" else ""
        ret = "yield" if shape == "generator" else "return"
        lines.append(f"\n{decorator}\n{prefix}def {name}({', '.join(params)}):\n    {ret} {body}\n")
    return "".join(lines)


_counter = itertools.count()


def check_module(base: Path, text: str) -> None:
    root = base / f"p{next(_counter)}"
    root.mkdir()
    (root / "lumbung.toml").write_text('modules = ["assets"]\n')
    (root / "raw.csv").write_text("x\n1\n2\n")
    (root / "assets.py").write_text(text)
    try:
        config = find_project(root)
        found = import_assets(config)
        d = memory_session(found, config)
        try:
            plan = d.plan()
            result = d.materialize(plan=plan, executor="in-process")
        finally:
            d.close()
        event(f"ran: {len(result.materialized)} materialized, {len(result.failed)} failed")
        assert set(result.failed) <= set(plan.keys)
        for key in result.failed:
            error = result.errors.get(key) or ""
            assert error.strip(), key
            assert "/assets_core/" not in error, error  # the user's frames only
    except LumbungError as exc:
        event(type(exc).__name__)
        one_line(exc)
    finally:
        for name in [m for m in sys.modules if m == "assets" or m.startswith("assets.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz_modules")


@CI
@given(text=modules())
def test_generated_modules(module_dir: Path, text: str) -> None:
    check_module(module_dir, text)


@pytest.mark.slow
@settings(CI, max_examples=500)
@given(text=modules())
def test_generated_modules_slow(module_dir: Path, text: str) -> None:
    check_module(module_dir, text)


def test_a_generated_module_runs() -> None:
    """The generator's pieces do produce working projects (the fuzzing is not all errors)."""
    text = MODULE_HEADER + textwrap.dedent(
        """
        @asset(group="g")
        def a(raw):
            return pd.DataFrame({"x": [1, 2]})

        @asset
        def b(a, context):
            return 1 / 0
        """
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "p"
        root.mkdir()
        (root / "lumbung.toml").write_text('modules = ["assets"]\n')
        (root / "raw.csv").write_text("x\n1\n")
        (root / "assets.py").write_text(text)
        config = find_project(root)
        try:
            d = memory_session(import_assets(config), config)
            result = d.materialize(executor="in-process")
            d.close()
        finally:
            for name in [m for m in sys.modules if m == "assets"]:
                del sys.modules[name]
    assert [str(k) for k in result.materialized] == ["a"]
    assert [str(k) for k in result.failed] == ["b"]
    assert result.errors[result.failed[0]].startswith("b: ZeroDivisionError: division by zero")
