"""Read-only commands never wait on the DuckDB warehouse; a wait says who it waits for.

**The guarantee.** DuckDB lets many processes open a file read-only, or one open it
read-write. ``plan``, ``list`` and ``show`` open the warehouse read-only:

- beside a notebook reading it (a read-only connection), they answer at once, and still see a
  table changed by hand (its fingerprint is read through their own read-only opening);
- beside a process writing it (a run, a notebook's read-write connection), they do not wait:
  they answer from the state store, taking its tables as last recorded, and say so in one
  ``note:`` line naming the holder's pid and command line;
- ``materialize`` needs to write, so it waits for the file (up to 30 s), and says once on
  stderr who holds it and how long it will wait; when the wait runs out, its one error line
  names the holder and the fix, exit 2.

Every case runs the real ``lumbung`` command beside a real process holding the file, on a copy
of a small built project: ``orders`` (Parquet) feeds ``revenue`` (DuckDB), which feeds
``report`` (Parquet).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from tests.assets_core.cli.conftest import LUMBUNG, Result, _env, run
from tests.reliability.mixed_project import WAREHOUSE, build

#: a notebook: opens the warehouse (``ro``: read-only) and holds it until stdin closes
NOTEBOOK = """\
import sys
import duckdb

con = duckdb.connect(sys.argv[2], read_only=sys.argv[1] == "ro")
print("ready", flush=True)
sys.stdin.read()
"""
#: how long a read-only command may take, here: starting Python and importing the project
#: (a second or two), well under the 30 s a wait on the warehouse would last
PROMPT = 15.0


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("warehouse_readers") / "project"
    build(root)
    (root / "notebook.py").write_text(NOTEBOOK)
    return root


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(base, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


class Notebook:
    """A process holding the warehouse, started with a short command line (``python
    notebook.py ro .lumbung/warehouse.duckdb``) so the line naming it is known here."""

    def __init__(self, root: Path, mode: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "notebook.py", mode, WAREHOUSE],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.popen.stdout is not None
        assert self.popen.stdout.readline().strip() == "ready"
        self.pid = self.popen.pid
        self.holder = f"pid {self.pid} ({Path(sys.executable).name} notebook.py {mode} {WAREHOUSE})"

    def close(self) -> None:
        """Close the connection, as a notebook's kernel ending does."""
        if self.popen.poll() is None:
            assert self.popen.stdin is not None
            self.popen.stdin.close()
            self.popen.wait(timeout=30)


@pytest.fixture
def notebook() -> Iterator[Callable[[Path, str], Notebook]]:
    started: list[Notebook] = []

    def start(root: Path, mode: str) -> Notebook:
        book = Notebook(root, mode)
        started.append(book)
        return book

    yield start
    for book in started:
        book.popen.kill()
        book.popen.wait()


def timed(args: list[str], root: Path) -> tuple[Result, float]:
    t0 = time.monotonic()
    res = run(args, root)
    return res, time.monotonic() - t0


def _answers(root: Path) -> dict[str, Result]:
    """``plan``, ``list``, ``show revenue`` and ``materialize --dry-run``, each a ``lumbung``
    process, each prompt."""
    found = {}
    for args in (["plan"], ["list"], ["show", "revenue"], ["materialize", "--dry-run"]):
        res, took = timed(args, root)
        assert res.code == 0, res.err
        assert took < PROMPT, f"lumbung {' '.join(args)} took {took:.1f}s"
        found[args[0]] = res
    return found


def _hand_edit(root: Path) -> None:
    """Add a row to ``revenue``'s table, as someone in a notebook might."""
    con = duckdb.connect(str(root / WAREHOUSE))
    con.execute("INSERT INTO revenue VALUES (4, 8)")
    con.close()


def test_read_only_commands_answer_at_once_beside_a_notebook_reading(
    project: Path, notebook: Callable[[Path, str], Notebook]
) -> None:
    notebook(project, "ro")
    found = _answers(project)
    assert found["plan"].out == "Nothing to do: 3 selected assets are fresh.\n"
    assert found["materialize"].out == found["plan"].out
    assert found["list"].out.splitlines()[-1] == "4 assets: 3 fresh, 1 source"
    assert "  status:         fresh\n" in found["show"].out
    for res in found.values():
        assert res.err == ""  # no wait, no note


def test_hand_edits_are_seen_through_a_read_only_opening(
    project: Path, notebook: Callable[[Path, str], Notebook]
) -> None:
    _hand_edit(project)
    notebook(project, "ro")
    found = _answers(project)
    location = f"{project / WAREHOUSE}::main.revenue"
    assert found["plan"].out.splitlines()[1].split() == [
        "stale",
        "revenue",
        "output",
        location,
        "changed",
        "since",
        "it",
        "was",
        "written",
    ]
    assert found["list"].out.splitlines()[-1] == "4 assets: 1 fresh, 2 stale, 1 source"
    assert found["materialize"].out.startswith("Would materialize 2 assets:\n")
    for res in found.values():
        assert res.err == ""


def test_read_only_commands_answer_from_the_state_store_beside_a_writer(
    project: Path, notebook: Callable[[Path, str], Notebook]
) -> None:
    """A writer keeps the file from being opened at all: the answer is the state store's, as
    last recorded (a hand edit the writer made is not seen), and one note says so."""
    book = notebook(project, "rw")
    found = _answers(project)
    note = (
        f"note: {project / WAREHOUSE} is held for writing by {book.holder}, so its tables "
        "were not checked for changes made by hand; their statuses are as last recorded.\n"
    )
    assert found["plan"].out == "Nothing to do: 3 selected assets are fresh.\n"
    assert found["materialize"].out == found["plan"].out
    assert found["list"].out.splitlines()[-1] == "4 assets: 3 fresh, 1 source"
    assert "  status:         fresh\n" in found["show"].out
    for res in found.values():
        assert res.err == note  # once, however often the command plans
    book.close()
    res = run(["plan"], project)  # the writer gone, the file is read again
    assert (res.code, res.out, res.err) == (0, "Nothing to do: 3 selected assets are fresh.\n", "")


def test_materialize_says_who_it_waits_for(
    project: Path, notebook: Callable[[Path, str], Notebook]
) -> None:
    """Writing needs the file to itself: beside a notebook reading it, ``materialize`` waits,
    says once on stderr who holds the file and for how long it will wait, and runs as soon as
    the notebook lets go."""
    book = notebook(project, "ro")
    proc = subprocess.Popen(
        [*LUMBUNG, "materialize", "-s", "revenue", "--force"],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the wait is said (after a second)
        assert line == f"waiting up to 30 s for {project / WAREHOUSE}, held by {book.holder}…\n"
        book.close()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "1 materialized" in out
    assert "waiting" not in err  # said once


@pytest.mark.slow
def test_materialize_gives_up_after_30_s_naming_the_holder(
    project: Path, notebook: Callable[[Path, str], Notebook]
) -> None:
    book = notebook(project, "ro")
    res = run(["materialize", "-s", "revenue", "--force"], project)
    path = project / WAREHOUSE
    assert res.code == 2
    assert res.err_lines == [
        f"waiting up to 30 s for {path}, held by {book.holder}…",
        f"error: {path} is held read-only by {book.holder} after 30 s; close that process's "
        "connection to it, or let it finish, then run the command again.",
    ]


def test_a_read_only_session_in_python(
    project: Path, notebook: Callable[[Path, str], Notebook]
) -> None:
    """``load_project(read_only=True)``, as a notebook would open one beside a run: it plans,
    keeps its notes in ``Session.notes``, and refuses to materialize."""
    from assets_core.errors import ProjectError
    from assets_core.session import load_project

    book = notebook(project, "rw")
    with load_project(project, read_only=True) as session:
        assert {str(k): s.status for k, s in session.statuses().items()} == {
            "orders": "fresh",
            "revenue": "fresh",
            "report": "fresh",
        }
        assert session.notes == [
            f"{project / WAREHOUSE} is held for writing by {book.holder}, so its tables were "
            "not checked for changes made by hand; their statuses are as last recorded."
        ]
        with pytest.raises(ProjectError) as err:
            session.materialize()
        assert str(err.value) == (
            "this session was opened read-only (read_only=True), so it cannot materialize; "
            "open one without read_only."
        )


def test_an_asset_moved_out_of_the_warehouse_beside_a_writer(
    project: Path, notebook: Callable[[Path, str], Notebook]
) -> None:
    """``revenue`` moved from DuckDB to Parquet: whether its old table is left is the
    warehouse's to say, and a writer holds it, so it is taken as last recorded (left)."""
    from assets_core.session import load_project

    assets = project / "assets.py"
    assets.write_text(assets.read_text().replace('@asset(io_manager="duckdb")', "@asset"))
    book = notebook(project, "rw")
    with load_project(project, read_only=True) as session:
        plan = session.plan()
        step = plan.step(session.get("revenue").key)
        assert step is not None and [(r.code, r.old, r.new) for r in step.reasons] == [
            ("io_manager_changed", "duckdb", "parquet")
        ]
        assert "is left" in step.reasons[0].message
        assert session.notes == [
            f"{project / WAREHOUSE} is held for writing by {book.holder}, so its tables were "
            "not checked for changes made by hand; their statuses are as last recorded."
        ]
