"""``lumbung unlock``: it lists the runs holding locks and what is known of each one's
process, asks before releasing (refuses without a terminal unless given ``--yes``), never
unlocks a run alive on this machine, and needs only the project's config. After it, a run
that was refused by a lock held from another machine goes ahead."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.sqlite import open_state_store
from assets_core.storage.state import RunRecord
from tests.assets_core.cli.conftest import Result, copy_example, run

ORDERS, PAYMENTS = StepKey(AssetKey.parse("stg_orders")), StepKey(AssetKey.parse("stg_payments"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "p")


def _lock_from_far_away(project: Path) -> None:
    """Run ``far`` holds two locks from another machine (whose death cannot be told here)."""
    with open_state_store(project / ".lumbung") as store:
        store.start_run(RunRecord("far", 1.0, pid=4242))
        assert store.acquire_locks("far", [ORDERS, PAYMENTS], 4242) == []
    con = sqlite3.connect(project / ".lumbung" / "state.db")
    con.execute(
        "UPDATE locks SET host = 'build-7', boot_id = 'another-machine', pid_ns = NULL, "
        "started = NULL, acquired_at = 0"
    )
    con.commit()
    con.close()


def _locks(project: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(project / ".lumbung" / "state.db")
    try:
        return con.execute("SELECT key, run_id FROM locks ORDER BY key").fetchall()
    finally:
        con.close()


def test_nothing_to_unlock(project: Path) -> None:
    res = run(["unlock"], project)
    assert (res.code, res.out, res.err) == (0, "Nothing to unlock: no run holds a lock.\n", "")


def test_a_lock_from_another_machine_is_released_only_when_confirmed(project: Path) -> None:
    _lock_from_far_away(project)
    refused = run(["materialize", "-s", "stg_orders", "--no-wait"], project)
    assert refused.code == 1 and "run far (pid 4242) holds 1 selected asset" in refused.err

    res = run(["unlock"], project)
    assert res.code == 2
    assert res.out.splitlines()[0] == "run far holds 2 locks (stg_orders, stg_payments)"
    assert res.out.splitlines()[1].endswith(
        "; pid 4242 on host build-7, another machine: whether it lives cannot be told from here"
    )
    assert res.err_lines == [
        "error: unlock needs confirmation; pass --yes to release 2 locks of run far."
    ]
    assert len(_locks(project)) == 2

    res = run(["unlock", "--run", "far", "--yes"], project)
    assert res.code == 0, res.err
    assert res.out.splitlines()[-1] == "Released 2 locks of run far."
    assert _locks(project) == []
    with open_state_store(project / ".lumbung") as store:
        assert [r.status for r in store.runs()] == ["interrupted"]
    done = run(["materialize", "-s", "stg_orders", "--no-wait"], project)
    assert done.code == 0, done.err


HOLD = """
import os, sys, time
from pathlib import Path
from assets_core.model.keys import AssetKey, StepKey
from assets_core.storage.sqlite import open_state_store
store = open_state_store(Path(sys.argv[1]))
assert store.acquire_locks("live", [StepKey(AssetKey.parse("stg_orders"))], os.getpid()) == []
print("holding", flush=True)
time.sleep(600)
"""


def test_a_run_alive_on_this_machine_is_never_unlocked(project: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(project / ".lumbung")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
        res = run(["unlock", "--run", "live", "--yes"], project)
        assert res.code == 1
        assert res.out.splitlines()[1].endswith(
            f"; pid {proc.pid} on this machine, alive: left alone"
        )
        assert res.err_lines == [
            f"error: run live is alive on this machine (pid {proc.pid}); stop it rather than "
            "unlock it: its locks are released when it ends."
        ]
        res = run(["unlock", "--yes"], project)
        assert res.code == 0
        assert res.out.splitlines()[-1] == (
            "Nothing to unlock: every run holding locks is alive on this machine."
        )
        assert _locks(project) == [("stg_orders", "live")]
    finally:
        proc.kill()
        proc.wait()


def test_a_project_that_does_not_import_can_be_unlocked(project: Path) -> None:
    _lock_from_far_away(project)
    (project / "example_project").mkdir(exist_ok=True)
    for module in project.rglob("*.py"):
        module.write_text("raise RuntimeError('broken')\n")
    res = run(["unlock", "--yes"], project)
    assert res.code == 0, res.err
    assert _locks(project) == []


def _on_a_terminal(project: Path, answer: str) -> Result:
    pty = pytest.importorskip("pty")
    try:
        controller, terminal = pty.openpty()
    except OSError:  # pragma: no cover - no pseudo-terminals here
        pytest.skip("no pseudo-terminal available")
    try:
        os.write(controller, answer.encode() + b"\n")
        return run(["unlock"], project, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


def test_on_a_terminal_it_asks_first(project: Path) -> None:
    _lock_from_far_away(project)
    no = _on_a_terminal(project, "n")
    assert no.code == 0, no.err
    assert "Release 2 locks of run far? [y/N]: " in no.out
    assert no.out.endswith("Nothing was released.\n")
    assert len(_locks(project)) == 2
    yes = _on_a_terminal(project, "y")
    assert yes.code == 0, yes.err
    assert yes.out.endswith("[y/N]: Released 2 locks of run far.\n")
    assert _locks(project) == []
