"""The server's turns under a clock the test moves: catch-up, partition windows, sensors,
dedupe keys and overlapping ticks. Runs are real processes (``lumbung materialize``, or a
process that sleeps where only its lifetime matters)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from assets_core.automation.clock import ManualClock
from assets_core.automation.evaluate import Launch, schedule_launch, sensor_launch
from assets_core.automation.launcher import Child
from assets_core.automation.server import Server
from assets_core.session import Session, load_project
from assets_core.storage.ticks import TickRecord
from tests.assets_core.automation.conftest import write_project

UTC = timezone.utc
T0 = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)


@pytest.fixture
def session(project: Path) -> Iterator[Session]:
    with load_project(project) as s:
        yield s


def _sleeper(seconds: float) -> object:
    """A launch that starts a real process living ``seconds``, in place of a run."""

    def launch(item: Launch, at: float) -> Child:
        code = f"import time; time.sleep({seconds})"
        process = subprocess.Popen([sys.executable, "-c", code])
        return Child(item, process, at, Path("/dev/null"))

    return launch


def _server(session: Session, at: datetime, lines: list[str], launch: object = None) -> Server:
    return Server(session, ManualClock(at), lines.append, grace=5, launch=launch)  # type: ignore[arg-type]


def _wait(server: Server) -> None:
    deadline = time.monotonic() + 60
    while server.running and time.monotonic() < deadline:
        time.sleep(0.05)
        server.reap()


@pytest.mark.parametrize(("policy", "expected"), [("all", 3), ("latest", 1)])
def test_restart_after_a_three_hour_outage_catches_up_by_policy(
    tmp_path: Path, policy: str, expected: int
) -> None:
    root = write_project(tmp_path / "p", catch_up=policy)
    with load_project(root) as session:
        ticks = session.state
        last = TickRecord(
            "hourly", "2024-03-05T00:00:00Z", "schedule", T0.timestamp(), 0.0, "success"
        )
        assert ticks.insert_tick(last)  # type: ignore[attr-defined]
        lines: list[str] = []
        server = _server(session, T0 + timedelta(hours=3, minutes=10), lines, _sleeper(0))
        launched = server.recover()
        while server.backlog or server.running:  # missed ticks run one after another
            _wait(server)
            launched += server.step()
        assert [x.tick for x in launched if x.name == "hourly"] == [
            "2024-03-05T01:00:00Z",
            "2024-03-05T02:00:00Z",
            "2024-03-05T03:00:00Z",
        ][-expected:]
        recorded = ticks.ticks(names=["hourly"])  # type: ignore[attr-defined]
        assert len(recorded) == expected + 1
        assert {t.outcome for t in recorded} == {"success"}
        # a second server starting at the same moment runs none of them again
        again = _server(session, T0 + timedelta(hours=3, minutes=10), lines, _sleeper(0))
        assert again.recover() == []


def test_a_daily_schedule_runs_the_partition_its_tick_closes(session: Session) -> None:
    days = session.defs.schedules["days"]
    # 00:30 in Berlin on 5 March is 23:30 UTC on the 4th: the UTC day that just closed is the 3rd
    launch = schedule_launch(session, days, datetime(2024, 3, 5, 0, 30, tzinfo=days.zone))
    assert launch.partitions == "2024-03-03"
    lines: list[str] = []
    server = _server(session, datetime(2024, 3, 6, 0, 29, tzinfo=days.zone), lines)
    server.recover()
    steps = server.step(datetime(2024, 3, 6, 0, 30, tzinfo=days.zone))
    [ran] = [x for x in steps if x.name == "days"]
    assert ran.partitions == "2024-03-04" and ran.args()[-2:] == ["--partitions", "2024-03-04"]
    _wait(server)
    [tick] = session.state.ticks(names=["days"])  # type: ignore[attr-defined]
    assert (tick.outcome, tick.partitions) == ("success", "2024-03-04"), lines
    built = [
        r.partition for r in session.state.history(key="stamps") if r.outcome == "materialized"
    ]
    assert built == ["2024-03-04"]
    assert tick.run_id == session.state.history(key="stamps")[0].run_id


def test_the_built_in_sensor_runs_exactly_what_a_changed_source_made_stale(
    session: Session, project: Path
) -> None:
    session.materialize(select="report totals unrelated", on_log=None)
    fresh = session.defs.sensors["fresh"]
    assert sensor_launch(session, fresh, T0) is None
    (project / "data" / "orders.csv").write_text("k,v\na,5\n")
    found = sensor_launch(session, fresh, T0)
    assert found is not None and found.select == "report totals"
    lines: list[str] = []
    server = _server(session, T0, lines)
    server.recover()
    [ran] = [x for x in server.step(T0) if x.name == "fresh"]
    assert ran.select == "report totals"
    _wait(server)
    [tick] = session.state.ticks(names=["fresh"])  # type: ignore[attr-defined]
    assert tick.outcome == "success", lines
    run = [r.key for r in session.state.history() if r.run_id == tick.run_id]
    assert sorted(map(str, run)) == ["report", "totals"]
    assert sensor_launch(session, fresh, T0) is None  # nothing stale any more


def test_a_custom_sensor_with_a_dedupe_key_launches_once(session: Session) -> None:
    lines: list[str] = []
    server = _server(session, T0, lines, _sleeper(0))
    server.recover()
    first = [x.name for x in server.step(T0)]
    _wait(server)
    second = [x.name for x in server.step(T0 + timedelta(seconds=20))]
    assert "drops" in first and "drops" not in second
    assert [t.tick for t in session.state.ticks(names=["drops"])] == ["drop-1"]  # type: ignore[attr-defined]


def test_a_tick_while_the_previous_run_still_runs_is_skipped_and_recorded(session: Session) -> None:
    lines: list[str] = []
    server = _server(session, T0 + timedelta(minutes=59), lines, _sleeper(30))
    server.recover()
    assert [x.tick for x in server.step(T0 + timedelta(hours=1)) if x.name == "hourly"] == [
        "2024-03-05T01:00:00Z"
    ]
    assert [x.name for x in server.step(T0 + timedelta(hours=2))] == []
    recorded = {t.tick: t for t in session.state.ticks(names=["hourly"])}  # type: ignore[attr-defined]
    skipped = recorded["2024-03-05T02:00:00Z"]
    pid = server.running["hourly"][0].process.pid
    assert skipped.outcome == "skipped"
    assert skipped.detail == f"skipped: its previous run still runs (pid {pid})"
    assert recorded["2024-03-05T01:00:00Z"].outcome == "launched"
    server.grace = 0.1
    server.shutdown()  # ends the run it started: SIGTERM
    assert server.running == {}
    assert session.state.ticks(names=["hourly"])[-1].outcome == "interrupted"  # type: ignore[attr-defined]


def test_a_tick_that_cannot_be_evaluated_is_recorded_failed_with_the_reason(
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path / "p", 'schedule("gone", cron="0 * * * *", select="nope")\n')
    with load_project(root) as session:
        lines: list[str] = []
        server = _server(session, T0, lines)
        assert server.tick("gone", T0) == []
        [tick] = session.state.ticks(names=["gone"])  # type: ignore[attr-defined]
        reason = "No asset matches 'nope'; 'lumbung list' shows every asset."
        assert (tick.outcome, tick.detail) == ("failed", reason)
        assert lines == [f"2024-03-05T00:00:00Z schedule gone tick {tick.tick}: failed: {reason}"]


def test_a_launched_tick_whose_run_still_runs_is_left_alone_on_restart(session: Session) -> None:
    import os

    from assets_core.storage.runlock import RunLock
    from assets_core.storage.state import RunRecord

    pid, started = os.getpid(), time.time()
    session.state.start_run(RunRecord("20240305T000000-aaaaaa", started, pid=pid))
    held = RunLock(session.storage, "20240305T000000-aaaaaa")  # its process: this one
    assert held.held
    tick = TickRecord(
        "hourly", "2024-03-05T00:00:00Z", "schedule", T0.timestamp(), started, "launched", pid=pid
    )
    assert session.state.insert_tick(tick)  # type: ignore[attr-defined]
    lines: list[str] = []
    _server(session, T0 + timedelta(minutes=5), lines).recover()
    assert session.state.ticks(names=["hourly"])[0].outcome == "launched"  # type: ignore[attr-defined]
    held.release()
    _server(session, T0 + timedelta(minutes=5), lines).recover()
    assert session.state.ticks(names=["hourly"])[0].outcome == "interrupted"  # type: ignore[attr-defined]


PARTITIONED = """\
import pandas as pd
from assets_core import asset, sensor, source
from assets_core.partitions import daily

DAYS = daily(start="2024-03-01")
events = source("events", path="data/events/{date}.csv", partitions=DAYS)


@asset(partitions=DAYS)
def clean_events(events: pd.DataFrame) -> pd.DataFrame:
    return events


sensor("new_events", select="clean_events")
"""


def test_the_built_in_sensor_runs_only_the_partitions_whose_files_changed(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "data" / "events").mkdir(parents=True)
    for day in range(1, 5):
        (root / "data" / "events" / f"2024-03-0{day}.csv").write_text(f"n\n{day}\n")
    (root / "lumbung.toml").write_text("")
    (root / "assets.py").write_text(PARTITIONED)
    with load_project(root) as session:
        session.materialize(as_of=T0, on_log=None)
        sensor = session.defs.sensors["new_events"]
        assert sensor_launch(session, sensor, T0) is None
        for day in (2, 3):
            (root / "data" / "events" / f"2024-03-0{day}.csv").write_text("n\n99\n")
        found = sensor_launch(session, sensor, T0)
        assert found is not None
        assert (found.select, found.partitions) == ("clean_events", "2024-03-02..2024-03-03")
