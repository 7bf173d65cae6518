"""Command assets: a shell command as a step, versioned by the command and the files it names,
its data version by its outputs' content (or its stdout), its lines kept in the step's logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_core.errors import DefinitionError
from assets_core.model.project import find_project, load_definitions
from assets_core.session import load_project

ASSETS = """\
import pandas as pd
from assets_core import asset, command_asset
from assets_core.partitions import daily


@asset
def orders() -> pd.DataFrame:
    return pd.DataFrame({"n": [1, 2]})


export = command_asset(
    "export",
    cmd=["bash", "scripts/export.sh", "{partition}"],
    deps=["orders"],
    outputs=["out/export-{partition}.csv"],
    partitions=daily(start="2024-01-01", end="2024-01-03"),
)
version = command_asset("version", cmd=["bash", "-c", "echo v1"])
"""

SCRIPT = """\
mkdir -p out
echo "exporting $1"
echo "day,$1" > "out/export-$1.csv"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "export.sh").write_text(SCRIPT)
    (root / "lumbung.toml").write_text("")
    (root / "assets.py").write_text(ASSETS)
    return root


def _run(root: Path, select: str) -> tuple[list[str], str]:
    with load_project(root) as session:
        result = session.materialize(select, on_log=None)
        built = sorted(str(s) for s in result.materialized)
        return built, result.run_id


def test_a_command_asset_runs_per_partition_and_is_versioned_by_its_script(project: Path) -> None:
    built, run_id = _run(project, "+export")
    assert built == ["export[2024-01-01]", "export[2024-01-02]", "orders"]
    assert (project / "out" / "export-2024-01-02.csv").read_text() == "day,2024-01-02\n"
    with load_project(project) as session:
        assert [x.message for x in session.state.logs(run_id) if x.stream == "stdout"] == [
            "exporting 2024-01-01",
            "exporting 2024-01-02",
        ]
        assert session.get("export").kind == "command"
        assert not session.plan("export")
    script = project / "scripts" / "export.sh"
    script.write_text(SCRIPT + "# edited\n")
    with load_project(project) as session:
        plan = session.plan("export")
        assert {r.code for s in plan.steps for r in s.reasons} == {"code_changed"}


def test_its_data_version_follows_its_outputs_or_its_stdout(project: Path) -> None:
    _run(project, "+export version")
    with load_project(project) as session:
        first = {str(r.step): r.data_version for r in session.state.history(limit=100)}
        session.materialize("+export version", force=True, on_log=None)
        again = {str(r.step): r.data_version for r in session.state.history(limit=100)}
    assert first == again  # same outputs, same stdout: same data versions
    (project / "assets.py").write_text(ASSETS.replace("echo v1", "echo v2"))
    _run(project, "version")
    with load_project(project) as session:
        [latest, previous] = [r.data_version for r in session.state.history("version")][:2]
    assert latest != previous


def test_a_non_zero_exit_fails_the_step_with_the_tail_of_its_stderr(project: Path) -> None:
    (project / "scripts" / "export.sh").write_text(
        "echo one >&2\necho 'no disk left' >&2\nexit 3\n"
    )
    with load_project(project) as session:
        result = session.materialize("+export", partitions="2024-01-01", on_log=None)
    assert [str(s) for s in result.failed] == ["export[2024-01-01]"]
    [error] = result.errors.values()
    assert error.startswith(
        "export[2024-01-01]: CommandFailed: `bash scripts/export.sh 2024-01-01` exited with 3; "
        "its stderr ends:\none\nno disk left\n"
    ), error


def test_a_partition_placeholder_without_partitions_is_a_definition_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "lumbung.toml").write_text("")
    (tmp_path / "assets.py").write_text(
        "from assets_core import command_asset\n"
        'x = command_asset("x", cmd=["echo", "{partition}"])\n'
    )
    with pytest.raises(DefinitionError) as caught:
        load_definitions(find_project(tmp_path))
    assert str(caught.value) == (
        "x (assets.py:2): {partition} is used but the asset has no partitions; pass partitions=."
    )
