"""The scheduler's order of partitioned steps: each step waits for exactly the upstream steps
its plan step maps it to, and a single_run range waits and runs as one call."""

from __future__ import annotations

import threading

from assets_core.execution.backends.local import InProcessBackend
from assets_core.execution.recorder import Recorder
from assets_core.execution.result import RunResult
from assets_core.execution.scheduler import Scheduler
from assets_core.execution.step import StepEnvironment
from assets_core.model.keys import StepKey
from assets_core.planning.planner import Plan
from assets_core.storage.state import MemoryStateStore
from tests.conftest import ProjectDir

PIPELINE = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import daily, monthly, window

DAYS = daily(start="2024-01-01")
ORDER = []

@asset(partitions=DAYS)
def days(context) -> pd.DataFrame:
    ORDER.append(f"days[{context.partition}]")
    return pd.DataFrame({"n": [1]})

@asset(partitions=monthly(start="2024-01-01"))
def months(context, days: pd.DataFrame) -> pd.DataFrame:
    ORDER.append(f"months[{context.partition}]")
    return days[["n"]]

@asset(partitions=DAYS, ins={"days": window(-6, 0)})
def rolling(context, days: pd.DataFrame) -> pd.DataFrame:
    ORDER.append(f"rolling[{context.partition}]")
    return days[["n"]]

@asset(partitions=DAYS, backfill="single_run", ins={"days": window(-1, 0)})
def ranged(context, days: pd.DataFrame) -> pd.DataFrame:
    ORDER.append(f"ranged{list(context.partition_keys)}")
    return pd.DataFrame({"partition": list(context.partition_keys)})
"""


def scheduler_for(plan: Plan, env: StepEnvironment) -> Scheduler:
    cancelled = threading.Event()
    backend = InProcessBackend(env, plan.keys, 1, cancelled, None)
    recorder = Recorder(MemoryStateStore(), plan, "r")
    return Scheduler(
        plan,
        env,
        backend,
        1,
        recorder,
        RunResult(run_id="r", started_at=0.0),
        lambda e: None,
        cancelled,
    )


def step(text: str) -> StepKey:
    return StepKey.parse(text)


def test_each_step_waits_for_exactly_its_mapped_steps(project: ProjectDir) -> None:
    project.write("assets.py", PIPELINE)
    s = project.session()
    plan = s.plan(as_of="2024-03-01")
    sched = scheduler_for(plan, StepEnvironment(s.defs, s.io))
    assert sched.waiting[step("rolling[2024-01-10]")] == 7
    assert sched.waiting[step("rolling[2024-01-02]")] == 2  # clipped at the first day
    assert sched.waiting[step("months[2024-02-01]")] == 29
    assert sched.waiting[step("days[2024-01-10]")] == 0
    assert sorted(map(str, sched.children[step("days[2024-01-10]")])) == sorted(
        ["months[2024-01-01]"]
        + ["ranged[2024-01-01]"] * 2  # the call's steps of the 10th and the 11th read it
        + [f"rolling[2024-01-{d:02d}]" for d in range(10, 17)]
    )
    # the single_run range is one call, led by its first step, waiting for every day it reads
    call = sched.calls[step("ranged[2024-01-01]")]
    assert len(call) == 60
    assert sched.waiting[step("ranged[2024-01-01]")] == 60 + 59
    assert s.defs is sched.env.defs and sched.env.jobs is not None
    job = sched.env.jobs[step("rolling[2024-01-10]")]
    assert job.keys == ("2024-01-10",)
    assert [str(u) for u in job.reads] == [f"days[2024-01-{d:02d}]" for d in range(4, 11)]


def test_run_order_respects_the_mapping(project: ProjectDir) -> None:
    project.write("assets.py", PIPELINE)
    s = project.session()
    mod = __import__(f"{project.pkg}.assets", fromlist=["ORDER"])
    plan = s.plan(as_of="2024-01-15")
    sched = scheduler_for(plan, StepEnvironment(s.defs, s.io))
    assert sched.run() == "success"
    order = mod.ORDER
    at = {name: i for i, name in enumerate(order)}
    for d in range(1, 15):
        lo = max(1, d - 6)
        window = [at[f"days[2024-01-{x:02d}]"] for x in range(lo, d + 1)]
        assert max(window) < at[f"rolling[2024-01-{d:02d}]"]
    assert order.count("ranged" + str([f"2024-01-{d:02d}" for d in range(1, 15)])) == 1
    assert len(sched.result.materialized) == 14 * 3  # no month has ended yet
