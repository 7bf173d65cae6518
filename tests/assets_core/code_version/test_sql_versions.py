"""A SQL asset's code version (DESIGN §14): the statement parsed and rendered again by sqlglot,
plus the options that change its output. Comments, whitespace, keyword case and layout never
make it stale; a changed predicate, another IO manager or other partitions always do, and
group, tags, owners and description never do (as for a Python asset, §4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_core.code_version.versioner import CodeVersioner
from assets_core.model.sql_assets import sql_asset

BASE = """\
-- group: marts
select customer_id, sum(amount) as amount
from orders
where amount > 0
group by 1
"""


def _version(tmp_path: Path, text: str) -> str:
    folder = tmp_path / "models"
    folder.mkdir(exist_ok=True)
    path = folder / "totals.sql"
    path.write_text(text)
    asset = sql_asset(path, folder)
    assert not asset.problems
    return CodeVersioner().version_of(asset, asset.spec.io_manager or "duckdb").version


SAME = [
    BASE.replace("-- group: marts\n", "-- group: marts\n-- a new comment\n"),
    BASE.replace("where amount > 0", "where amount > 0 -- positive only"),
    "-- group: marts\nSELECT customer_id, SUM(amount) AS amount FROM orders WHERE amount > 0 "
    "GROUP BY 1\n",
    "-- group: marts\n\nselect customer_id,\n       sum(amount) as amount\n  from orders\n"
    " where amount>0\n group by 1;\n",
    BASE.replace(
        "-- group: marts", "-- group: finance\n-- tags: daily\n-- owners: ana\n-- description: T."
    ),
]
CHANGED = [
    BASE.replace("amount > 0", "amount > 1"),
    BASE.replace("group by 1", "group by 1 having count(*) > 1"),
    BASE.replace("sum(amount) as amount", "sum(amount) as total"),
    "-- io_manager: parquet\n" + BASE,
    '-- partitions: static(["eu", "us"])\n' + BASE,
]


@pytest.mark.parametrize("text", SAME)
def test_formatting_comments_and_descriptive_options_never_count(tmp_path: Path, text: str) -> None:
    assert _version(tmp_path, text) == _version(tmp_path, BASE)


@pytest.mark.parametrize("text", CHANGED)
def test_what_changes_the_output_counts(tmp_path: Path, text: str) -> None:
    assert _version(tmp_path, text) != _version(tmp_path, BASE)
