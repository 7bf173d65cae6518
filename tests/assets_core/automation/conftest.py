"""A small project with schedules and sensors, on disk, for the automation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ASSETS = """\
import pandas as pd
from assets_core import RunRequest, asset, schedule, sensor, source
from assets_core.partitions import daily

orders = source("orders", path="data/orders.csv")


@asset
def totals(orders: pd.DataFrame) -> pd.DataFrame:
    return orders.groupby("k", as_index=False).sum()


@asset
def report(totals: pd.DataFrame) -> pd.DataFrame:
    return totals


@asset
def unrelated() -> pd.DataFrame:
    return pd.DataFrame({"x": [1]})


@asset(partitions=daily(start="2024-01-01"))
def stamps(context) -> pd.DataFrame:
    return pd.DataFrame({"day": [context.partition]})


{declarations}
"""

DECLARATIONS = """\
schedule("hourly", cron="0 * * * *", select="unrelated", catch_up="{catch_up}")
schedule("days", cron="30 0 * * *", select="stamps", timezone="Europe/Berlin")
sensor("fresh", select="report totals unrelated", every="30s")


@sensor(every="10s", select="unrelated")
def drops(context):
    return RunRequest(dedupe_key="drop-1")
"""


def write_project(root: Path, declarations: str = DECLARATIONS, catch_up: str = "latest") -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "orders.csv").write_text("k,v\na,1\nb,2\n")
    (root / "lumbung.toml").write_text("")
    body = ASSETS.replace("{declarations}", declarations.replace("{catch_up}", catch_up))
    (root / "assets.py").write_text(body)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj")
