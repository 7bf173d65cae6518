"""One status rule for every command: ``list``, ``show``, ``lineage``, ``status:`` selection and
``plan``/``materialize`` agree on what an asset is, for the same selection."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import copy_example, edit, python_materialize, run_sequence

#: the first line of revenue_by_day's body, made to raise
BROKEN = '    raise RuntimeError("boom")\n    """x'


@pytest.fixture
def example(tmp_path: Path) -> Path:
    project = copy_example(tmp_path / "example_project")
    assert python_materialize(project) == "12 materialized, 0 up to date, 0 failed, 0 skipped"
    return project


def test_an_unselected_stale_upstream_leaves_the_asset_fresh_with_a_hint(example: Path) -> None:
    """After an upstream's code changes, ``-s shop_report`` would run nothing: every command
    says so, and none calls shop_report stale."""
    edit(
        example / "assets.py",
        'NOT_REVENUE = ("cancelled", "returned")',
        'NOT_REVENUE = ("cancelled", "returned", "placed")',
    )
    listed, shown, planned, materialized, everything, by_status = run_sequence(
        [
            (["list", "-s", "shop_report", "--output", "json"], example),
            (["show", "shop_report", "--json"], example),
            (["plan", "-s", "shop_report"], example),
            (["materialize", "-s", "shop_report"], example),
            (["list", "-s", "shop_report+", "-s", "revenue_by_day"], example),
            (["list", "-s", "status:stale", "--output", "name"], example),
        ]
    )
    row = json.loads(listed.out)[0]
    assert (row["status"], row["upstream_stale"]) == ("fresh", "revenue_by_day")
    data = json.loads(shown.out)
    assert (data["status"], data["upstream_stale"]) == ("fresh", "revenue_by_day")
    assert data["hint"] == "revenue_by_day is not fresh; select +shop_report to rebuild it too"
    assert planned.out.strip() == "Nothing to do: 1 selected asset is fresh."
    assert materialized.out.strip() == "Nothing to do: 1 selected asset is fresh."
    # selected together with its upstream, shop_report waits on it: stale, as materialize says
    table = {line.split()[0]: line for line in everything.out.splitlines()}
    assert table["shop_report"].split()[-2:] == ["stale", "-"]  # status, then checks (none)
    assert table["revenue_by_day"].split()[-2:] == ["stale", "-"]
    # status: reads the plan of every asset, where shop_report waits on the changed marts
    assert by_status.out.split() == ["customers", "product_sales", "revenue_by_day", "shop_report"]


def test_the_list_table_shows_the_hint(example: Path) -> None:
    edit(example / "assets.py", "CENTS = 100\n", "CENTS = 1000\n")
    (listed,) = run_sequence([(["list", "-s", "shop_report"], example)])
    lines = listed.out.splitlines()
    assert lines[1].split()[-4:] == ["fresh", "(upstream", "stale)", "-"]  # checks: none
    assert lines[-1] == (
        "shop_report: stg_order_items is not fresh; select +shop_report to rebuild it too."
    )


def test_failed_clears_when_the_failing_code_is_reverted(example: Path) -> None:
    assets = example / "assets.py"
    good = assets.read_text()
    edit(
        assets,
        '    """Revenue and number of orders per day',
        BROKEN,
    )
    failed, listed, shown = run_sequence(
        [
            (["materialize", "-s", "revenue_by_day"], example),
            (["list", "-s", "revenue_by_day", "--output", "json"], example),
            (["show", "revenue_by_day", "--json"], example),
        ]
    )
    assert failed.code == 1
    assert json.loads(listed.out)[0]["status"] == "failed"
    assert json.loads(shown.out)["status"] == "failed"
    shutil.copyfile(example / "assets.py", example / "broken.py.txt")
    assets.write_text(good)
    edit(assets, "CENTS = 100\n", "CENTS = 100\n")  # the original bytes, a newer mtime
    listed_again, planned = run_sequence(
        [
            (["list", "-s", "revenue_by_day", "--output", "json"], example),
            (["plan", "-s", "revenue_by_day"], example),
        ]
    )
    assert json.loads(listed_again.out)[0]["status"] == "fresh"
    assert planned.out.strip() == "Nothing to do: 1 selected asset is fresh."


def test_failed_gives_way_to_stale_when_the_code_changes_again(example: Path) -> None:
    assets = example / "assets.py"
    edit(
        assets,
        '    """Revenue and number of orders per day',
        BROKEN,
    )
    run_sequence([(["materialize", "-s", "revenue_by_day"], example)])
    edit(assets, 'raise RuntimeError("boom")', 'raise RuntimeError("other")')
    (listed,) = run_sequence([(["list", "-s", "revenue_by_day", "--output", "json"], example)])
    assert json.loads(listed.out)[0]["status"] == "stale"
