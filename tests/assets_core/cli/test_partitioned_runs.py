"""Partitioned runs end to end, through the real ``lumbung`` command on Parquet and DuckDB:
a first backfill of a daily asset, a monthly rollup and a 7-day rolling window, then nothing to
do; one day's source file changed re-runs exactly that day, its month and the 7 windows; a
failed day skips only what reads it; a single_run backfill; the threads and processes
executors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import run

PIPELINE = """
import os
import pandas as pd
from assets_core import asset, source
from assets_core.partitions import daily, monthly, window

DAYS = daily(start="2024-01-01")
events = source("events", path="data/events/{date}.csv", partitions=DAYS)

@asset(partitions=DAYS)
def clean_events(context, events: pd.DataFrame) -> pd.DataFrame:
    if context.partition in os.environ.get("FAIL_DAYS", "").split(","):
        raise ValueError("bad day " + context.partition)
    return events[["day", "n"]]

@asset(partitions=monthly(start="2024-01-01"))
def monthly_totals(clean_events: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"n": [int(clean_events["n"].sum())], "days": [len(clean_events)]})

@asset(partitions=DAYS, ins={"clean_events": window(-6, 0)})
def rolling_7d(clean_events: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"n": [int(clean_events["n"].sum())], "days": [len(clean_events)]})

@asset(partitions=DAYS, backfill="single_run")
def visits(context) -> pd.DataFrame:
    keys = list(context.partition_keys)
    return pd.DataFrame({"partition": keys, "visits": [len(k) for k in keys]})
"""

AS_OF = "2024-03-01"  # January and February: 60 days, 2 months


def days(first: str, last: str) -> list[str]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(a + dt.timedelta(n)).isoformat() for n in range((b - a).days + 1)]


def write_events(root: Path, keys: list[str], n: int = 1) -> None:
    for key in keys:
        path = root / "data" / "events" / f"{key}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"day,n\n{key},{n}\n")


@pytest.fixture(params=["parquet", "duckdb"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    (tmp_path / "lumbung.toml").write_text(
        f'modules = ["assets"]\nstorage = ".lumbung"\ndefault_io_manager = "{request.param}"\n'
    )
    (tmp_path / "assets.py").write_text(PIPELINE)
    write_events(tmp_path, days("2024-01-01", "2024-02-29"))
    return tmp_path


def materialize(root: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = run(["materialize", "--as-of", AS_OF, "--json", *args], root, env=env)
    assert done.code in (0, 1), done.err
    return json.loads(done.out)  # type: ignore[no-any-return]


def test_backfill_change_one_day_and_a_failed_day(root: Path) -> None:
    first = materialize(root, "-s", "clean_events+", "--executor", "threads")
    assert first["failed"] == [] and len(first["materialized"]) == 60 + 2 + 60  # type: ignore[arg-type]
    planned = run(["plan", "--as-of", AS_OF, "-s", "clean_events+"], root)
    assert planned.out.splitlines() == ["Nothing to do: 3 selected assets are fresh."]
    nothing = materialize(root, "-s", "clean_events+")
    assert nothing["materialized"] == []

    # one day's file changed: exactly that day, its month and the 7 windows that include it
    write_events(root, ["2024-01-10"], n=5)
    again = materialize(root, "-s", "clean_events+")
    assert sorted(again["materialized"]) == sorted(  # type: ignore[arg-type]
        ["clean_events[2024-01-10]", "monthly_totals[2024-01-01]"]
        + [f"rolling_7d[{d}]" for d in days("2024-01-10", "2024-01-16")]
    )

    # a failed day skips only the steps that read it
    write_events(root, ["2024-02-03"], n=2)
    failed = run(
        ["materialize", "--as-of", AS_OF, "-s", "clean_events+"],
        root,
        env={"FAIL_DAYS": "2024-02-03"},
    )
    assert failed.code == 1
    assert "clean_events[2024-02-03] failed: ValueError: bad day 2024-02-03" in failed.err
    fixed = materialize(root, "-s", "clean_events+")
    assert sorted(fixed["materialized"]) == sorted(  # type: ignore[arg-type]
        ["clean_events[2024-02-03]", "monthly_totals[2024-02-01]"]
        + [f"rolling_7d[{d}]" for d in days("2024-02-03", "2024-02-09")]
    )
    assert materialize(root, "-s", "clean_events+")["materialized"] == []


def test_a_failed_day_is_reported_per_step(root: Path) -> None:
    out = materialize(root, "-s", "clean_events+", env={"FAIL_DAYS": "2024-02-03"})
    assert out["failed"] == ["clean_events[2024-02-03]"]
    assert sorted(out["skipped"]) == sorted(  # type: ignore[arg-type]
        ["monthly_totals[2024-02-01]"]
        + [f"rolling_7d[{d}]" for d in days("2024-02-03", "2024-02-09")]
    )
    assert len(out["materialized"]) == 59 + 1 + 53  # type: ignore[arg-type]


def test_single_run_backfill_and_processes(root: Path) -> None:
    out = materialize(root, "-s", "visits", "--partitions", "2024-01-01..2024-01-31")
    assert out["materialized"] == [f"visits[{d}]" for d in days("2024-01-01", "2024-01-31")]
    rest = materialize(root, "-s", "visits", "--executor", "processes", "--workers", "2")
    assert rest["materialized"] == [f"visits[{d}]" for d in days("2024-02-01", "2024-02-29")]
    procs = materialize(root, "-s", "clean_events+", "--executor", "processes", "--workers", "2")
    assert procs["failed"] == [] and len(procs["materialized"]) == 122  # type: ignore[arg-type]
    assert materialize(root)["materialized"] == []


@pytest.fixture
def parquet_root(tmp_path: Path) -> Path:
    (tmp_path / "lumbung.toml").write_text('modules = ["assets"]\nstorage = ".lumbung"\n')
    (tmp_path / "assets.py").write_text(PIPELINE)
    write_events(tmp_path, days("2024-01-01", "2024-02-29"))
    return tmp_path


def test_partitions_list_show_and_wipe(parquet_root: Path) -> None:
    root = parquet_root
    env = {"FAIL_DAYS": "2024-01-25"}
    out = materialize(root, "-s", "clean_events", "--partitions", "2024-01-01..2024-01-31", env=env)
    assert len(out["materialized"]) == 30  # type: ignore[arg-type]
    shown = run(["partitions", "clean_events", "--as-of", AS_OF], root)
    assert shown.out.splitlines() == [
        "clean_events  60 partitions: 30 fresh, 29 missing, 1 failed",
        "  fresh        30  2024-01-01..2024-01-24 (24 partitions), "
        "2024-01-26..2024-01-31 (6 partitions)",
        "  missing      29  2024-02-01..2024-02-29 (29 partitions)",
        "  failed        1  2024-01-25",
    ]
    data = json.loads(run(["partitions", "clean_events", "--as-of", AS_OF, "--json"], root).out)
    assert data["counts"] == {"fresh": 30, "stale": 0, "missing": 29, "waiting": 0, "failed": 1}
    assert data["ranges"]["failed"] == [{"first": "2024-01-25", "last": "2024-01-25", "count": 1}]
    listed = run(["list", "--as-of", AS_OF], root).out.splitlines()
    assert any(line.split()[:1] == ["clean_events"] and "30/60 fresh" in line for line in listed)
    show = run(["show", "clean_events", "--as-of", AS_OF], root).out
    assert "  partitions:     30/60 fresh; 29 missing, 1 failed" in show.splitlines()
    refused = run(["partitions", "visits_x"], root)
    assert refused.code != 0
    source = run(["partitions", "events"], root)
    assert (
        source.err.strip() == "error: events is a source: partitions of assets are shown; name one."
    )
    plain = run(["partitions", "nope"], root)
    assert plain.code == 2 or plain.code == 1

    wiped = run(
        ["wipe", "-s", "clean_events", "--partitions", "2024-01-03..2024-01-05", "--yes"],
        root,
        env={"LUMBUNG_NOW": AS_OF},
    )
    assert wiped.out.splitlines() == [
        "1 asset would be wiped:",
        "  clean_events  3 partitions: 2024-01-03..2024-01-05 (3 partitions)",
        "Wiped 1 asset.",
    ]
    again = materialize(root, "-s", "clean_events", "--partitions", "2024-01-01..2024-01-31")
    assert sorted(again["materialized"]) == [  # type: ignore[arg-type]
        f"clean_events[{d}]" for d in ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-25"]
    ]
