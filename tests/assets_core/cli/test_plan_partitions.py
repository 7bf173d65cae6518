"""``lumbung plan`` over partitioned assets, run as a user runs it: ``--partitions``,
``--partition`` and ``--as-of``, steps grouped into runs of partitions, waiting steps last,
``--why`` for one partition's chain, and a bad range as one line with exit code 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.assets_core.cli.conftest import LUMBUNG

PIPELINE = """\
import pandas as pd
from assets_core import asset, source
from assets_core.partitions import daily, monthly, window

DAYS = daily(start="2024-01-01")
events = source("events", path="data/events/{date}.csv", partitions=DAYS)


@asset(partitions=DAYS)
def clean_events(events: pd.DataFrame) -> pd.DataFrame:
    return events


@asset(partitions=monthly(start="2024-01-01"))
def monthly_totals(clean_events: pd.DataFrame) -> pd.DataFrame:
    return clean_events


@asset(partitions=DAYS, ins={"clean_events": window(-6, 0)})
def rolling_7d(clean_events: pd.DataFrame) -> pd.DataFrame:
    return clean_events
"""


def lumbung(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LUMBUNG, *args], cwd=root, capture_output=True, text=True, check=False, timeout=120
    )


def test_plan_groups_partitions(tmp_path: Path) -> None:
    (tmp_path / "lumbung.toml").write_text('modules = ["pipeline"]\n')
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    (tmp_path / "data/events").mkdir(parents=True)
    for n in [*range(1, 36), 37]:  # 2024-02-05 (day 36) has no file yet
        day = f"2024-01-{n:02d}" if n <= 31 else f"2024-02-{n - 31:02d}"
        (tmp_path / f"data/events/{day}.csv").write_text(f"day,n\n{day},1\n")

    done = lumbung(tmp_path, "plan", "--as-of", "2024-02-07")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "72 steps of 3 selected assets would run:",
        "  missing  clean_events    2024-01-01..2024-02-04 (35 partitions): never materialized",
        "  missing  clean_events    2024-02-06: never materialized",
        "  missing  monthly_totals  2024-01-01: never materialized; waits on clean_events",
        "  missing  rolling_7d      2024-01-01..2024-02-04 (35 partitions): never materialized; "
        "waits on clean_events",
        "  waiting  clean_events    2024-02-05: never materialized; source events[2024-02-05] "
        "has no data yet (data/events/2024-02-05.csv)",
        "  waiting  rolling_7d      2024-02-05..2024-02-06 (2 partitions): never materialized; "
        "upstream partition clean_events[2024-02-05] waits for its own upstream",
    ]

    done = lumbung(
        tmp_path,
        "plan",
        "-s",
        "clean_events",
        "--partitions",
        "2024-01-01..2024-01-10,2024-01-20",
        "--partition",
        "2024-01-31",
        "--as-of",
        "2024-02-07",
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "12 steps of 1 selected asset would run:",
        "  missing  clean_events  2024-01-01..2024-01-10 (10 partitions): never materialized",
        "  missing  clean_events  2024-01-20: never materialized",
        "  missing  clean_events  2024-01-31: never materialized",
    ]

    done = lumbung(
        tmp_path,
        "plan",
        "-s",
        "clean_events rolling_7d",
        "--partitions",
        "2024-01-31",
        "--as-of",
        "2024-02-07",
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: clean_events[2024-01-25] (and 5 more of its partitions) has never been "
        "materialized and is not selected, but rolling_7d[2024-01-31] needs it; select "
        "+rolling_7d over those partitions to build them too.\n"
    )

    done = lumbung(tmp_path, "plan", "--as-of", "2024-02-07", "--why", "rolling_7d[2024-02-06]")
    assert done.stdout == (
        "rolling_7d[2024-02-06] ← clean_events[2024-02-05]: source events[2024-02-05] has no "
        "data yet (data/events/2024-02-05.csv)\n"
    )

    done = lumbung(tmp_path, "plan", "-s", "clean_events", "--partitions", "2024-01-05..2024-01-01")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: clean_events: --partitions '2024-01-05..2024-01-01' runs backwards; write "
        "2024-01-01..2024-01-05.\n"
    )


DYNAMIC = """\
import pandas as pd
from assets_core import asset
from assets_core.partitions import dynamic


@asset(partitions=dynamic("customers"))
def invoices() -> pd.DataFrame:
    return pd.DataFrame({"v": [1]})
"""


def test_partitions_add_and_remove_dynamic_keys(tmp_path: Path) -> None:
    (tmp_path / "lumbung.toml").write_text('modules = ["pipeline"]\n')
    (tmp_path / "pipeline.py").write_text(DYNAMIC)
    steps = [
        (
            ["partitions", "add", "customers", "acme", "globex"],
            0,
            "added 2 keys to customers; it has 2 keys.\n",
            "",
        ),
        (
            ["partitions", "add", "customers", "acme", "initech"],
            0,
            "added 1 key to customers (1 key already there); it has 3 keys.\n",
            "",
        ),
        (
            ["partitions", "remove", "customers", "globex", "hooli"],
            0,
            "removed 1 key from customers (1 key not there); it has 2 keys.\n",
            "",
        ),
        (
            ["plan"],
            0,
            "2 steps of 1 selected asset would run:\n"
            "  missing  invoices  acme..initech (2 partitions): never materialized\n",
            "",
        ),
        (
            ["partitions", "add", "clients", "acme"],
            2,
            "",
            "error: no asset uses dynamic partitions named 'clients' (the project's: customers); "
            "declare partitions=dynamic('clients'), or fix the name.\n",
        ),
        (
            ["partitions", "add", "customers", "1bad"],
            2,
            "",
            "error: '1bad' is not a partition key of dynamic('customers'): a key starts with a "
            "letter or '_' and holds only letters, digits and '_'.\n",
        ),
    ]
    for args, code, out, err in steps:
        done = lumbung(tmp_path, *args)
        assert (done.returncode, done.stdout, done.stderr) == (code, out, err), args
