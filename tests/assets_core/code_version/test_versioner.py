"""Code versions: real modules written to tmp_path, imported, edited, re-imported, compared.

What goes into a version (the pieces followed, what counts and what does not); the on-disk
cache is ``test_cache.py``'s."""

from __future__ import annotations

from typing import Any

import pytest

from assets_core.code_version.versioner import CodeVersion, CodeVersioner
from assets_core.model.decorator import asset
from assets_core.model.spec import Asset
from tests.assets_core.code_version.conftest import ASSETS, HELPERS, Project, version


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


def test_same_versioner_sees_a_reimported_edit(layered: Project) -> None:
    v = CodeVersioner()
    before = v.version_of(layered.load().orders, "parquet")
    layered.write("config", "THRESHOLD = 12\n")
    assert v.version_of(layered.load().orders, "parquet").version != before.version


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
