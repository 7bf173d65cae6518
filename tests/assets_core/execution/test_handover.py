"""Values handed over in memory within a run: given to readers that ask for the kind a value
already is, only when reading it back would give an equal value, released after the last
reader, never past the budget, and never across processes. Data versions are unchanged."""

from __future__ import annotations

import sys

import pandas as pd
import pyarrow as pa
import pytest

from assets_core.execution.handover import Handover, parse_size
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.values import round_trips
from tests.conftest import ProjectDir

PROJECT = """
import pandas as pd
import pyarrow as pa
from assets_core import asset

SEEN = {}

@asset
def plain() -> pd.DataFrame:
    frame = pd.DataFrame({"v": [1, 2, 3]})
    SEEN["plain"] = frame
    return frame

@asset
def filtered() -> pd.DataFrame:
    frame = pd.DataFrame({"v": [1, 2, 3, 4]})
    frame = frame[frame.v % 2 == 0]  # index 1, 3: not what reading back gives
    SEEN["filtered"] = frame
    return frame

@asset
def table() -> pa.Table:
    t = pa.table({"v": [1, 2]})
    SEEN["table"] = t
    return t

@asset
def reader(plain: pd.DataFrame, filtered: pd.DataFrame, table: pa.Table) -> pd.DataFrame:
    SEEN["reader"] = (plain, filtered, table)
    return pd.DataFrame({"n": [len(plain) + len(filtered) + table.num_rows]})

@asset
def as_arrow(plain: pa.Table) -> pa.Table:
    SEEN["as_arrow"] = plain
    return plain
"""


def _run(project: ProjectDir, **kwargs: object) -> dict[str, object]:
    project.write("assets.py", PROJECT)
    session = project.session(default_io_manager="parquet")
    try:
        result = session.materialize(**kwargs)  # type: ignore[arg-type]
        assert result.success, result.errors
        seen = sys.modules[f"{project.pkg}.assets"].SEEN
        versions = {str(r.key): r.data_version for r in session.state.history() if r.data_version}
        return {"seen": seen, "versions": versions}
    finally:
        session.close()


@pytest.mark.parametrize("executor", ["threads", "in-process"])
def test_readers_get_the_stored_value_itself_when_it_round_trips(
    project: ProjectDir, executor: str
) -> None:
    got = _run(project, executor=executor)
    seen = got["seen"]
    assert isinstance(seen, dict)
    plain, filtered, table = seen["reader"]
    assert plain is seen["plain"]  # handed over
    assert table is seen["table"]
    assert filtered is not seen["filtered"]  # its index would differ: read back
    assert list(filtered.index) == [0, 1]
    assert seen["as_arrow"] is not seen["plain"]  # another kind: read back as Arrow
    assert isinstance(seen["as_arrow"], pa.Table)


def test_no_budget_reads_everything_back_with_the_same_data_versions(
    project: ProjectDir,
) -> None:
    handed = _run(project, executor="in-process")
    project.storage = project.base / "other"
    read_back = _run(project, executor="in-process", memory_budget=0)
    seen = read_back["seen"]
    assert isinstance(seen, dict)
    assert seen["reader"][0] is not seen["plain"]
    assert handed["versions"] == read_back["versions"]


def test_a_value_is_released_after_its_last_reader() -> None:
    a, b = StepKey(AssetKey.parse("a")), StepKey(AssetKey.parse("b"))
    handover = Handover(budget=1 << 20)
    handover.expect({a: 2})
    frame = pd.DataFrame({"v": [1, 2]})
    handover.offer(a, frame)
    handover.offer(b, frame)  # no reader: not kept
    assert handover.held_bytes == 16
    assert handover.take(a, "pandas") is frame
    assert handover.take(a, "arrow") is None
    assert handover.take(b, "pandas") is None
    handover.finished((a,))
    assert handover.take(a, "pandas") is frame
    handover.finished((a,))
    assert handover.take(a, "pandas") is None
    assert handover.held_bytes == 0


def test_the_budget_is_never_exceeded() -> None:
    a, b = StepKey(AssetKey.parse("a")), StepKey(AssetKey.parse("b"))
    handover = Handover(budget=100)
    handover.expect({a: 1, b: 1})
    handover.offer(a, pd.DataFrame({"v": list(range(10))}))  # 80 bytes
    handover.offer(b, pd.DataFrame({"v": list(range(10))}))  # would make 160
    assert handover.take(a, "pandas") is not None
    assert handover.take(b, "pandas") is None
    assert handover.held_bytes == 80


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, None]}), True),
        (pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-01-02"])}), True),
        (pd.DataFrame({"a": [1, 2]}, index=[5, 6]), False),
        (pd.DataFrame({"a": [1, 2]}).set_index("a"), False),
        (pd.DataFrame({"a": pd.Categorical(["x", "y"])}), False),
        (pd.DataFrame({"a": [{"k": 1}, {"k": 2}]}), False),
        (pd.DataFrame({1: [1, 2]}), False),
        (pd.DataFrame({"a": [1, 2], "b": [3, 4]}), True),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), False),  # a name twice
        (pd.DataFrame({"a": [1, 2]}).rename_axis("i"), False),  # a named index
        (pd.DataFrame({"a": [1, 2], 1: ["x", "y"]}), False),  # one name not text
        (pd.DataFrame({"a": [1, 2], "b": pd.Categorical(["x", "y"])}), False),  # one dtype
        (pa.table({"a": [1, 2], "s": ["x", "y"]}), True),
        (pa.table({"a": pa.array([1, 2], pa.uint64())}), False),
        (pa.table({"d": pa.array([1, 2], pa.date64())}), False),
        (pa.record_batch({"a": [1]}), False),
    ],
)
def test_what_counts_as_round_tripping(value: object, expected: bool) -> None:
    assert round_trips(value) is expected


def test_a_frame_with_attrs_does_not_round_trip() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    frame.attrs["source"] = "x"  # Parquet keeps no attrs
    assert round_trips(frame) is False


def test_sizes() -> None:
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("2 GB") == 2 * 10**9
    assert parse_size("1000") == 1000
    with pytest.raises(ValueError, match="is not a size"):
        parse_size("lots")
