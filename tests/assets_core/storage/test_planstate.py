"""``PlanState``: the rows a plan compares, and the ``StepState`` each step reads as."""

from __future__ import annotations

from pathlib import Path

from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.planstate import (
    CODE,
    DATA,
    FINGERPRINT,
    INPUTS,
    PlanState,
    StoredOutputs,
    plan_state,
    stored_outputs,
)
from assets_core.storage.sqlite import SQLiteStateStore
from assets_core.storage.state import (
    EncodedInputs,
    MaterializationRecord,
    RunRecord,
    StepState,
)

A, B = AssetKey(("a",)), AssetKey(("b",))
SA, B1, B2 = StepKey(A, None), StepKey(B, "2024-01-01"), StepKey(B, "2024-01-02")


def _record(step: StepKey, outcome: str = "materialized", **kw: object) -> MaterializationRecord:
    return MaterializationRecord(step, "r1", outcome, "c1", **kw)  # type: ignore[arg-type]


def test_rows_of_states_hold_what_planning_compares() -> None:
    inputs = EncodedInputs('{"a":"d1"}', {})
    good = _record(B1, data_version="d2", inputs=inputs, fingerprint="10:1")
    failed = _record(B2, "failed")
    states = {
        SA: StepState(_record(SA, data_version="d1"), "materialized", 1.0),
        B1: StepState(good, "materialized", 2.0),
        B2: StepState(None, "failed", 3.0, failed),
    }
    state = PlanState.of(states)
    row = state.rows(B)["2024-01-01"]
    assert (row[CODE], row[DATA], row[INPUTS], row[FINGERPRINT]) == (
        "c1",
        "d2",
        '{"a":"d1"}',
        "10:1",
    )
    assert state.rows(A)[None][INPUTS] is None  # read nothing
    assert state.rows(AssetKey(("c",))) == {}
    assert list(state.failed(B)) == ["2024-01-02"] and not state.failed(A)
    assert state.succeeded() == [SA, B1]
    assert state.version(B1) == "d2" and state.version(B2, "none") == "none"
    assert dict(state) == states and len(state) == 3
    assert state[B2] is states[B2] and state.get(StepKey(A, "x")) is None
    assert plan_state(state) is state


def test_inputs_kept_as_a_mapping_never_compare_as_text() -> None:
    # a record made in this process keeps its inputs as a dict: the planner compares them as
    # mappings (its rules), never as text
    rec = _record(SA, data_version="d1", inputs={StepKey(B, None): "d0"})
    row = PlanState.of({SA: StepState(rec, "materialized", 1.0)}).rows(A)[None]
    assert row[INPUTS].__class__ is not str and row[INPUTS] is not None


def test_a_sqlite_plan_state_makes_each_step_once_as_recorded(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.start_run(RunRecord("r1", 1.0))
    inputs = {SA: "d1"}
    store.record([_record(SA, data_version="d1", ended_at=1.5, location=str(tmp_path / "a"))])
    store.record([_record(B1, data_version="d2", inputs=inputs, fingerprint="10:1")])
    store.record([_record(B2, "failed", inputs=inputs, started_at=2.0)])
    state = store.latest(detail=False)
    assert isinstance(state, PlanState)
    row = state.rows(B)["2024-01-01"]
    assert (row[CODE], row[DATA], row[INPUTS], row[FINGERPRINT]) == (
        "c1",
        "d2",
        '{"a":"d1"}',
        "10:1",
    )
    assert list(state.failed(B)) == ["2024-01-02"]
    assert state.rows(B)["2024-01-02"][CODE] is None  # never succeeded
    assert sorted(state.succeeded()) == sorted([SA, B1])
    # what planning compares and the times a status shows, without the rest of the state
    # (not read: no query)
    bare = state[SA]
    assert bare.last is not None and bare.last.data_version == "d1"
    assert (bare.last.location, bare.last.ended_at, bare.last_outcome) == (None, 1.5, None)
    state.read_details([SA, B2, StepKey(A, "not recorded")])  # the rest, while the store is open
    made = state[SA]
    assert state[SA] is made  # made once
    assert made.last is not None and made.last.location == str(tmp_path / "a")
    assert made.last.ended_at == 1.5 and made.last_outcome == "materialized"
    assert state[B2].last_outcome == "failed"
    failure = state[B2].failure
    assert state[B2].last is None and failure is not None
    assert dict(failure.inputs) == inputs and failure.started_at == 2.0
    detailed = store.latest()
    state.read_details(list(state))
    assert {s: st.last_outcome for s, st in state.items()} == {
        s: st.last_outcome for s, st in detailed.items()
    }
    store.close()


def test_stored_outputs_keep_the_steps_found_by_asset() -> None:
    # managers' answers, by asset: what is stored, "" when stored without a fingerprint
    found = StoredOutputs({A: {None: ""}, B: {"2024-01-02": "10:1"}})
    assert dict(found) == {SA: "", B2: "10:1"}
    assert SA in found and B1 not in found and "a" not in found
    assert found.get(B1) is None and found[B2] == "10:1"
    assert found.of(B) == {"2024-01-02": "10:1"} and found.of(AssetKey(("c",))) == {}
    assert len(found) == 2
    assert stored_outputs(found) is found
    assert stored_outputs({B2: "10:1"}).of(B) == {"2024-01-02": "10:1"}


def test_the_steps_with_a_success_by_asset() -> None:
    states = {
        SA: StepState(_record(SA, data_version="d1"), "materialized", 1.0),
        B1: StepState(_record(B1, data_version="d2"), "materialized", 2.0),
        B2: StepState(None, "failed", 3.0, _record(B2, "failed")),
    }
    assert PlanState.of(states).succeeded_by_asset() == {A: [None], B: ["2024-01-01"]}


def test_the_rest_of_a_few_steps_is_read_by_step_and_of_many_by_asset(tmp_path: Path) -> None:
    store = SQLiteStateStore(tmp_path / "state.db")
    store.start_run(RunRecord("r1", 1.0))
    days = [f"2024-01-{d:02d}" for d in range(1, 21)]
    store.record(
        [_record(StepKey(B, d), data_version=d, location=f"memory://{d}") for d in days]
        + [_record(SA, data_version="a", location="memory://a")]
    )

    def locations(state: PlanState) -> dict[StepKey, str | None]:
        return {s: st.last.location for s, st in state.items() if st.last is not None}

    # a few of an asset's steps: those steps alone, by step (no others, no other asset)
    few = store.latest(detail=False)
    assert isinstance(few, PlanState)
    few.read_details([StepKey(B, days[3]), StepKey(B, days[7])])
    assert {s: where for s, where in locations(few).items() if where} == {
        StepKey(B, days[3]): f"memory://{days[3]}",
        StepKey(B, days[7]): f"memory://{days[7]}",
    }
    # many of them: the whole asset is read (the others' rest is there too), still no other
    many = store.latest(detail=False)
    assert isinstance(many, PlanState)
    many.read_details([StepKey(B, d) for d in days[:5]])
    found = locations(many)
    assert all(found[StepKey(B, d)] == f"memory://{d}" for d in days)
    assert found[SA] is None
    store.close()
