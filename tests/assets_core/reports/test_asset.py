"""``reports.asset``: a partitioned asset's status and its partition materialized last, read
without an object per partition, are what the one status rule and the state store say."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from assets_core.model.keys import step_of
from assets_core.planning.partstatus import partition_counts
from assets_core.planning.status import status_of_steps
from assets_core.reports.asset import Current, _worst, latest_state
from assets_core.session import Session
from tests.conftest import ProjectDir

ASSETS = """
import os

import pandas as pd

from assets_core import asset
from assets_core.partitions import daily

DAYS = daily(start="2026-01-01")


@asset
def base() -> pd.DataFrame:
    return pd.DataFrame({"n": [1]})


@asset(partitions=DAYS)
def days(context, base: pd.DataFrame) -> pd.DataFrame:
    if context.partition in os.environ.get("FAIL_DAYS", ""):
        raise ValueError(f"no data for {context.partition}")
    return pd.DataFrame({"day": [context.partition]})
"""


@pytest.fixture
def session(project: ProjectDir, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LUMBUNG_NOW", "2026-01-09T06:00")
    project.write("assets.py", ASSETS)
    s = project.session()
    yield s
    s.close()


def run(session: Session, partitions: str, *, fail: str = "", force: bool = False) -> None:
    os.environ["FAIL_DAYS"] = fail
    try:
        session.materialize(
            select="+days", partitions=partitions, force=force, executor="in-process", on_log=None
        )
    finally:
        del os.environ["FAIL_DAYS"]


def scanned(session: Session, counted: set[str]) -> Any:
    """The partition materialized last as every partition's state tells it."""
    best = None
    for step, st in session.state.latest([session.get("days").key]).items():
        later = best is None or (st.last is not None and st.last.ended_at > best.last.ended_at)
        if st.last is not None and step[1] in counted and later:
            best = st
    return best


def same_state(found: Any, expected: Any) -> None:
    assert (found is None) == (expected is None)
    if found is None:
        return
    assert found.last.step == expected.last.step
    assert found.last.run_id == expected.last.run_id
    assert found.last.ended_at == expected.last.ended_at
    assert (found.last.rows, found.last.schema) == (expected.last.rows, expected.last.schema)
    assert found.last_outcome == expected.last_outcome
    assert found.last_attempt_at == expected.last_attempt_at
    assert (found.failure is None) == (expected.failure is None)
    if found.failure is not None:
        assert found.failure.error == expected.failure.error


def check(session: Session) -> None:
    a = session.get("days")
    plan = session.status_plan([a.key])
    counts = partition_counts(plan, a.key)
    assert counts is not None
    worst = _worst(plan, a.key, counts)
    expected = status_of_steps(plan.steps_of(a.key), a.key)
    assert (worst.status, worst.step.partition) == (expected.status, expected.step.partition)
    assert worst.step.reasons == expected.step.reasons
    assert Current(session, a).status == worst
    counted = {p for keys in counts.keys.values() for p in keys}
    same_state(latest_state(session, a, counts), scanned(session, counted))
    few = partition_counts(plan, a.key, frozenset(["2026-01-01", "2026-01-02"]))
    assert few is not None
    same_state(latest_state(session, a, few), scanned(session, {"2026-01-01", "2026-01-02"}))


def test_never_built(session: Session) -> None:
    check(session)
    assert Current(session, session.get("days")).status.status == "missing"


def test_some_built_some_missing(session: Session) -> None:
    run(session, "2026-01-02..2026-01-04")
    check(session)


def test_the_partition_built_last_failed_since(session: Session) -> None:
    run(session, "2026-01-01..2026-01-05")
    run(session, "2026-01-05", fail="2026-01-05", force=True)
    check(session)
    st = latest_state(session, session.get("days"), Current(session, session.get("days")).counts)
    assert st is not None and st.last_outcome == "failed" and st.last.step[1] == "2026-01-05"
    assert Current(session, session.get("days")).status.status == "failed"


def test_an_older_partition_than_the_newest_records(session: Session) -> None:
    run(session, "2026-01-01..2026-01-02")
    for _ in range(52):  # failures of one partition push the others out of the newest 50
        run(session, "2026-01-03", fail="2026-01-03", force=True)
    assert {r.outcome for r in session.state.history(session.get("days").key)} == {"failed"}
    check(session)


def test_every_partition_fresh(session: Session) -> None:
    run(session, "2026-01-01..2026-01-08")
    check(session)
    assert Current(session, session.get("days")).status.status == "fresh"


CHAIN = """
import pandas as pd

from assets_core import asset


@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"n": [1]})


@asset
def b(a: pd.DataFrame) -> pd.DataFrame:
    return a


@asset
def c(b: pd.DataFrame) -> pd.DataFrame:
    return b


@asset
def d(a: pd.DataFrame, c: pd.DataFrame) -> pd.DataFrame:
    return c
"""


def same_as_alone(project: ProjectDir) -> dict[str, str]:
    """Each asset's status on its page (with and without the status plan of every asset
    kept) is the one a plan of it alone gives; the statuses, by key."""
    with project.session(default_io_manager="parquet") as s:
        every = s.status_plan(s.defs.materialized)
        out = {}
        for k in s.defs.materialized:
            alone = s.statuses([k])[k]
            for known in (None, every):
                now = Current(s, s.get(k), known=known)
                assert now.status == alone, (k, known is not None)
            out[str(k)] = alone.status
        return out


def test_an_assets_status_is_that_of_a_plan_of_it_alone(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    assert same_as_alone(project) == dict.fromkeys("abcd", "missing")
    with project.session(default_io_manager="parquet") as s:
        s.materialize(select="a b", executor="in-process", on_log=None)
    assert same_as_alone(project) == {"a": "fresh", "b": "fresh", "c": "missing", "d": "missing"}
    with project.session(default_io_manager="parquet") as s:
        s.materialize(executor="in-process", on_log=None)
        where = s.state.latest([s.get("b").key])[step_of(s.get("b").key)].last.location
    assert set(same_as_alone(project).values()) == {"fresh"}
    Path(where).unlink()  # b's output deleted: b missing; c fresh alone, stale with b
    assert same_as_alone(project) == {"a": "fresh", "b": "missing", "c": "fresh", "d": "fresh"}
    project.edit("assets.py", 'pd.DataFrame({"n": [1]})', 'pd.DataFrame({"n": [2]})')
    found = same_as_alone(project)  # a's code changed: a stale, the rest read it as it is
    assert found == {"a": "stale", "b": "missing", "c": "fresh", "d": "fresh"}
