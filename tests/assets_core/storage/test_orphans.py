"""``find_orphans`` and ``remove_orphans`` on real stores: what counts as an orphan, what is
never one, and what removing one forgets. The command around them is tested through
``lumbung`` in ``tests/assets_core/cli/test_wipe_orphans.py``."""

from __future__ import annotations

from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from assets_core.storage.io import MemoryIOManager, OutputContext
from assets_core.storage.orphans import Orphan, find_orphans, remove_orphans
from tests.conftest import ProjectDir

ASSETS = """
import pandas as pd
from assets_core import asset

@asset
def a() -> pd.DataFrame:
    return pd.DataFrame({"x": [1]})

@asset
def b(a: pd.DataFrame) -> pd.DataFrame:
    return a

@asset
def c(a: pd.DataFrame) -> pd.DataFrame:
    return a
"""


class Placeless(MemoryIOManager):
    """A manager that cannot say where it stores (no ``location``)."""

    location = None  # type: ignore[assignment]


def test_a_key_now_a_source_and_a_key_that_only_failed(project: ProjectDir) -> None:
    from assets_core.storage.state import MaterializationRecord

    project.write("assets.py", ASSETS)
    with project.session() as session:
        session.materialize()
        session.state.record([MaterializationRecord(StepKey(AssetKey(["z"])), "r", "failed")])
    project.write(
        "assets.py",
        ASSETS.replace("@asset\ndef c(a: pd.DataFrame) -> pd.DataFrame:\n    return a\n", "")
        + '\nfrom assets_core import source\nb = source("b", path="b.csv")\n'
        "\n@asset\ndef d(b) -> pd.DataFrame:\n    return b\n",
    )
    (project.dir / "b.csv").write_text("x\n1\n")
    with project.session() as session:
        found = find_orphans(session.defs, session.io, session.state)
        assert found == [
            Orphan(StepKey(AssetKey(["b"])), "memory://b", "memory", "output", "now a source"),
            Orphan(StepKey(AssetKey(["c"])), "memory://c", "memory", "output", "no longer defined"),
            Orphan(StepKey(AssetKey(["z"])), None, None, "records", "no longer defined"),
        ]
        done = remove_orphans(found, session.defs, session.io, session.state)
        assert (len(done.removed), done.problems) == (3, ())
        assert session.state.recorded_keys() == {AssetKey(["a"])}
        c = AssetKey(["c"])
        assert not project.memory.exists(OutputContext(c, AssetSpec(c)))
        assert project.memory.exists(OutputContext(AssetKey(["a"]), AssetSpec(AssetKey(["a"]))))
        assert find_orphans(session.defs, session.io, session.state) == []


def test_an_asset_whose_manager_cannot_say_where_has_no_orphans(project: ProjectDir) -> None:
    project.write("assets.py", ASSETS)
    with project.session() as session:
        session.materialize()
    managers = {"memory": Placeless()}
    with project.session(io_managers=managers) as session:
        assert find_orphans(session.defs, session.io, session.state) == []
