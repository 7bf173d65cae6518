"""Stored partitions changed by hand, through the Parquet manager's bulk check (an asset with
more partitions than ``_BULK``, each folder listed once and its file ``stat``-ed): a file
deleted from its folder is missing, a file rewritten in place is changed, a file touched
holding its data is fresh, and the readers of a changed day see it."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq

from assets_core.planning.planner import Plan
from tests.conftest import ProjectDir

DAYS = """
import pandas as pd
from assets_core import asset
from assets_core.partitions import daily

@asset(partitions=daily(start="2024-01-01"))
def events(context) -> pd.DataFrame:
    return pd.DataFrame({"day": [context.partition], "n": [1]})

@asset(partitions=daily(start="2024-01-01"))
def doubled(events: pd.DataFrame) -> pd.DataFrame:
    return events.assign(n=events["n"] * 2)
"""
AS_OF = "2024-01-13"  # twelve days


def statuses(plan: Plan) -> dict[str, tuple[str, list[str]]]:
    return {str(s.step): (s.status, [r.code for r in s.reasons]) for s in plan.steps}


def test_partition_files_deleted_rewritten_or_touched(project: ProjectDir) -> None:
    project.write("assets.py", DAYS)
    with project.session(default_io_manager="parquet") as session:
        session.materialize(as_of=AS_OF, on_log=None)
        assert not session.plan(as_of=AS_OF).steps
    folder = project.storage / "parquet" / "events"
    (folder / "partition=2024-01-03" / "part.parquet").unlink()  # its folder stays
    rewritten = folder / "partition=2024-01-05" / "part.parquet"
    pq.write_table(pa.table({"day": ["2024-01-05"], "n": [7]}), rewritten)  # in place
    touched = folder / "partition=2024-01-07" / "part.parquet"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with project.session(default_io_manager="parquet") as session:
        plan = session.plan(as_of=AS_OF)
        assert statuses(plan) == {
            "events[2024-01-03]": ("missing", ["output_missing"]),
            "events[2024-01-05]": ("stale", ["output_changed"]),
            "doubled[2024-01-03]": ("pending", ["waits_on"]),
            "doubled[2024-01-05]": ("pending", ["waits_on"]),
        }
        # the touched file holds its recorded data: fresh, its new fingerprint remembered
        assert [str(s) for s in plan.verified] == ["events[2024-01-07]"]
