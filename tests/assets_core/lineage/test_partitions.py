"""Partitioned assets in lineage: the example's coffee bar (bar.py) with January backfilled.
The JSON gives each partitioned asset its definition and its partitions by status, the tree
and the HTML page read "31/45 fresh"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assets_core import Session, load_project
from assets_core.lineage import html, jsonfmt, tree
from assets_core.lineage.model import build_lineage
from tests.assets_core.lineage.test_html_browser import _open, browser  # noqa: F401
from tests.conftest import copy_example

DAYS = "daily(start='2026-01-01', end='2026-02-15')"
MONTHS = "monthly(start='2026-01-01', end='2026-03-01')"


@pytest.fixture(scope="module")
def bar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """The example with bar.py added to its modules and January of the daily assets built."""
    dest = copy_example(tmp_path_factory.mktemp("bar") / "example_project")
    toml = dest / "lumbung.toml"
    toml.write_text(toml.read_text().replace('["assets"]', '["assets", "bar"]'))
    session = load_project(dest)
    result = session.materialize(
        select="stg_bar_orders bar_revenue_7d",
        partitions="2026-01-01..2026-01-31",
        executor="in-process",
    )
    assert not result.failed
    yield session
    session.close()


def _counts(fresh: int, total: int, missing: int) -> dict[str, Any]:
    return {"total": total, "fresh": fresh, "stale": 0, "missing": missing, "waiting": 0}


def test_json_gives_each_partitioned_asset_its_counts(bar: Session) -> None:
    data = json.loads(jsonfmt.render(build_lineage(bar, "path:bar.py")))
    nodes = {n["key"]: n for n in data["nodes"]}
    assert list(nodes) == ["daily_orders", "stg_bar_orders", "bar_monthly", "bar_revenue_7d"]
    assert {k: (n["status"], n["partitions"]) for k, n in nodes.items()} == {
        "daily_orders": (None, None),
        "stg_bar_orders": ("missing", {"definition": DAYS, **_counts(31, 45, 14), "failed": 0}),
        "bar_monthly": ("missing", {"definition": MONTHS, **_counts(0, 2, 2), "failed": 0}),
        "bar_revenue_7d": ("missing", {"definition": DAYS, **_counts(31, 45, 14), "failed": 0}),
    }
    assert list(nodes["bar_monthly"]) == list(jsonfmt.NODE_FIELDS)
    # its worst partition's reasons
    assert [r["code"] for r in nodes["bar_monthly"]["reasons"]] == ["never_materialized"]
    assert nodes["bar_monthly"]["last_materialization"] is None
    # an unpartitioned asset has none
    whole = json.loads(
        jsonfmt.render(build_lineage(bar, "revenue_by_day", upstream=0, downstream=0))
    )
    assert [n["partitions"] for n in whole["nodes"]] == [None]


def test_the_tree_reads_the_counts(bar: Session) -> None:
    lineage = build_lineage(bar, "stg_bar_orders", upstream=0, downstream=0)
    [node] = lineage.nodes
    assert tree.label(node) == "[bold cyan]stg_bar_orders[/]  [dim]parquet · 31/45 fresh[/]"


def test_the_page_shows_the_counts(browser: Any, bar: Session, tmp_path: Path) -> None:  # noqa: F811
    target = tmp_path / "lineage.html"
    target.write_text(html.render(build_lineage(bar)), encoding="utf-8")
    page, errors = _open(browser, target)
    page.fill("#search", "bar_revenue_7d")
    page.wait_for_selector("#results li")
    assert page.inner_text("#results li small") == "31/45 fresh · marts"
    page.keyboard.press("Enter")
    page.wait_for_selector("#details h2")
    panel = page.inner_text("#details")
    assert "31/45 fresh" in panel
    assert DAYS in panel
    assert "Last run" not in panel
    page.fill("#search", "revenue_by_day")
    page.wait_for_selector("#results li")
    assert page.inner_text("#results li small") == "missing · marts"  # not built here
    assert errors == []
    page.close()
