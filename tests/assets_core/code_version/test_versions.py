"""Code versions: real modules written to tmp_path, imported, edited, re-imported, compared."""

from __future__ import annotations

import ast
import importlib
import json
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from assets_core.code_version.versioner import CACHE_FORMAT, CodeVersion, CodeVersioner
from assets_core.model.decorator import asset
from assets_core.model.spec import Asset


class Project:
    """A package of asset modules in tmp_path that can be edited and imported afresh."""

    def __init__(self, root: Path) -> None:
        self.pkg = f"vproj_{uuid.uuid4().hex[:10]}"
        self.dir = root / self.pkg
        self.dir.mkdir()
        (self.dir / "__init__.py").write_text("")
        self._tick = 0

    def write(self, name: str, source: str) -> Path:
        path = self.dir / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        # A distinct mtime per write: a new cache key, and no stale bytecode.
        self._tick += 1
        stamp = 1_700_000_000 + self._tick
        os.utime(path, (stamp, stamp))
        return path

    def load(self, name: str = "assets") -> ModuleType:
        self.forget()
        importlib.invalidate_caches()
        return importlib.import_module(f"{self.pkg}.{name}")

    def forget(self) -> None:
        for mod in [m for m in sys.modules if m == self.pkg or m.startswith(self.pkg + ".")]:
            del sys.modules[mod]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    proj = Project(tmp_path)
    yield proj
    proj.forget()


def version(mod: ModuleType, name: str = "orders", io: str = "parquet") -> CodeVersion:
    value = getattr(mod, name)
    assert isinstance(value, Asset)
    return CodeVersioner().version_of(value, io)


HELPERS = """
    import re
    from .config import THRESHOLD

    PAT = re.compile("x+")

    def _strip(s):
        return s.strip() if len(s) > THRESHOLD else s

    def clean(rows):
        return [_strip(r) for r in rows if PAT.match(r)]
"""

ASSETS = """
    from assets_core.model.decorator import asset
    from . import helpers

    @asset(group="staging")
    def orders(raw):
        \"\"\"Orders.\"\"\"
        return helpers.clean(raw)
"""


@pytest.fixture
def layered(project: Project) -> Project:
    project.write("config", "THRESHOLD = 10\n")
    project.write("helpers", HELPERS)
    project.write("assets", ASSETS)
    return project


def test_components_name_every_followed_piece(layered: Project) -> None:
    cv = version(layered.load())
    p = layered.pkg
    assert set(cv.components) == {
        f"{p}.assets:orders",
        f"{p}.helpers:clean",
        f"{p}.helpers:_strip",
        f"{p}.helpers:PAT",
        f"{p}.config:THRESHOLD",  # found through `from .config import THRESHOLD`
    }
    assert len(cv.version) == 32


def test_formatting_comments_and_docstrings_do_not_count(layered: Project) -> None:
    before = version(layered.load())
    layered.write(
        "assets",
        '''
        from assets_core.model.decorator import asset
        from . import helpers


        # a comment
        @asset(group="staging")
        def orders(
            raw,
        ):
            """A different docstring."""
            return helpers.clean(  raw )  # trailing comment
        ''',
    )
    assert version(layered.load()) == before


def test_body_edit_changes_version(layered: Project) -> None:
    before = version(layered.load())
    layered.write("assets", ASSETS.replace("helpers.clean(raw)", "helpers.clean(raw)[:10]"))
    after = version(layered.load())
    assert after.version != before.version
    changed = {k for k in after.components if after.components[k] != before.components.get(k)}
    assert changed == {f"{layered.pkg}.assets:orders"}


def test_helper_two_calls_deep_edit_names_that_helper(layered: Project) -> None:
    before = version(layered.load())
    layered.write("helpers", HELPERS.replace("s.strip()", "s.strip().lower()"))
    after = version(layered.load())
    assert after.version != before.version
    changed = {k for k in after.components if after.components[k] != before.components.get(k)}
    assert changed == {f"{layered.pkg}.helpers:_strip"}


def test_constant_used_by_helper(layered: Project) -> None:
    before = version(layered.load())
    layered.write("config", "THRESHOLD = 11\n")
    after = version(layered.load())
    assert after.version != before.version
    assert (
        after.components[f"{layered.pkg}.config:THRESHOLD"]
        != (before.components[f"{layered.pkg}.config:THRESHOLD"])
    )
    layered.write("config", "THRESHOLD = 10\n")
    layered.write("helpers", HELPERS.replace('"x+"', '"y+"'))  # PAT = re.compile(...)
    assert version(layered.load()).version not in (before.version, after.version)


def test_class_used_by_asset(project: Project) -> None:
    source = """
        from assets_core.model.decorator import asset

        class Cleaner:
            factor = 2

            def run(self, rows):
                return [r * self.factor for r in rows]

        @asset
        def orders(raw):
            return Cleaner().run(raw)
    """
    project.write("assets", source)
    before = version(project.load())
    assert f"{project.pkg}.assets:Cleaner" in before.components
    project.write("assets", source.replace("r * self.factor", "r + self.factor"))
    assert version(project.load()).version != before.version


def test_mutually_recursive_helpers_terminate(project: Project) -> None:
    source = """
        from assets_core.model.decorator import asset

        def is_even(n):
            return True if n == 0 else is_odd(n - 1)

        def is_odd(n):
            return False if n == 0 else is_even(n - 1)

        @asset
        def orders(raw):
            return [r for r in raw if is_even(r)]
    """
    project.write("assets", source)
    cv = version(project.load())
    assert {f"{project.pkg}.assets:is_even", f"{project.pkg}.assets:is_odd"} <= set(cv.components)


def test_installed_and_stdlib_code_is_not_followed(project: Project) -> None:
    project.write(
        "assets",
        """
        import json
        import pandas as pd
        from pandas import DataFrame, concat
        from assets_core.model.decorator import asset

        @asset
        def orders(raw: pd.DataFrame) -> DataFrame:
            json.dumps({})
            return concat([pd.concat([raw])])
        """,
    )
    cv = version(project.load())
    assert list(cv.components) == [f"{project.pkg}.assets:orders"]


def test_parameters_that_shadow_other_assets_are_not_followed(project: Project) -> None:
    project.write(
        "assets",
        """
        from assets_core.model.decorator import asset

        @asset
        def raw():
            return [1]

        @asset
        def orders(raw):
            return raw
        """,
    )
    assert list(version(project.load()).components) == [f"{project.pkg}.assets:orders"]


@pytest.mark.parametrize(
    "options",
    [
        'description="other"',
        'tags=["daily"]',
        'group="marts"',
        'owners=["ana@example.com"]',
        'metadata={"k": 1}',
        "retries=3",
    ],
)
def test_descriptive_options_do_not_count(layered: Project, options: str) -> None:
    before = version(layered.load())
    layered.write("assets", ASSETS.replace('group="staging"', options))
    assert version(layered.load()).version == before.version


def test_output_options_count(layered: Project) -> None:
    mod = layered.load()
    fn = mod.orders.fn
    v = CodeVersioner()
    base = v.version_of(asset(fn), "parquet").version
    assert v.version_of(asset(fn), "parquet").version == base
    assert v.version_of(asset(fn), "duckdb").version != base
    assert v.version_of(asset(ins={"raw": "stg/raw"})(fn), "parquet").version != base
    assert v.version_of(asset(deps=["other"])(fn), "parquet").version != base


def test_pin_replaces_the_computed_version(layered: Project) -> None:
    layered.write("assets", ASSETS.replace('group="staging"', 'code_version="v3"'))
    cv = version(layered.load())
    assert cv == CodeVersion("v3", {})
    assert dict(cv.components) == {}


def test_closure_values_and_asset_references(project: Project) -> None:
    project.write(
        "assets",
        """
        from assets_core.model.decorator import asset

        def make(n):
            @asset(name=f"a{n}")
            def inner(raw):
                return raw * n
            return inner

        a1 = make(1)
        a2 = make(2)

        @asset
        def orders(raw):
            return a1(raw)
        """,
    )
    mod = project.load()
    assert version(mod, "a1").version != version(mod, "a2").version
    assert f"{project.pkg}.assets:make.<locals>.inner" in version(mod).components


def test_exec_defined_function_gets_a_stable_version() -> None:
    source = "def orders(raw):\n    'doc'\n    return [r + 1 for r in raw]\n"

    def build(src: str) -> Asset:
        namespace: dict[str, Any] = {"__name__": "exec_made"}
        exec(compile(src, "<string>", "exec"), namespace)
        return asset(namespace["orders"])

    first = CodeVersioner().version_of(build(source), "parquet")
    assert CodeVersioner().version_of(build(source), "parquet") == first
    assert list(first.components) == ["exec_made:orders"]
    changed = source.replace("r + 1", "r + 2")
    assert CodeVersioner().version_of(build(changed), "parquet").version != first.version


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = ast.parse

    def counting(source: Any, filename: Any = "<unknown>", *args: Any, **kwargs: Any) -> Any:
        parsed.append(str(filename))
        return real(source, filename, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting)
    return parsed


def test_cache_reuse_and_invalidation(
    layered: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "state" / "code_versions.cache"
    mod = layered.load()
    parsed = _count_parses(monkeypatch)
    first = CodeVersioner(cache)
    before = first.version_of(mod.orders, "parquet")
    first.save_cache()
    assert len(parsed) == 3  # assets, helpers, config
    assert json.loads(cache.read_text())["format"] == CACHE_FORMAT

    parsed.clear()
    second = CodeVersioner(cache)
    assert second.version_of(mod.orders, "parquet") == before
    assert parsed == []

    layered.write("helpers", HELPERS.replace("s.strip()", "s.rstrip()"))
    mod = layered.load()
    third = CodeVersioner(cache)
    assert third.version_of(mod.orders, "parquet").version != before.version
    assert [Path(p).name for p in parsed] == ["helpers.py"]
    third.save_cache()
    assert not list(cache.parent.glob("*.tmp"))


def test_same_versioner_sees_a_reimported_edit(layered: Project) -> None:
    v = CodeVersioner()
    before = v.version_of(layered.load().orders, "parquet")
    layered.write("config", "THRESHOLD = 12\n")
    assert v.version_of(layered.load().orders, "parquet").version != before.version


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"format": 999, "files": {}}', b"\x00\xff", b'{"files": []}']
)
def test_corrupt_cache_is_ignored_and_rewritten(
    layered: Project, tmp_path: Path, content: bytes
) -> None:
    cache = tmp_path / "code_versions.cache"
    cache.write_bytes(content)
    mod = layered.load()
    v = CodeVersioner(cache)
    assert v.version_of(mod.orders, "parquet") == version(mod)
    v.save_cache()
    assert json.loads(cache.read_text())["format"] == CACHE_FORMAT


def _saved_cache(layered: Project, tmp_path: Path) -> tuple[Path, Any, CodeVersion, Any]:
    """A cache holding ``orders``'s version: its path, the module, the version, its JSON."""
    cache = tmp_path / "code_versions.cache"
    mod = layered.load()
    v = CodeVersioner(cache)
    expected = v.version_of(mod.orders, "parquet")
    v.save_cache()
    return cache, mod, expected, json.loads(cache.read_text())


def test_malformed_cache_entry_is_reparsed(layered: Project, tmp_path: Path) -> None:
    cache, mod, expected, payload = _saved_cache(layered, tmp_path)
    for entry in payload["files"].values():  # [mtime_ns, size, index as JSON text]
        entry[2] = json.dumps({"defs": {"x@1": [1]}, "consts": {}, "imports": {}})
    cache.write_text(json.dumps(payload))
    assert CodeVersioner(cache).version_of(mod.orders, "parquet") == expected


@pytest.mark.parametrize("damage", ["piece index out of range", "pieces table malformed"])
def test_damaged_whole_results_are_computed_again(
    layered: Project, tmp_path: Path, damage: str
) -> None:
    """Cached versions read their components lazily: a damaged table is caught on reading."""
    cache, mod, expected, payload = _saved_cache(layered, tmp_path)
    if damage == "piece index out of range":
        for result in payload["results"].values():  # [version, pieces, paths]
            result[1] = [*result[1], len(payload["pieces"])]
    else:
        payload["pieces"][0] = ["name only"]
    cache.write_text(json.dumps(payload))
    got = CodeVersioner(cache).version_of(mod.orders, "parquet")
    assert got == expected
    assert dict(got.components) == dict(expected.components)


def test_lambdas_and_cached_helpers_are_followed(project: Project) -> None:
    source = """
        import functools
        from assets_core.model.decorator import asset

        double = lambda x: x * 2

        @functools.lru_cache
        def lookup(n):
            return n + 1

        @asset
        def orders(raw):
            return [double(lookup(r)) for r in raw]
    """
    project.write("assets", source)
    before = version(project.load())
    assert f"{project.pkg}.assets:lookup" in before.components
    project.write("assets", source.replace("x * 2", "x * 3"))
    assert version(project.load()).version != before.version
    project.write("assets", source.replace("n + 1", "n + 2"))
    assert version(project.load()).version != before.version


def test_whole_versions_are_reused_by_a_new_process(
    layered: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new versioner (a new process) reuses each asset's whole version while none of the
    files it was read from changed: no piece is rebuilt."""
    cache = tmp_path / "code_versions.cache"
    mod = layered.load()
    first = CodeVersioner(cache)
    before = first.version_of(mod.orders, "parquet")
    first.save_cache()

    built: list[str] = []
    real = CodeVersioner._build_fn

    def counting(self: CodeVersioner, fn: Any, *, as_asset: bool) -> Any:
        built.append(fn.__qualname__)
        return real(self, fn, as_asset=as_asset)

    monkeypatch.setattr(CodeVersioner, "_build_fn", counting)
    again = CodeVersioner(cache).version_of(mod.orders, "parquet")
    assert again == before and dict(again.components) == dict(before.components)
    assert built == []

    layered.write("config", "THRESHOLD = 11\n")  # two files away from the asset
    mod = layered.load()
    changed = CodeVersioner(cache).version_of(mod.orders, "parquet")
    assert changed.version != before.version
    assert built  # recomputed


def test_assets_made_by_a_factory_are_never_served_stale(project: Project, tmp_path: Path) -> None:
    """A closure value comes from a call site that may live in another file: such versions
    are not cached across processes."""
    project.write(
        "factory",
        """
        from assets_core.model.decorator import asset

        def make(name, n):
            @asset(name=name)
            def inner(raw):
                return raw * n
            return inner
        """,
    )
    project.write("assets", "from .factory import make\n\nscaled = make('scaled', 3)\n")
    cache = tmp_path / "code_versions.cache"
    first = CodeVersioner(cache)
    before = first.version_of(project.load().scaled, "parquet")
    first.save_cache()
    project.write("assets", "from .factory import make\n\nscaled = make('scaled', 4)\n")
    after = CodeVersioner(cache).version_of(project.load().scaled, "parquet")
    assert after.version != before.version


def test_a_save_keeps_the_still_valid_versions_it_did_not_use(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that computed one asset anew and saved the cache keeps every other stored
    version whose files are unchanged, so the next process builds nothing again."""
    body = (
        "from assets_core.model.decorator import asset\n\n@asset\ndef {0}(x):\n    return x + {1}\n"
    )
    project.write("one", body.format("one", 1))
    project.write("two", body.format("two", 2))
    cache = tmp_path / "code_versions.cache"
    first = CodeVersioner(cache)
    one = first.version_of(project.load("one").one, "parquet")
    first.save_cache()
    second = CodeVersioner(cache)  # uses nothing of the cache: only `two` is new
    two = second.version_of(project.load("two").two, "parquet")
    second.save_cache()
    payload = json.loads(cache.read_text())
    assert len(payload["results"]) == 2 and len(payload["paths"]) == 2

    built: list[str] = []
    real = CodeVersioner._build_fn

    def counting(self: CodeVersioner, fn: Any, *, as_asset: bool) -> Any:
        built.append(fn.__qualname__)
        return real(self, fn, as_asset=as_asset)

    monkeypatch.setattr(CodeVersioner, "_build_fn", counting)
    third = CodeVersioner(cache)
    assert third.version_of(project.load("one").one, "parquet") == one
    assert third.version_of(project.load("two").two, "parquet") == two
    assert built == []
    project.write("one", body.format("one", 10))  # an edit drops that version only
    fourth = CodeVersioner(cache)
    assert fourth.version_of(project.load("one").one, "parquet").version != one.version
    assert fourth.version_of(project.load("two").two, "parquet") == two
    assert built == ["one"]
