"""A symbolic link planted at the state file is refused by every command with one line and
exit 2; nothing is created where it points (issue 14, item 5: the state store's part)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assets_core.model.sql_cache import SQL_PARSE_CACHE
from tests.assets_core.cli.conftest import copy_example, run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")


@pytest.mark.parametrize("name", ["state.db", "state.db-wal"])
def test_a_link_at_the_state_file_is_one_line_and_exit_2(tmp_path: Path, name: str) -> None:
    project = copy_example(tmp_path / "p")
    storage = project / ".lumbung"
    storage.mkdir()
    target = tmp_path / "target"
    (storage / name).symlink_to(target)
    for command in (["plan"], ["materialize"]):
        done = run(command, project)
        assert done.code == 2, done.err
        assert done.err_lines == [
            f"error: {storage / name} is a symbolic link, and Lumbung never follows links in "
            "its storage folder; remove it (to keep the state it points to, move that file "
            "into its place)."
        ]
    assert not target.exists()
    # loading the project (before the state is opened) keeps its SQL files' parses
    assert sorted(p.name for p in storage.iterdir()) == sorted([name, SQL_PARSE_CACHE])
