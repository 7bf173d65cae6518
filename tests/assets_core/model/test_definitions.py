"""``Definitions``: one rule for what a name means (DESIGN §3), used by parameters, ``get``,
``resolve`` and so ``show``, ``history`` and ``Session.load``."""

from __future__ import annotations

import textwrap

import pytest

from assets_core.errors import AmbiguousAssetError, DefinitionError, UnknownAssetError
from tests.conftest import ProjectDir

ASSETS = """
import pandas as pd
from assets_core import asset


@asset(key="marts/kpis")
def kpis():
    return pd.DataFrame({"v": [1]})


@asset(key="stg/orders")
def stg_orders():
    return pd.DataFrame({"v": [2]})


@asset(key="marts/orders")
def marts_orders():
    return pd.DataFrame({"v": [3]})


@asset(key="reports/weekly")
def weekly(kpis):
    return kpis
"""


def test_a_bare_name_unique_across_prefixes_is_that_asset(project: ProjectDir) -> None:
    project.write("assets.py", ASSETS)
    defs = project.definitions()
    assert str(defs.resolve("kpis")) == "marts/kpis"
    assert str(defs.resolve("marts/kpis")) == "marts/kpis"
    assert str(defs.get("kpis").key) == "marts/kpis"
    # a parameter under another prefix resolves to the one asset of that name
    assert str(defs.get("reports/weekly").spec.ins["kpis"]) == "marts/kpis"


def test_an_ambiguous_bare_name_lists_the_candidates(project: ProjectDir) -> None:
    project.write("assets.py", ASSETS)
    defs = project.definitions()
    with pytest.raises(AmbiguousAssetError) as err:
        defs.resolve("orders")
    assert str(err.value) == "'orders' names 2 assets: marts/orders, stg/orders; give the full key."
    with pytest.raises(UnknownAssetError) as unknown:
        defs.get("kpi")
    assert str(unknown.value) == "no asset 'kpi'. Did you mean 'kpis'?"


def test_an_ambiguous_parameter_is_a_definition_error(project: ProjectDir) -> None:
    project.write(
        "assets.py",
        ASSETS
        + textwrap.dedent(
            """

            @asset(key="reports/totals")
            def totals(orders):
                return orders
            """
        ),
    )
    with pytest.raises(DefinitionError) as err:
        project.definitions()
    assert [str(p) for p in err.value.problems] == [
        "reports/totals (assets.py:25): parameter 'orders' could name 2 assets called "
        "'orders': marts/orders (assets.py:15), stg/orders (assets.py:10); map it with "
        "ins={'orders': 'marts/orders'}."
    ]


def test_problems_name_files_relative_to_the_project(project: ProjectDir) -> None:
    (project.dir / "pipeline").mkdir()
    project.write("pipeline/__init__.py", "")
    project.write(
        "pipeline/reports.py",
        "from assets_core import asset\n\n\n@asset\ndef report(missing):\n    return missing\n",
    )
    with pytest.raises(DefinitionError) as err:
        project.definitions("pipeline.reports")
    assert str(err.value).startswith("report (pipeline/reports.py:4): parameter 'missing'")
