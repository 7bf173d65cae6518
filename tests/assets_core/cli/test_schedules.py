"""``lumbung schedules``: the list (text and JSON), one tick by hand, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.assets_core.automation.conftest import write_project
from tests.assets_core.cli.conftest import run

CLOCK = {"LUMBUNG_CLOCK": "2024-03-05T23:40Z"}


def test_the_list_and_one_tick_by_hand(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    listed = run(["schedules"], root, env=CLOCK)
    assert listed.code == 0, listed.err
    assert listed.out.splitlines() == [
        "NAME    KIND      WHEN                        NEXT TICK             LAST OUTCOME",
        "hourly  schedule  0 * * * * (UTC)             2024-03-06T00:00:00Z  -",
        "days    schedule  30 0 * * * (Europe/Berlin)  2024-03-06T23:30:00Z  -",
        "fresh   sensor    every 30s                   -                     -",
        "drops   sensor    every 10s                   -                     -",
    ]
    ticked = run(["schedules", "tick", "days", "--at", "2024-03-05T23:30Z"], root)
    assert ticked.code == 0, ticked.out + ticked.err
    assert ticked.out.splitlines()[0] == (
        "2024-03-05T23:30:00Z schedule days tick 2024-03-05T23:30:00Z: launched "
        f"(pid {ticked.out.split('(pid ')[1].split(')')[0]}) -s stamps --partitions 2024-03-04"
    )
    data = json.loads(run(["schedules", "--json"], root, env=CLOCK).out)["schedules"]
    days = next(d for d in data if d["name"] == "days")
    assert (days["last_tick"], days["last_outcome"]) == ("2024-03-05T23:30:00Z", "success")
    history = json.loads(run(["history", "--json"], root).out)["runs"]
    assert history[0]["tick"] == {
        "kind": "schedule",
        "name": "days",
        "tick": "2024-03-05T23:30:00Z",
        "outcome": "success",
    }
    logs = run(["logs", "last"], root)
    assert logs.out.splitlines()[0] == (
        f"run {history[0]['run_id']} was started by schedule days tick 2024-03-05T23:30:00Z"
    )


def test_errors_name_the_schedule_and_the_fix(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    unknown = run(["schedules", "tick", "nope"], root)
    assert (unknown.code, unknown.err_lines) == (
        2,
        ["error: no schedule or sensor named 'nope' (known: days, drops, fresh, hourly)."],
    )
    usage = run(["schedules", "run"], root)
    assert (usage.code, usage.err_lines) == (
        2,
        [
            "error: give no argument to list, or `tick NAME` to evaluate one tick "
            "(see `lumbung schedules -h`)."
        ],
    )
    nothing = write_project(tmp_path / "q", 'schedule("s", cron="0 2 * * *", select="tag:nope")\n')
    served = run(["serve"], nothing)
    assert (served.code, served.err_lines) == (
        2,
        [
            "error: schedule 's' (assets.py:28): select='tag:nope' matches no asset; fix the "
            "selection (`lumbung list -s tag:nope` shows what it matches)."
        ],
    )
