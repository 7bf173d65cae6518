"""The staleness scenario suite (DESIGN §5): exact plans, statuses and reason codes.

Each test writes a real project module, materializes it, edits something the way a user
would, and pins the next plan exactly.
"""

from __future__ import annotations

import pytest

from assets_core.errors import PlanError
from assets_core.model.keys import AssetKey, StepKey
from assets_core.planning.planner import Plan
from assets_core.storage.state import EncodedInputs
from tests.conftest import ProjectDir

CHAIN = """
import pandas as pd
from assets_core import asset

def scale(df):
    return df * 1

@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})

@asset
def b(a: pd.DataFrame) -> pd.DataFrame:
    \"\"\"B doubles a.\"\"\"
    return scale(a) * 2

@asset
def c(b: pd.DataFrame) -> pd.DataFrame:
    return b + 1
"""


def steps(plan: Plan) -> dict[str, tuple[str, list[str]]]:
    return {str(s.key): (s.status, [r.code for r in s.reasons]) for s in plan.steps}


def test_new_project_is_all_missing(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    plan = project.session().plan()
    assert steps(plan) == {
        "a": ("missing", ["never_materialized"]),
        "b": ("missing", ["never_materialized", "waits_on"]),
        "c": ("missing", ["never_materialized", "waits_on"]),
    }
    assert [str(k) for k in plan.keys] == ["a", "b", "c"]


def test_second_run_has_nothing_to_do(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    result = session.materialize()
    assert [str(k) for k in result.materialized] == ["a", "b", "c"]
    assert steps(session.plan()) == {}
    assert steps(project.session().plan()) == {}  # and after reloading the project


def test_body_edit_mid_chain_with_unchanged_output_stops_at_early_cutoff(
    project: ProjectDir,
) -> None:
    project.write("assets.py", CHAIN)
    project.session().materialize()
    project.edit("assets.py", "return scale(a) * 2", "return scale(a) + scale(a)")
    session = project.session()
    plan = session.plan()
    assert steps(plan) == {
        "b": ("stale", ["code_changed"]),
        "c": ("pending", ["waits_on"]),
    }
    assert plan.step("b").reasons[0].changed == (f"{project.pkg}.assets:b",)  # type: ignore[union-attr]
    result = session.materialize()
    assert [str(k) for k in result.materialized] == ["b"]
    assert [str(k) for k in result.up_to_date] == ["c"]
    assert steps(session.plan()) == {}


def test_body_edit_mid_chain_with_changed_output_runs_downstream(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    project.session().materialize()
    project.edit("assets.py", "return scale(a) * 2", "return scale(a) * 3")
    session = project.session()
    result = session.materialize()
    assert [str(k) for k in result.materialized] == ["b", "c"]
    assert result.up_to_date == []
    assert session.load("c")["x"].tolist() == [4, 7, 10]  # type: ignore[index]
    assert steps(session.plan()) == {}


def test_docstring_comment_and_format_edit_changes_nothing(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    project.session().materialize()
    project.edit("assets.py", '"""B doubles a."""', '"""B: twice a, commented."""\n    # why')
    project.edit("assets.py", "return b + 1", "return (b\n            + 1)")
    assert steps(project.session().plan()) == {}


def test_metadata_edit_changes_nothing(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    project.session().materialize()
    project.edit(
        "assets.py", "@asset\ndef c(", '@asset(group="marts", tags={"daily"}, owners=["a"])\ndef c('
    )
    assert steps(project.session().plan()) == {}


def test_helper_edit_makes_its_callers_stale(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    project.session().materialize()
    project.edit("assets.py", "return df * 1", "return df * 1.0")
    plan = project.session().plan()
    assert steps(plan) == {
        "b": ("stale", ["code_changed"]),
        "c": ("pending", ["waits_on"]),
    }
    reason = plan.step("b").reasons[0]  # type: ignore[union-attr]
    assert reason.message == f"code changed ({project.pkg}.assets:scale)"


SOURCED = """
import pandas as pd
from assets_core import asset, source

raw = source("raw", path="raw.csv")

@asset
def clean(raw: pd.DataFrame) -> pd.DataFrame:
    return raw[raw.amount > 0]

@asset
def total(clean: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"amount": [clean.amount.sum()]})
"""


def test_source_file_change_makes_consumers_stale(project: ProjectDir) -> None:
    project.write("raw.csv", "id,amount\n1,10\n2,-1\n")
    project.write("assets.py", SOURCED)
    project.session().materialize()
    project.write("raw.csv", "id,amount\n1,10\n2,5\n")
    session = project.session()
    plan = session.plan()
    assert steps(plan) == {
        "clean": ("stale", ["source_changed"]),
        "total": ("pending", ["waits_on"]),
    }
    assert plan.explain("total") == "total ← clean: source raw changed"
    session.materialize()
    assert session.load("total")["amount"].tolist() == [15]  # type: ignore[index]


def test_source_rewritten_with_identical_bytes_changes_nothing(project: ProjectDir) -> None:
    project.write("raw.csv", "id,amount\n1,10\n2,-1\n")
    project.write("assets.py", SOURCED)
    project.session().materialize()
    project.write("raw.csv", "id,amount\n1,10\n2,-1\n")  # new mtime, same bytes
    assert steps(project.session().plan()) == {}


def test_source_change_that_filters_to_identical_data_is_cut_off(project: ProjectDir) -> None:
    project.write("raw.csv", "id,amount\n1,10\n2,-1\n")
    project.write("assets.py", SOURCED)
    project.session().materialize()
    project.write("raw.csv", "id,amount\n1,10\n2,-2\n")  # the negative row is filtered out
    result = project.session().materialize()
    assert [str(k) for k in result.materialized] == ["clean"]
    assert [str(k) for k in result.up_to_date] == ["total"]


DEPS = """
import pandas as pd
from assets_core import asset

@asset
def x() -> pd.DataFrame:
    return pd.DataFrame({"v": [1]})

@asset
def y() -> pd.DataFrame:
    return pd.DataFrame({"v": [2]})

@asset
def z(x: pd.DataFrame) -> pd.DataFrame:
    return x
"""


def test_dependency_added_and_removed(project: ProjectDir) -> None:
    project.write("assets.py", DEPS)
    project.session().materialize()
    project.edit(
        "assets.py",
        "def z(x: pd.DataFrame) -> pd.DataFrame:\n    return x",
        "def z(y: pd.DataFrame) -> pd.DataFrame:\n    return y",
    )
    plan = project.session().plan()
    assert steps(plan) == {"z": ("stale", ["code_changed", "deps_changed"])}
    assert plan.steps[0].reasons[1].message == "dependencies changed: +y -x"


def test_order_only_dependency_counts_for_staleness(project: ProjectDir) -> None:
    project.write(
        "assets.py",
        DEPS
        + '\n@asset(deps=["y"])\ndef w() -> pd.DataFrame:\n    return pd.DataFrame({"v": [0]})\n',
    )
    session = project.session()
    session.materialize()
    plan = session.plan(force=True, select="y")
    assert [str(k) for k in plan.keys] == ["y"]
    session.materialize(select="y", force=True)  # same data: w stays fresh
    assert steps(session.plan()) == {}
    project.edit("assets.py", '"v": [2]', '"v": [3]')
    plan = project.session().plan()
    assert steps(plan) == {"y": ("stale", ["code_changed"]), "w": ("pending", ["waits_on"])}


def test_unselected_stale_upstream_is_read_with_a_warning(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    project.session().materialize()
    project.edit("assets.py", "return scale(a) * 2", "return scale(a) * 3")
    project.edit("assets.py", "return b + 1", "return b + 2")
    session = project.session()
    plan = session.plan(select="c")
    assert steps(plan) == {"c": ("stale", ["code_changed"])}
    assert plan.warnings == (
        "b is stale (code changed (" + project.pkg + ".assets:b)) but not selected; its stored "
        "output will be read. Select +c to rebuild it too.",
    )
    session.materialize(select="c")
    assert session.load("c")["x"].tolist() == [4, 6, 8]  # type: ignore[index]  # old b, new c


def test_unselected_upstream_never_materialized_fails_before_running(
    project: ProjectDir,
) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    with pytest.raises(PlanError) as err:
        session.plan(select="c")
    assert str(err.value) == (
        "b has never been materialized and is not selected, but c needs it; "
        "select +c to build it too."
    )
    assert session.state.runs() == []


FAILING = """
import pandas as pd
from assets_core import asset

FAIL = True

@asset
def root() -> pd.DataFrame:
    return pd.DataFrame({"v": [1]})

@asset
def bad(root: pd.DataFrame) -> pd.DataFrame:
    if FAIL:
        raise ValueError("boom")
    return root

@asset
def after_bad(bad: pd.DataFrame) -> pd.DataFrame:
    return bad

@asset
def independent(root: pd.DataFrame) -> pd.DataFrame:
    return root + 1
"""


@pytest.mark.parametrize("executor", ["threads", "in-process"])
def test_failure_mid_graph(project: ProjectDir, executor: str) -> None:
    project.write("assets.py", FAILING)
    session = project.session()
    result = session.materialize(executor=executor)
    assert sorted(str(k) for k in result.materialized) == ["independent", "root"]
    assert [str(k) for k in result.failed] == ["bad"]
    assert [str(k) for k in result.skipped] == ["after_bad"]
    assert not result.success
    error = result.errors[result.failed[0]]
    assert error.startswith("bad: ValueError: boom\nTraceback (most recent call last):")
    assert 'raise ValueError("boom")' in error
    assert "assets_core" not in error  # the user's frames only
    assert steps(session.plan()) == {
        "bad": ("missing", ["never_materialized"]),
        "after_bad": ("missing", ["never_materialized", "waits_on"]),
    }
    project.edit("assets.py", "FAIL = True", "FAIL = False")
    result = project.session().materialize()
    assert [str(k) for k in result.materialized] == ["bad", "after_bad"]


def test_force_runs_everything_selected(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    session.materialize()
    plan = session.plan(select="b+", force=True)
    assert steps(plan) == {
        "b": ("forced", ["forced"]),
        "c": ("forced", ["forced", "waits_on"]),
    }
    result = session.materialize(select="b+", force=True)
    assert [str(k) for k in result.materialized] == ["b", "c"]


def test_output_deleted_outside_lumbung_is_missing(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    session = project.session()
    session.materialize()
    from assets_core.storage.io import OutputContext

    b = session.get("b")
    project.memory.delete(OutputContext(b.key, b.spec))
    plan = session.plan()
    assert steps(plan) == {
        "b": ("missing", ["output_missing"]),
        "c": ("pending", ["waits_on"]),
    }
    assert plan.steps[0].reasons[0].message == "output missing at memory://b"


def test_explain_follows_the_chain_to_the_root_cause(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    project.session().materialize()
    project.edit("assets.py", "return df * 1", "return df * 1.0")
    plan = project.session().plan()
    assert plan.explain("c") == f"c ← b: code changed ({project.pkg}.assets:scale)"
    assert plan.to_dict()["steps"][1] == {
        "key": "c",
        "partition": None,
        "status": "pending",
        "reasons": [{"code": "waits_on", "message": "waits on b", "upstream": "b"}],
    }


def test_unselected_stale_upstream_two_hops_away_is_warned(project: ProjectDir) -> None:
    project.write("assets.py", CHAIN)
    project.session().materialize()
    project.edit("assets.py", '"x": [1, 2, 3]', '"x": [1, 2, 4]')  # a, two hops above c
    project.edit("assets.py", "return b + 1", "return b + 2")
    plan = project.session().plan(select="c")
    assert steps(plan) == {"c": ("stale", ["code_changed"])}
    assert plan.warnings == (
        "a is stale (code changed (" + project.pkg + ".assets:a)) but not selected; its "
        "stored output will be read. Select +c to rebuild it too.",
    )


def test_a_fresh_plan_compares_stored_inputs_without_decoding_them(project: ProjectDir) -> None:
    """On a fresh project the planner compares each record's stored inputs text with the
    current versions encoded alike; a change still decodes and names the upstream."""
    project.write("assets.py", CHAIN)
    project.session().materialize()
    session = project.session()
    plan = session.plan()
    assert steps(plan) == {}
    read = [plan.last[StepKey(AssetKey.parse(k))].inputs for k in ("b", "c")]
    assert all(isinstance(i, EncodedInputs) and i._data is None for i in read)
    project.write("assets.py", CHAIN.replace("[1, 2, 3]", "[1, 2, 4]"))
    project.session().materialize(select="a")
    assert steps(project.session().plan()) == {
        "b": ("stale", ["upstream_changed"]),
        "c": ("pending", ["waits_on"]),
    }


def test_a_fresh_plan_keeps_when_each_step_last_ran(project: ProjectDir) -> None:
    """What a status shows of a fresh step (the web UI's end time) is in the plan, read with
    what planning compares, and stays there after the session is closed."""
    project.write("assets.py", CHAIN)
    project.session().materialize()
    session = project.session()
    recorded = session.state.latest()
    plan = session.plan()
    session.close()
    assert steps(plan) == {}
    for name in ("a", "b", "c"):
        step = StepKey(AssetKey.parse(name))
        last, was = plan.last[step], recorded[step].last
        assert was is not None and was.ended_at > 0
        assert (last.started_at, last.ended_at) == (was.started_at, was.ended_at)


FLAKY = """
import os
import pandas as pd
from assets_core import asset

@asset
def a() -> pd.DataFrame:
    if os.environ.get("LUMBUNG_TEST_FAIL_A"):
        raise RuntimeError("a flaky source")
    return pd.DataFrame({"x": [1, 2, 3]})

@asset
def b(a: pd.DataFrame) -> pd.DataFrame:
    return a * 2
"""


def test_an_asset_reading_nothing_stays_fresh_and_failed_after_a_failure_of_the_same_code(
    project: ProjectDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An asset with no upstream keeps no inputs in its record: it is fresh while its code
    and output are, and failed while its last attempt failed with that same code; its code
    changed, it is stale."""
    project.write("assets.py", FLAKY)
    project.session().materialize()
    plan = project.session().plan()
    assert steps(plan) == {}
    assert not plan.step("a").failed  # type: ignore[union-attr]
    monkeypatch.setenv("LUMBUNG_TEST_FAIL_A", "1")
    assert [str(k) for k in project.session().materialize(force=True).failed] == ["a"]
    monkeypatch.delenv("LUMBUNG_TEST_FAIL_A")
    plan = project.session().plan()
    assert steps(plan) == {}
    a, b = plan.step("a"), plan.step("b")
    assert a is not None and (a.status, a.failed) == ("fresh", True)
    assert b is not None and (b.status, b.failed) == ("fresh", False)
    project.edit("assets.py", '"x": [1, 2, 3]', '"x": [1, 2, 4]')
    assert steps(project.session().plan()) == {
        "a": ("stale", ["code_changed"]),
        "b": ("pending", ["waits_on"]),
    }
