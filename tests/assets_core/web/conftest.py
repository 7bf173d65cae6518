"""Shared fixtures for the web UI's tests: a small real project on disk (Parquet outputs, a
daily and a two-dimensional partitioned asset, an asset that logs, one whose description is
hostile HTML, one never materialized, and data checks: one passing, one failing as a
warning; a schedule with one recorded tick, and a sensor), built once in this process, and
the UI's app over it through starlette's TestClient."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from assets_core.session import Session, load_project

#: "now" for the project's partitions (a fixed day: the partitions never move)
NOW = "2026-01-11T06:00"
#: the schedule's one recorded tick
TICK = "2026-01-11T02:00:00Z"
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'

ASSETS = f'''
import time

import pandas as pd

from assets_core import asset, schedule, sensor
from assets_core.checks import expect, not_null
from assets_core.partitions import daily, multi, static

DAYS = daily(start="2026-01-01")
GRID = multi(date=daily(start="2026-01-01"), region=static(["eu", "us", "asia"]))


@asset(group="raw", tags={{"daily"}}, checks=[not_null("n"), expect("n < 5", severity="warn")])
def numbers() -> pd.DataFrame:
    """Ten numbers."""
    return pd.DataFrame({{"n": list(range(10)), "label": [f"#{{i}}" for i in range(10)]}})


@asset(group="marts")
def doubled(context, numbers: pd.DataFrame) -> pd.DataFrame:
    """Each number twice; it says so as it runs."""
    context.log.info("doubling %d rows", len(numbers))
    time.sleep(0.3)
    print("done doubling")
    return numbers.assign(n=numbers.n * 2)


@asset(group="marts", description={HOSTILE!r})
def hostile(numbers: pd.DataFrame) -> pd.DataFrame:
    return numbers.head(1)


@asset(group="marts")
def never_built(numbers: pd.DataFrame) -> pd.DataFrame:
    """Never materialized by the fixture."""
    return numbers


@asset(partitions=DAYS, group="parts")
def daily_counts(context) -> pd.DataFrame:
    return pd.DataFrame({{"day": [context.partition], "count": [1]}})


@asset(partitions=GRID, group="parts")
def grid_counts(context) -> pd.DataFrame:
    return pd.DataFrame({{"key": [context.partition]}})


schedule("nightly", cron="0 2 * * *", select="numbers+")
sensor("fresh", select="group:marts", every="5m")
'''


def write_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "lumbung.toml").write_text('modules = ["assets"]\nstorage = ".lumbung"\n')
    (root / "assets.py").write_text(textwrap.dedent(ASSETS))
    return root


def build(root: Path) -> Session:
    """The project at ``root``, with everything but ``never_built`` materialized (the daily
    asset's first five days only)."""
    session = load_project(write_project(root))
    result = session.materialize(
        select="numbers doubled hostile grid_counts", executor="in-process"
    )
    assert not result.failed
    result = session.materialize(
        select="daily_counts", partitions="2026-01-01..2026-01-05", executor="in-process"
    )
    assert not result.failed
    from assets_core.automation.server import tick_log
    from assets_core.storage.ticks import TickRecord

    at = datetime(2026, 1, 11, 2, tzinfo=timezone.utc).timestamp()
    tick = TickRecord("nightly", TICK, "schedule", at, at, "failure", "numbers+", run_id="r1")
    assert tick_log(session).insert_tick(tick)
    return session


@pytest.fixture(scope="package")
def now_pinned() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("LUMBUNG_NOW", NOW)
    yield
    mp.undo()


@pytest.fixture(scope="package")
def project(tmp_path_factory: pytest.TempPathFactory, now_pinned: None) -> Iterator[Path]:
    """The project's folder, built once (read-only tests share it)."""
    root = tmp_path_factory.mktemp("web") / "proj"
    session = build(root)
    session.close()
    yield root


@pytest.fixture(scope="package")
def session(project: Path) -> Iterator[Session]:
    s = load_project(project, read_only=True)
    yield s
    s.close()


@pytest.fixture(scope="package")
def client(session: Session) -> Iterator[object]:
    from starlette.testclient import TestClient

    from assets_core.web.app import build_app

    with TestClient(
        build_app(session, project=str(session.root)), base_url="http://127.0.0.1"
    ) as c:
        yield c
