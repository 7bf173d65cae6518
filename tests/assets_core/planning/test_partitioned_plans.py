"""The partitioned scenario suite (DESIGN §5 per step, §12): exact plans, grouped into runs.

Each test writes a real project module (daily events from a path template, cleaned per day,
a monthly rollup, a 7-day rolling window, and an unpartitioned report over the months), plans
it through ``Session.plan`` with "now" pinned, on a real SQLite state store.

Planning is tested apart from running (tests/assets_core/execution/test_partitioned_run.py
runs them), so "materializing" a plan is simulated here: ``pretend_run`` records each runnable
step of a plan through the state store API (``StateStore.record``) exactly as the recorder
would, with its inputs as the plan gives them (``Plan.upstream`` with ``Plan.current``) and a
data version made of them, so an unchanged input gives an unchanged output. The IO manager
says every recorded output is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assets_core.errors import PartitionError, PlanError
from assets_core.model.keys import StepKey
from assets_core.planning.groups import group_steps
from assets_core.planning.planner import Plan
from assets_core.session import Session
from assets_core.storage.io import MemoryIOManager
from assets_core.storage.state import MaterializationRecord, RunRecord
from tests.conftest import ProjectDir

PIPELINE = """
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

@asset
def report(monthly_totals: pd.DataFrame) -> pd.DataFrame:
    return monthly_totals
"""

APRIL = "2024-04-01"  # January to March exist: 91 days, 3 months


class AllStored(MemoryIOManager):
    """Says every output is stored: outputs are recorded here, never written."""

    def fingerprints(self, asked: Any, specs: Any) -> dict[Any, dict[Any, str]]:
        return {key: dict.fromkeys(parts, "") for key, parts in asked.items()}


def days(first: str, last: str) -> list[str]:
    import datetime as dt

    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(a + dt.timedelta(n)).isoformat() for n in range((b - a).days + 1)]


def put(project: ProjectDir, name: str, text: str) -> Path:
    """Write a data file of the project (its folders made as needed)."""
    path = project.dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_events(project: ProjectDir, keys: list[str]) -> None:
    for key in keys:
        put(project, f"data/events/{key}.csv", f"day,n\n{key},1\n")


@pytest.fixture
def pipeline(project: ProjectDir) -> Iterator[ProjectDir]:
    project.write("assets.py", PIPELINE)
    write_events(project, days("2024-01-01", "2024-03-31"))
    yield project


def session_of(project: ProjectDir) -> Session:
    return project.session(io_managers={"memory": AllStored()})


def lines(plan: Plan) -> list[str]:
    """The plan as ``lumbung plan`` groups it: runnable steps, then waiting ones."""
    return [str(g) for g in group_steps(plan, [*plan.steps, *plan.waiting])]


_RUNS = [0]


def pretend_run(
    session: Session,
    plan: Plan,
    fail: set[StepKey] | None = None,
    spell: Callable[[StepKey, str], str] | None = None,
) -> None:
    """Record every runnable step of ``plan`` as the recorder would (see the module);
    ``spell`` writes a step's data version another way (a manager's own versions)."""
    _RUNS[0] += 1
    run_id = f"run{_RUNS[0]}"
    state = session.state
    state.start_run(RunRecord(run_id, float(_RUNS[0])))
    versions = dict(plan.current)
    records = []
    for s in plan.steps:
        step = s.step
        inputs = {u: versions.get(u) for u in plan.upstream.get(step, ())}
        code = plan.code_versions[s.key].version
        if fail and step in fail:
            records.append(MaterializationRecord(step, run_id, "failed", code, inputs=inputs))
            continue
        data = hashlib.sha256(f"{step}{sorted(inputs.items(), key=str)}".encode()).hexdigest()
        versions[step] = data[:32] if spell is None else spell(step, data[:32])
        records.append(
            MaterializationRecord(
                step, run_id, "materialized", code, versions[step], inputs, location=f"mem://{step}"
            )
        )
    state.record(records)
    state.finish_run(run_id, "success", float(_RUNS[0]))


def built(project: ProjectDir) -> Session:
    session = session_of(project)
    pretend_run(session, session.plan(as_of=APRIL))
    return session


def test_first_backfill_is_everything_missing(pipeline: ProjectDir) -> None:
    plan = session_of(pipeline).plan(as_of=APRIL)
    assert lines(plan) == [
        "missing  clean_events  2024-01-01..2024-03-31 (91 partitions): never materialized",
        "missing  monthly_totals  2024-01-01..2024-03-01 (3 partitions): never materialized; "
        "waits on clean_events",
        "missing  report  never materialized; waits on monthly_totals",
        "missing  rolling_7d  2024-01-01..2024-03-31 (91 partitions): never materialized; "
        "waits on clean_events",
    ]
    assert len(plan.steps) == 91 + 3 + 91 + 1
    step = plan.step("rolling_7d", "2024-01-03")
    assert step is not None and step.status == "missing"
    assert [str(u) for u in plan.upstream[StepKey.parse("rolling_7d[2024-01-03]")]] == [
        "clean_events[2024-01-01]",
        "clean_events[2024-01-02]",
        "clean_events[2024-01-03]",
    ]
    assert len(plan.upstream[StepKey.parse("monthly_totals[2024-02-01]")]) == 29
    assert len(plan.upstream[StepKey.parse("report")]) == 3


def test_nothing_to_do(pipeline: ProjectDir) -> None:
    built(pipeline)
    plan = session_of(pipeline).plan(as_of=APRIL)
    assert lines(plan) == []
    assert plan.step("clean_events", "2024-02-29").status == "fresh"  # type: ignore[union-attr]


@pytest.mark.parametrize("every", [1, 3])
def test_nothing_to_do_with_versions_that_need_escaping(pipeline: ProjectDir, every: int) -> None:
    """Data versions that are not plain letters and digits (written escaped in readers'
    inputs): every one, or one partition in three among hex ones, and still nothing to do."""

    def spell(step: StepKey, data: str) -> str:
        day = int(step[1][-2:]) if step[1] else 0
        return f'v "{data[:6]}"/ü' if day % every == 0 else data

    session = session_of(pipeline)
    pretend_run(session, session.plan(as_of=APRIL), spell=spell)
    plan = session_of(pipeline).plan(as_of=APRIL)
    assert lines(plan) == []
    assert plan.current[StepKey.parse("clean_events[2024-02-03]")].startswith('v "')  # type: ignore[union-attr]


def test_one_days_source_changed(pipeline: ProjectDir) -> None:
    built(pipeline)
    put(pipeline, "data/events/2024-03-10.csv", "day,n\n2024-03-10,2\n")
    plan = session_of(pipeline).plan(as_of=APRIL)
    assert lines(plan) == [
        "stale  clean_events  2024-03-10: source events[2024-03-10] changed",
        "pending  monthly_totals  2024-03-01: waits on clean_events",
        "pending  report  waits on monthly_totals",
        "pending  rolling_7d  2024-03-10..2024-03-16 (7 partitions): waits on clean_events",
    ]
    assert plan.explain("rolling_7d", "2024-03-12") == (
        "rolling_7d[2024-03-12] ← clean_events[2024-03-10]: source events[2024-03-10] changed"
    )


def test_one_days_source_rewritten_with_the_same_bytes(pipeline: ProjectDir) -> None:
    built(pipeline)
    path = put(pipeline, "data/events/2024-03-10.csv", "day,n\n2024-03-10,1\n")
    assert path.read_text() == "day,n\n2024-03-10,1\n"
    assert lines(session_of(pipeline).plan(as_of=APRIL)) == []


def test_code_change_makes_every_partition_stale(pipeline: ProjectDir) -> None:
    built(pipeline)
    pipeline.edit(
        "assets.py",
        "def clean_events(events: pd.DataFrame) -> pd.DataFrame:\n    return events",
        "def clean_events(events: pd.DataFrame) -> pd.DataFrame:\n    return events.dropna()",
    )
    plan = session_of(pipeline).plan(as_of=APRIL)
    assert [g.split(":")[0] for g in lines(plan)] == [
        "stale  clean_events  2024-01-01..2024-03-31 (91 partitions)",
        "pending  monthly_totals  2024-01-01..2024-03-01 (3 partitions)",
        "pending  report  waits on monthly_totals",
        "pending  rolling_7d  2024-01-01..2024-03-31 (91 partitions)",
    ]
    assert plan.step("clean_events", "2024-01-05").reasons[0].code == "code_changed"  # type: ignore[union-attr]


def test_a_changed_definition_makes_every_partition_stale(pipeline: ProjectDir) -> None:
    built(pipeline)
    pipeline.edit(
        "assets.py",
        "@asset(partitions=DAYS)\n",
        "@asset(partitions=daily(start='2024-01-01', end_offset=0))\n",
    )
    assert lines(session_of(pipeline).plan(as_of=APRIL)) == []  # the same definition
    pipeline.edit(
        "assets.py",
        'monthly(start="2024-01-01")',
        'monthly(start="2024-01-01", timezone="Europe/Berlin")',
    )
    plan = session_of(pipeline).plan(as_of=APRIL, select="monthly_totals")
    assert [(s.status, s.reasons[0].code) for s in plan.steps] == [("stale", "code_changed")] * 3


def test_a_new_day_passing(pipeline: ProjectDir) -> None:
    built(pipeline)
    write_events(pipeline, ["2024-04-01"])
    plan = session_of(pipeline).plan(as_of="2024-04-02")
    assert lines(plan) == [
        "missing  clean_events  2024-04-01: never materialized",
        "missing  rolling_7d  2024-04-01: never materialized; waits on clean_events",
    ]


def test_daily_to_monthly_rollup_with_a_missing_day(pipeline: ProjectDir) -> None:
    (pipeline.dir / "data/events/2024-02-14.csv").unlink()
    plan = session_of(pipeline).plan(as_of=APRIL, select="clean_events+")
    assert lines(plan) == [
        "missing  clean_events  2024-01-01..2024-02-13 (44 partitions): never materialized",
        "waiting  clean_events  2024-02-14: never materialized; source events[2024-02-14] has "
        "no data yet (data/events/2024-02-14.csv)",
        "missing  clean_events  2024-02-15..2024-03-31 (46 partitions): never materialized",
        "missing  monthly_totals  2024-01-01: never materialized; waits on clean_events",
        "waiting  monthly_totals  2024-02-01: never materialized; upstream partition "
        "clean_events[2024-02-14] waits for its own upstream",
        "missing  monthly_totals  2024-03-01: never materialized; waits on clean_events",
        "missing  rolling_7d  2024-01-01..2024-02-13 (44 partitions): never materialized; "
        "waits on clean_events",
        "waiting  rolling_7d  2024-02-14..2024-02-20 (7 partitions): never materialized; "
        "upstream partition clean_events[2024-02-14] waits for its own upstream",
        "missing  rolling_7d  2024-02-21..2024-03-31 (40 partitions): never materialized; "
        "waits on clean_events",
        "waiting  report  never materialized; upstream partition monthly_totals[2024-02-01] "
        "waits for its own upstream",
    ]
    assert plan.explain("report") == (
        "report ← monthly_totals[2024-02-01] ← clean_events[2024-02-14]: source "
        "events[2024-02-14] has no data yet (data/events/2024-02-14.csv)"
    )
    assert {s.reasons[-1].code for s in plan.waiting} == {"upstream_partition_missing"}


def test_a_month_not_over_yet_waits(pipeline: ProjectDir) -> None:
    pipeline.edit(
        "assets.py", 'monthly(start="2024-01-01")', 'monthly(start="2024-01-01", end_offset=1)'
    )
    plan = session_of(pipeline).plan(as_of="2024-03-20", select="+monthly_totals")
    assert [g for g in lines(plan) if g.startswith("waiting")] == [
        "waiting  monthly_totals  2024-03-01: never materialized; upstream partition "
        "clean_events[2024-03-20] does "
        "not exist yet (and 11 more upstream partitions)",
    ]


def test_selecting_partitions(pipeline: ProjectDir) -> None:
    session = session_of(pipeline)
    plan = session.plan("clean_events rolling_7d", as_of=APRIL, partitions="2024-01-01..2024-01-31")
    assert lines(plan) == [
        "missing  clean_events  2024-01-01..2024-01-31 (31 partitions): never materialized",
        "missing  rolling_7d  2024-01-01..2024-01-31 (31 partitions): never materialized; "
        "waits on clean_events",
    ]
    with pytest.raises(PlanError) as never:
        session.plan("clean_events rolling_7d", as_of=APRIL, partitions="2024-03-31")
    assert str(never.value) == (
        "clean_events[2024-03-25] (and 5 more of its partitions) has never been materialized "
        "and is not selected, but rolling_7d[2024-03-31] needs it; select +rolling_7d over "
        "those partitions to build them too."
    )
    pretend_run(session, session.plan(as_of=APRIL))
    plan = session.plan("clean_events report", as_of=APRIL, partitions="2024-03-31", force=True)
    assert [str(k) for k in plan.keys] == ["clean_events[2024-03-31]", "report"]
    with pytest.raises(PartitionError) as err:
        session.plan("monthly_totals", as_of=APRIL, partitions="2024-01-01..2024-01-31")
    assert str(err.value) == (
        "monthly_totals: --partitions '2024-01-01..2024-01-31': '2024-01-31' is not a "
        "partition key of monthly(start='2024-01-01') (the month starts on 2024-01-01): "
        "expected the first day of a month, like 2024-01-01."
    )
    with pytest.raises(PartitionError, match="none of the selected assets is partitioned"):
        session.plan("report", as_of=APRIL, partitions="2024-01-01")


def test_a_failed_partition(pipeline: ProjectDir) -> None:
    session = session_of(pipeline)
    plan = session.plan(as_of=APRIL)
    pretend_run(session, plan, fail={StepKey.parse("clean_events[2024-02-10]")})
    plan = session_of(pipeline).plan(as_of=APRIL)
    step = plan.step("clean_events", "2024-02-10")
    assert step is not None and step.failed and step.status == "missing"
    assert plan.step("clean_events", "2024-02-11").status == "fresh"  # type: ignore[union-attr]
    assert lines(plan)[0] == "missing  clean_events  2024-02-10: never materialized"


MULTI = """
import pandas as pd
from assets_core import asset, source
from assets_core.partitions import daily, multi, static

REGIONS = static({regions!r})
SALES = multi(date=daily(start="2024-01-01"), region=REGIONS)
raw_sales = source("raw_sales", path="data/{{region}}/{{date}}.csv", partitions=SALES)

@asset(partitions=SALES)
def sales(raw_sales: pd.DataFrame) -> pd.DataFrame:
    return raw_sales

@asset(partitions=daily(start="2024-01-01"))
def daily_sales(sales: pd.DataFrame) -> pd.DataFrame:
    return sales
"""


def test_multi_dimensional_with_one_region_added(project: ProjectDir) -> None:
    project.write("assets.py", MULTI.format(regions=["eu", "us"]))
    for region in ("eu", "us", "apac"):
        for day in days("2024-01-01", "2024-01-10"):
            put(project, f"data/{region}/{day}.csv", f"day,n\n{day},1\n")
    pretend_run(session_of(project), session_of(project).plan(as_of="2024-01-11"))
    project.write("assets.py", MULTI.format(regions=["eu", "us", "apac"]))
    plan = session_of(project).plan(as_of="2024-01-11")
    assert lines(plan) == [
        "stale  sales  date=2024-01-01..2024-01-10,region=eu (10 partitions): code changed",
        "stale  sales  date=2024-01-01..2024-01-10,region=us (10 partitions): code changed",
        "missing  sales  date=2024-01-01..2024-01-10,region=apac (10 partitions): never "
        "materialized",
        "stale  daily_sales  2024-01-01..2024-01-10 (10 partitions): dependencies changed: "
        "+sales (1 partition); waits on sales",
    ]


DYNAMIC = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import dynamic

@asset(partitions=dynamic("customers"))
def invoices() -> pd.DataFrame:
    return pd.DataFrame({"v": [1]})

@asset
def totals(invoices: pd.DataFrame) -> pd.DataFrame:
    return invoices
"""


def test_dynamic_keys_added_and_removed(project: ProjectDir) -> None:
    project.write("assets.py", DYNAMIC)
    session = session_of(project)
    session.state.add_dynamic_keys("customers", ["acme", "globex"])
    plan = session.plan(as_of=APRIL)
    assert lines(plan) == [
        "missing  invoices  acme..globex (2 partitions): never materialized",
        "missing  totals  never materialized; waits on invoices",
    ]
    pretend_run(session, plan)
    assert lines(session.plan(as_of=APRIL)) == []

    session.state.add_dynamic_keys("customers", ["initech"])
    assert lines(session.plan(as_of=APRIL)) == [
        "missing  invoices  initech: never materialized",
        "stale  totals  dependencies changed: +invoices (1 partition); waits on invoices",
    ]
    session.state.remove_dynamic_keys("customers", ["initech", "globex"])
    assert lines(session.plan(as_of=APRIL)) == [
        "stale  totals  dependencies changed: -invoices (1 partition)",
    ]
    session.state.add_dynamic_keys("customers", ["globex"])  # its history is still there
    assert lines(session.plan(as_of=APRIL)) == []


def test_a_partitioned_asset_s_status_is_its_worst_partition_s(
    pipeline: ProjectDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What list and show print until they count partitions per status."""
    monkeypatch.setenv("LUMBUNG_NOW", APRIL)
    session = session_of(pipeline)
    assert {str(k): s.status for k, s in session.statuses().items()} == {
        "clean_events": "missing",
        "monthly_totals": "missing",
        "rolling_7d": "missing",
        "report": "missing",
    }
    pretend_run(session, session.plan(), fail={StepKey.parse("rolling_7d[2024-02-10]")})
    put(pipeline, "data/events/2024-03-10.csv", "day,n\n2024-03-10,2\n")
    found = {str(k): s for k, s in session_of(pipeline).statuses().items()}
    assert {k: s.status for k, s in found.items()} == {
        "clean_events": "stale",
        "monthly_totals": "stale",
        "rolling_7d": "failed",
        "report": "stale",
    }
    assert found["clean_events"].step.partition == "2024-03-10"
