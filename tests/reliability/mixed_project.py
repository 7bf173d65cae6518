"""A small built project over both IO managers, shared by the suites that damage, edit or hold
its storage: a CSV source, ``orders`` in Parquet, ``revenue`` in DuckDB and ``report`` in
Parquet again, so each manager has an output with a reader downstream."""

from __future__ import annotations

from pathlib import Path

from tests.assets_core.cli.conftest import run

STORAGE = ".lumbung"
WAREHOUSE = f"{STORAGE}/warehouse.duckdb"
ASSETS = """\
import pandas as pd
from assets_core import asset, source

raw = source("raw", path="data/raw.csv")


@asset
def orders(raw: pd.DataFrame) -> pd.DataFrame:
    return raw


@asset(io_manager="duckdb")
def revenue(orders: pd.DataFrame) -> pd.DataFrame:
    return orders.assign(y=orders.x * 2)


@asset
def report(revenue: pd.DataFrame) -> pd.DataFrame:
    return revenue
"""


def build(root: Path) -> Path:
    """Write the project at ``root`` and materialize it with the real ``lumbung``."""
    (root / "data").mkdir(parents=True)
    (root / "data" / "raw.csv").write_text("x\n1\n2\n3\n")
    (root / "lumbung.toml").write_text(f'modules = ["assets"]\nstorage = "{STORAGE}"\n')
    (root / "assets.py").write_text(ASSETS)
    res = run(["materialize"], root)
    assert res.code == 0 and "3 materialized" in res.out, res.err
    return root
