"""Random sequences of edits, runs and kills, and the invariant that matters: every output
``plan`` calls fresh equals what its recorded code computes from its recorded inputs.

A long-lived session (as in a notebook) and ``lumbung materialize`` processes take turns on
one project while its modules are edited: between loading and running, right after an import,
and in the middle of a run that is then killed with SIGKILL. After each action a new session
(a new import of the files as they are now) plans the project; each asset it calls fresh has
the code it has now and reads the upstream outputs stored now (that is what fresh means), so
running its function on those inputs must give exactly its stored data version.

``LUMBUNG_EDIT_EXAMPLES`` sets how many sequences are tried (4 by default; 25 pass here in
about 45 s).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets_core import load_project
from assets_core.storage.datahash import data_version
from tests.reliability.harness import LUMBUNG, lumbung_env

MODULE = "edit_assets"
CODE = '''
"""Three assets in a chain; each sleeps a little, so a run can be killed in its middle."""

import time

import pandas as pd
from assets_core import asset

A = {a}
B = {b}
PAUSE = 0.02


@asset
def base() -> pd.DataFrame:
    time.sleep(PAUSE)
    return pd.DataFrame({{"v": [A, A + 1, A + 2]}})


@asset
def middle(base: pd.DataFrame) -> pd.DataFrame:
    time.sleep(PAUSE)
    return pd.DataFrame({{"v": base["v"] * B}})


@asset
def top(middle: pd.DataFrame) -> pd.DataFrame:
    time.sleep(PAUSE)
    return pd.DataFrame({{"v": middle["v"] + 1}})
'''

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), st.sampled_from(["a", "b"]), st.integers(1, 9)),
        st.tuples(st.just("session"), st.just(""), st.just(0)),
        st.tuples(st.just("cli"), st.just(""), st.just(0)),
        st.tuples(st.just("kill"), st.just(""), st.integers(0, 60)),
        st.tuples(st.just("edit_during_cli"), st.sampled_from(["a", "b"]), st.integers(1, 9)),
    ),
    min_size=3,
    max_size=7,
)


class World:
    """The project on disk, its current code, and a long-lived session over it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.values = {"a": 1, "b": 2}
        root.mkdir(parents=True, exist_ok=True)
        (root / "lumbung.toml").write_text(f'modules = ["{MODULE}"]\n')
        self.write()
        sys.modules.pop(MODULE, None)
        self.session = load_project(root)

    def write(self) -> None:
        (self.root / f"{MODULE}.py").write_text(textwrap.dedent(CODE.format(**self.values)))

    def edit(self, which: str, value: int) -> None:
        self.values[which] = value
        self.write()

    def cli(self, kill_after_ms: int | None = None, edit: tuple[str, int] | None = None) -> None:
        proc = subprocess.Popen(
            [*LUMBUNG, "materialize", "--executor", "threads"],
            cwd=self.root,
            env=lumbung_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        if edit is not None:  # saved while the command starts: importing, planning, running
            time.sleep(0.05 * edit[1])
            self.edit(*edit)
        if kill_after_ms is not None:
            time.sleep(0.3 + kill_after_ms / 1000)  # starting Python, importing pandas
            with contextlib.suppress(ProcessLookupError):  # it finished first
                os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        if kill_after_ms is None:
            assert proc.returncode == 0, err.decode()

    def check(self) -> None:
        """The invariant, read by a new session (a new import of the files as they are)."""
        sys.modules.pop(MODULE, None)
        with load_project(self.root) as fresh:
            plan = fresh.plan()
            running = {str(s.key) for s in plan.steps}
            latest = fresh.state.latest()
            for key, asset in fresh.defs.assets.items():
                if str(key) in running:
                    continue
                inputs = {p.name: fresh.load(asset.spec.ins[p.name]) for p in asset.params}
                computed = data_version(asset.run(inputs, None)).version
                stored = next(st.last for step, st in latest.items() if step.asset == key)
                assert stored is not None, key
                assert computed == stored.data_version, (key, self.values)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.filterwarnings("ignore::assets_core.session.ProjectReloaded")
@settings(
    max_examples=int(os.environ.get("LUMBUNG_EDIT_EXAMPLES", "4")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=ACTIONS)
def test_every_fresh_output_is_what_its_recorded_code_computes(
    tmp_path_factory: pytest.TempPathFactory, actions: list[tuple[str, str, int]]
) -> None:
    world = World(tmp_path_factory.mktemp("edits") / "project")
    try:
        world.session.materialize()
        world.check()
        for action, which, n in actions:
            if action == "edit":
                world.edit(which, n)  # between loading and running
            elif action == "session":
                world.session.materialize()
            elif action == "cli":
                world.cli()
            elif action == "kill":
                world.cli(kill_after_ms=n)
            else:  # a module saved while a command imports, plans or runs the project
                world.cli(edit=(which, n))
            world.check()
    finally:
        world.session.close()
