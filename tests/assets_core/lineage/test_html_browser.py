"""The HTML page in a real browser (Debian's chromium through Python playwright): search,
click, side panel, highlighting on the example project; a 5,000-asset page becomes
interactive quickly. On CI (``CI`` set) this never skips; locally it skips without chromium.

``LUMBUNG_UPDATE_SCREENSHOT=1`` saves the example's screenshot to docs/lineage.png."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assets_core import StepKey
from assets_core.lineage import html
from assets_core.lineage.model import build_lineage
from tests.assets_core.lineage.conftest import synthetic

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = []
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        missing.append("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("playwright")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test needs {', '.join(missing)} on CI (see .ci/run)")
        pytest.skip(f"{', '.join(missing)} not installed")
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        yield b
        b.close()


def _open(browser: Any, page_file: Path) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "request",
        lambda req: (
            errors.append(f"request {req.url}") if not req.url.startswith("file:") else None
        ),
    )
    page.goto(page_file.as_uri())
    page.wait_for_function("window.lineage && window.lineage.ready", timeout=10_000)
    return page, errors


def test_search_click_panel_and_highlight(browser: Any, example, tmp_path: Path) -> None:
    target = tmp_path / "lineage.html"
    target.write_text(html.render(build_lineage(example)), encoding="utf-8")
    page, errors = _open(browser, target)

    page.fill("#search", "orders")
    page.wait_for_selector("#results li")
    first = page.inner_text("#results li")
    assert first.startswith("orders")
    page.keyboard.press("Enter")
    page.wait_for_function("window.lineage.selected() === 'orders'")
    page.click("#close")
    assert page.evaluate("window.lineage.selected()") is None
    assert page.is_hidden("#panel")

    pos = page.evaluate("window.lineage.screenPos('orders')")
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_selector("#panel:not([hidden])")
    text = page.inner_text("#panel")
    orders = example.get("orders")
    assert orders.spec.description in text
    assert "duckdb" in text and "fresh" in text
    for owner in orders.spec.owners:
        assert owner in text
    rec = example.state.latest([orders.key])[StepKey(orders.key)].last
    assert f"rows\t{rec.rows}" in text or f"rows\n{rec.rows}" in text
    for column, _ in rec.schema:
        assert column in text
    parents = [str(k) for k in example.graph.parents(orders.key)]
    children = [str(k) for k in example.graph.children(orders.key)]
    assert page.inner_text("#details ul.upstream") == "\n".join(parents)
    assert page.inner_text("#details ul.downstream") == "\n".join(children)
    around = example.graph.ancestors({orders.key}) | example.graph.descendants({orders.key})
    assert sorted(page.evaluate("window.lineage.highlighted()")) == sorted(
        str(k) for k in around | {orders.key}
    )

    # a neighbour's link moves the selection and the highlight
    page.click("#details ul.upstream a >> text=stg_payments")
    page.wait_for_function("window.lineage.selected() === 'stg_payments'")
    pay = example.get("stg_payments").key
    around = example.graph.ancestors({pay}) | example.graph.descendants({pay})
    assert sorted(page.evaluate("window.lineage.highlighted()")) == sorted(
        str(k) for k in around | {pay}
    )

    # wheel zooms, drag pans
    before = page.evaluate("({...window.lineage.view})")
    page.mouse.move(500, 400)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"window.lineage.view.k > {before['k']}")
    k = page.evaluate("window.lineage.view.k")
    page.mouse.move(300, 600)
    page.mouse.down()
    page.mouse.move(360, 640, steps=4)
    page.mouse.up()
    after = page.evaluate("({...window.lineage.view})")
    assert after["k"] == k
    assert after["tx"] != before["tx"] or after["ty"] != before["ty"]

    # a click on a node the panel would cover slides the view to show it beside the panel
    page.click("#close")
    page.click("#fit")
    last = "shop_report"  # the last mart, in the rightmost column
    pos = page.evaluate(f"window.lineage.screenPos('{last}')")
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_function(f"window.lineage.selected() === '{last}'")
    panel_left = page.evaluate("document.getElementById('panel').getBoundingClientRect().left")
    box = page.evaluate(f"window.lineage.box('{last}')")
    assert pos["x"] > panel_left  # the panel would have covered it
    assert box["right"] <= panel_left

    page.click("#fit")
    page.evaluate("window.lineage.select('orders')")
    page.click("#fit")
    page.wait_for_timeout(100)
    update = os.environ.get("LUMBUNG_UPDATE_SCREENSHOT") == "1"
    page.screenshot(path=str(DOCS / "lineage.png" if update else tmp_path / "lineage.png"))
    assert errors == []
    page.close()


def test_five_thousand_assets_become_interactive(browser: Any, tmp_path: Path) -> None:
    target = tmp_path / "big.html"
    target.write_text(html.render(build_lineage(synthetic(5000, prefix=True))), encoding="utf-8")
    page, errors = _open(browser, target)
    assert page.evaluate("window.lineage.count") == 5000
    page.fill("#search", "g3/a4999")
    page.keyboard.press("Enter")
    page.wait_for_function("window.lineage.selected() === 'g3/a4999'", timeout=5_000)
    assert page.inner_text("#details h2") == "g3/a4999"
    assert len(page.evaluate("window.lineage.highlighted()")) > 1
    pos = page.evaluate("window.lineage.screenPos('g3/a4999')")
    assert 0 < pos["x"] < 1400 and 0 < pos["y"] < 800  # the search brought it into view
    page.mouse.wheel(0, 400)
    page.wait_for_timeout(50)
    assert errors == []
    page.close()


def test_a_sql_assets_panel_lists_its_column_lineage(browser: Any, tmp_path: Path) -> None:
    from assets_core import load_project

    root = tmp_path / "p"
    (root / "models").mkdir(parents=True)
    (root / "lumbung.toml").write_text('modules = ["sources"]\nsql = ["models"]\n')
    (root / "sources.py").write_text(
        'from assets_core import source\nsales = source("sales", path="sales.csv")\n'
    )
    (root / "sales.csv").write_text("region,amount\neu,3\nus,4\n")
    (root / "models" / "by_region.sql").write_text(
        "select region, sum(amount) as total, count(*) as n from sales group by region\n"
    )
    session = load_project(root)
    try:
        target = tmp_path / "columns.html"
        target.write_text(html.render(build_lineage(session, columns=True)), encoding="utf-8")
    finally:
        session.close()
    page, errors = _open(browser, target)
    page.evaluate("window.lineage.select('by_region')")
    page.wait_for_selector("#panel:not([hidden])")
    assert page.inner_text("#details table.columns") == "\n".join(
        ["region\t\u2190 sales.region", "total\t\u2190 sales.amount", "n\tno input column"]
    )
    page.evaluate("window.lineage.select('sales')")  # a source has none
    page.wait_for_function("window.lineage.selected() === 'sales'")
    assert page.query_selector("#details table.columns") is None
    assert errors == []
    page.close()
