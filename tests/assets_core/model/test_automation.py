"""Schedules and sensors as declared in project modules, and their load-time checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_core.model.automation import RunRequest, Schedule, Sensor
from assets_core.model.project import find_project, load_definitions

ASSETS = """\
import pandas as pd
from assets_core import asset, schedule, sensor, RunRequest

@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"x": [1]})

schedule("nightly", cron="0 2 * * *", select="a", timezone="Europe/Berlin")
sensor("fresh", select="a", every="90s")

@sensor(every="5m", select="a")
def drops(context):
    return RunRequest(dedupe_key="x")
"""


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "lumbung.toml").write_text("")
    (tmp_path / "assets.py").write_text(body)
    return tmp_path


def test_declarations_are_collected_even_when_not_assigned(tmp_path: Path) -> None:
    defs = load_definitions(find_project(_project(tmp_path, ASSETS)))
    nightly = defs.schedules["nightly"]
    assert isinstance(nightly, Schedule)
    assert (nightly.cron, nightly.timezone, nightly.catch_up, nightly.max_runs) == (
        "0 2 * * *",
        "Europe/Berlin",
        "latest",
        1,
    )
    assert nightly.line == 8
    fresh, drops = defs.sensors["fresh"], defs.sensors["drops"]
    assert isinstance(fresh, Sensor) and fresh.function is None and fresh.every == 90
    assert drops.every == 300 and drops.function is not None
    assert drops.function(None) == RunRequest(dedupe_key="x")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'schedule("s", cron="0 25 * * *")',
            "schedule 's' (assets.py:2): cron='0 25 * * *' is not a valid cron expression (Bad "
            "hour); write five fields (minute hour day-of-month month day-of-week), e.g. "
            "'0 2 * * *'.",
        ),
        (
            'schedule("s", cron="0 2 * * *", timezone="Mars/Olympus")',
            "schedule 's' (assets.py:2): timezone='Mars/Olympus' is not a time zone known here; "
            "give an IANA zone name such as 'Europe/Berlin' (on a system without zone data, "
            "pip install tzdata).",
        ),
        (
            'schedule("s", cron="0 2 * * *", catch_up="some")',
            "schedule 's' (assets.py:2): catch_up='some' is not one of 'latest', 'all', 'none'; "
            "pass one of them.",
        ),
        (
            'sensor("t", every="soon")',
            "sensor 't' (assets.py:2): every='soon' is not an interval; write seconds or text "
            "like '60s', '5m', '1h'.",
        ),
        (
            'schedule("s", cron="* * * * *")\nsensor("s")',
            "sensor 's' (assets.py:3): the name is also used by the schedule at assets.py:2; "
            "give each schedule and sensor its own name.",
        ),
    ],
)
def test_a_bad_declaration_is_a_definition_error_naming_it_and_the_fix(
    tmp_path: Path, line: str, message: str
) -> None:
    from assets_core.errors import DefinitionError

    body = "from assets_core import schedule, sensor\n" + line + "\n"
    with pytest.raises(DefinitionError) as caught:
        load_definitions(find_project(_project(tmp_path, body)))
    assert str(caught.value) == message


def test_reloading_a_project_sees_edited_declarations(tmp_path: Path) -> None:
    root = _project(tmp_path, 'from assets_core import schedule\nschedule("s", cron="0 1 * * *")\n')
    assert load_definitions(find_project(root)).schedules["s"].cron == "0 1 * * *"
    (root / "assets.py").write_text(
        'from assets_core import schedule\nschedule("s", cron="0 3 * * *")  # edited\n'
    )
    assert load_definitions(find_project(root)).schedules["s"].cron == "0 3 * * *"
