"""Running partitioned steps through ``Session.materialize`` (in memory and on Parquet): each
partition its own step reading exactly its mapped upstream partitions, the step context,
records per step (a re-plan says nothing to do), failures per step and single_run calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from assets_core.model.keys import AssetKey, StepKey
from tests.conftest import ProjectDir

PIPELINE = """
import pandas as pd
from assets_core import asset, source
from assets_core.partitions import daily, monthly, window

DAYS = daily(start="2024-01-01")
events = source("events", path="data/events/{date}.csv", partitions=DAYS)
SEEN = []

@asset(partitions=DAYS)
def clean_events(context, events: pd.DataFrame) -> pd.DataFrame:
    SEEN.append(("clean_events", context.partition, context.partition_keys,
                 context.partition_window))
    if (context.partition or "") in FAIL:
        raise ValueError("bad day " + context.partition)
    return events[["day", "n"]]

@asset(partitions=monthly(start="2024-01-01"))
def monthly_totals(context, clean_events: pd.DataFrame) -> pd.DataFrame:
    SEEN.append(("monthly_totals", context.partition, tuple(clean_events["partition"]), None))
    return pd.DataFrame({"n": [int(clean_events["n"].sum())], "days": [len(clean_events)]})

@asset(partitions=DAYS, ins={"clean_events": window(-6, 0)})
def rolling_7d(context, clean_events: pd.DataFrame) -> pd.DataFrame:
    SEEN.append(("rolling_7d", context.partition, tuple(clean_events["partition"]), None))
    return pd.DataFrame({"n": [int(clean_events["n"].sum())]})

@asset
def report(context, monthly_totals: pd.DataFrame) -> pd.DataFrame:
    SEEN.append(("report", context.partition, tuple(monthly_totals["partition"]),
                 context.partition_window))
    return monthly_totals

FAIL = set()
"""

AS_OF = "2024-03-01"  # January and February exist: 60 days, 2 months


def days(first: str, last: str) -> list[str]:
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(a + dt.timedelta(n)).isoformat() for n in range((b - a).days + 1)]


def write_events(project: ProjectDir, keys: list[str], n: int = 1) -> None:
    for key in keys:
        path = project.dir / f"data/events/{key}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"day,n\n{key},{n}\n")


@pytest.fixture
def pipeline(project: ProjectDir) -> Iterator[ProjectDir]:
    project.write("assets.py", PIPELINE)
    write_events(project, days("2024-01-01", "2024-02-29"))
    yield project


def seen(project: ProjectDir) -> list[tuple[object, ...]]:
    return project.modules("assets")[0].SEEN  # type: ignore[no-any-return]


def test_backfill_then_nothing_to_do(pipeline: ProjectDir) -> None:
    s = pipeline.session()
    mod = __import__(f"{pipeline.pkg}.assets", fromlist=["SEEN"])
    result = s.materialize(as_of=AS_OF, executor="in-process")
    assert not result.failed, result.errors
    done = set(result.materialized)
    assert len(done) == 60 + 2 + 60 + 1
    assert StepKey(AssetKey.parse("clean_events"), "2024-01-05") in done
    calls = {(name, p): rest for name, p, *rest in mod.SEEN}
    # each day reads its day; the context says which
    start, end = calls[("clean_events", "2024-01-05")][1]
    assert calls[("clean_events", "2024-01-05")][0] == ("2024-01-05",)
    assert (start.isoformat(), end.isoformat()) == (
        "2024-01-05T00:00:00+00:00",
        "2024-01-06T00:00:00+00:00",
    )
    # a month reads its days, a rolling window its 7 days (clipped at the first), in order
    assert calls[("monthly_totals", "2024-02-01")][0] == tuple(days("2024-02-01", "2024-02-29"))
    assert calls[("rolling_7d", "2024-01-10")][0] == tuple(days("2024-01-04", "2024-01-10"))
    assert calls[("rolling_7d", "2024-01-02")][0] == ("2024-01-01", "2024-01-02")
    # an unpartitioned reader reads every month; its context has no partition
    assert calls[("report", None)] == [("2024-01-01", "2024-02-01"), None]
    # what was stored per partition, and a re-plan right after: nothing to do
    total = s.load("report")
    assert list(total["n"]) == [31, 29]
    assert not s.plan(as_of=AS_OF)


@pytest.mark.parametrize("executor", ["in-process", "threads"])
def test_one_day_changed_reruns_its_day_month_and_windows(
    pipeline: ProjectDir, executor: str
) -> None:
    s = pipeline.session()
    assert not s.materialize(as_of=AS_OF, executor=executor).failed
    write_events(pipeline, ["2024-01-10"], n=5)
    result = s.materialize(as_of=AS_OF, executor=executor)
    ran = sorted((str(k.asset), k.partition) for k in result.materialized)
    windows = [("rolling_7d", d) for d in days("2024-01-10", "2024-01-16")]
    day_month = [("clean_events", "2024-01-10"), ("monthly_totals", "2024-01-01")]
    assert ran == sorted([*day_month, ("report", None), *windows])
    assert list(s.load("report")["n"]) == [35, 29]
    assert not s.plan(as_of=AS_OF)


def test_a_failed_day_skips_only_what_reads_it(pipeline: ProjectDir) -> None:
    s = pipeline.session()
    mod = __import__(f"{pipeline.pkg}.assets", fromlist=["FAIL"])
    mod.FAIL.add("2024-02-03")
    result = s.materialize(as_of=AS_OF, executor="threads", workers=2)
    assert [str(k) for k in result.failed] == ["clean_events[2024-02-03]"]
    skipped = sorted(str(k) for k in result.skipped)
    assert skipped == sorted(
        ["monthly_totals[2024-02-01]", "report"]
        + [f"rolling_7d[{d}]" for d in days("2024-02-03", "2024-02-09")]
    )
    assert len(result.materialized) == 59 + 1 + 53
    mod.FAIL.clear()
    again = s.materialize(as_of=AS_OF, executor="in-process")
    assert len(again.materialized) == 1 + 1 + 7 + 1
    assert not s.plan(as_of=AS_OF)


def test_partitions_option_runs_only_those(pipeline: ProjectDir) -> None:
    s = pipeline.session()
    result = s.materialize("clean_events", partitions="2024-01-01..2024-01-07", as_of=AS_OF)
    assert sorted(k.partition for k in result.materialized) == days("2024-01-01", "2024-01-07")


def test_unpartitioned_context_has_no_partition(project: ProjectDir) -> None:
    project.write(
        "assets.py",
        """
        import pandas as pd
        from assets_core import asset
        SEEN = []

        @asset
        def a(context) -> pd.DataFrame:
            SEEN.append((context.partition, context.partition_keys, context.partition_window))
            return pd.DataFrame({"x": [1]})
        """,
    )
    s = project.session()
    assert not s.materialize(executor="in-process").failed
    mod = __import__(f"{project.pkg}.assets", fromlist=["SEEN"])
    assert mod.SEEN == [(None, (), None)]


SINGLE_RUN = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import daily

CALLS = []
MODE = ["ok"]

@asset(partitions=daily(start="2024-01-01"), backfill="single_run")
def events(context) -> pd.DataFrame:
    CALLS.append((context.partition, context.partition_keys, context.partition_window))
    keys = list(context.partition_keys)
    if MODE[0] == "outside":
        keys.append("2023-12-31")
    frame = pd.DataFrame({"partition": keys, "n": range(len(keys))})
    if MODE[0] == "no column":
        frame = frame.drop(columns=["partition"])
    return frame

@asset(partitions=daily(start="2024-01-01"))
def doubled(events: pd.DataFrame) -> pd.DataFrame:
    return events.assign(n=events["n"] * 2)[["n"]]
"""


@pytest.fixture
def single(project: ProjectDir) -> Iterator[ProjectDir]:
    project.write("assets.py", SINGLE_RUN)
    yield project


def test_single_run_is_one_call_stored_per_partition(single: ProjectDir) -> None:
    s = single.session()
    mod = __import__(f"{single.pkg}.assets", fromlist=["CALLS"])
    result = s.materialize(as_of="2024-01-11", executor="threads")
    assert not result.failed, result.errors
    assert len(mod.CALLS) == 1
    partition, keys, (start, end) = mod.CALLS[0]
    assert partition is None and keys == tuple(days("2024-01-01", "2024-01-10"))
    assert (start.isoformat(), end.isoformat()) == (
        "2024-01-01T00:00:00+00:00",
        "2024-01-11T00:00:00+00:00",
    )
    assert len(result.materialized) == 20
    plan = s.plan(as_of="2024-01-11")
    assert not plan  # each step recorded: nothing to do
    # each partition stored with its own data version (its rows, without the column)
    records = [
        plan.last[StepKey(AssetKey.parse("events"), d)] for d in days("2024-01-01", "2024-01-10")
    ]
    assert len({r.data_version for r in records}) == 10
    assert list(s.load("doubled")["n"]) == [2 * i for i in range(10)]
    # a new day: one call of one partition
    result = s.materialize(as_of="2024-01-12", executor="in-process")
    assert [str(k) for k in result.materialized] == ["events[2024-01-11]", "doubled[2024-01-11]"]
    assert mod.CALLS[-1][:2] == ("2024-01-11", ("2024-01-11",))


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (
            "outside",
            "events: backfill='single_run' call for 2024-01-01..2024-01-03 returned rows of "
            "partition '2023-12-31', outside the partitions it covers; return only rows of "
            "context.partition_keys.",
        ),
        (
            "no column",
            "events: backfill='single_run' returned rows without the partition column "
            "'partition'; return each row's partition key as text in column(s) partition "
            "(context.partition_keys lists the keys this call covers).",
        ),
    ],
)
def test_single_run_bad_rows_fail_every_step_of_the_call(
    single: ProjectDir, mode: str, message: str
) -> None:
    s = single.session()
    mod = __import__(f"{single.pkg}.assets", fromlist=["MODE"])
    mod.MODE[0] = mode
    result = s.materialize(as_of="2024-01-04", executor="in-process")
    assert sorted(str(k) for k in result.failed) == [f"events[2024-01-0{i}]" for i in (1, 2, 3)]
    assert result.errors[result.failed[0]].splitlines()[0] == message
    assert len(result.skipped) == 3


RETRIED = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import daily

TRIES = {}

@asset(partitions=daily(start="2024-01-01"), retries=1)
def flaky(context) -> pd.DataFrame:
    TRIES[context.partition] = TRIES.get(context.partition, 0) + 1
    if context.partition == "2024-01-02" and TRIES[context.partition] == 1:
        raise ValueError("once")
    return pd.DataFrame({"n": [1]})
"""


def test_a_retry_is_per_step(project: ProjectDir) -> None:
    project.write("assets.py", RETRIED)
    s = project.session()
    mod = __import__(f"{project.pkg}.assets", fromlist=["TRIES"])
    result = s.materialize(as_of="2024-01-04", executor="threads")
    assert not result.failed and len(result.materialized) == 3
    assert mod.TRIES == {"2024-01-01": 1, "2024-01-02": 2, "2024-01-03": 1}
