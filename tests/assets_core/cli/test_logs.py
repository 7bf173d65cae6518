"""Logs are kept: what assets log, print and warn is shown live prefixed with the asset
(warnings by default, every line with ``--verbose``), kept with the run on every executor, and
printed by ``lumbung logs RUN_ID [ASSET]``; a failed asset's note points there."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import run, run_sequence

ASSETS = textwrap.dedent(
    """
    import sys
    import time
    import warnings

    import pandas as pd
    from assets_core import asset


    def chatter(context, name):
        for i in range(40):
            print(f"{name} out {i}")
            context.log.info("%s info %d", name, i)
            if i % 10 == 0:
                time.sleep(0.002)  # let the other asset's thread run meanwhile


    @asset
    def left(context):
        chatter(context, "left")
        context.log.warning("left is careful")
        return pd.DataFrame({"v": [1]})


    @asset
    def right(context):
        chatter(context, "right")
        print("right to stderr", file=sys.stderr)
        warnings.warn("right warns")
        return pd.DataFrame({"v": [2]})


    @asset
    def broken(context, left: pd.DataFrame):
        context.log.info("about to fail")
        print("half a line", end="")
        raise ValueError("boom")
    """
)
#: the line of ``warnings.warn`` in ASSETS
WARN_LINE = ASSETS.splitlines().index('    warnings.warn("right warns")') + 1


def _project(tmp_path: Path) -> Path:
    (tmp_path / "lumbung.toml").write_text('modules = ["assets"]\n')
    (tmp_path / "assets.py").write_text(ASSETS)
    return tmp_path


def _chatter(name: str) -> list[str]:
    return [
        line
        for i in range(40)
        for line in (f"{name} | {name} out {i}", f"{name} | INFO: {name} info {i}")
    ]


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_lines_are_shown_live_kept_and_printed_by_logs(tmp_path: Path, executor: str) -> None:
    root = _project(tmp_path)
    built = run(["materialize", "-e", executor, "-w", "4"], root)
    assert built.code == 1, built.err
    warning = f"right | WARNING: assets.py:{WARN_LINE}: UserWarning: right warns"
    live = [line for line in built.err_lines if " | " in line]
    # by default only warnings, errors and stderr, each prefixed with its asset
    assert sorted(live) == sorted(
        ["left | WARNING: left is careful", "right | right to stderr", warning]
    )
    (note,) = [line for line in built.err_lines if "lumbung logs" in line]
    found = re.fullmatch(r"  see: lumbung logs (\S+) broken  \(2 lines of output\)", note)
    assert found, built.err
    run_id = found.group(1)
    assert "lumbung logs" not in built.out

    whole, left, broken, as_json = run_sequence(
        [
            (["logs", run_id[:-2]], root),  # a prefix that names one run
            (["logs", run_id, "left"], root),
            (["logs", "last", "broken"], root),
            (["logs", "last", "right", "--json"], root),
        ]
    )
    assert left.code == 0, left.err
    assert left.out.splitlines() == [*_chatter("left"), "left | WARNING: left is careful"]
    assert broken.out.splitlines() == ["broken | INFO: about to fail", "broken | half a line"]
    assert whole.code == 0, whole.err
    expected = [
        "broken | INFO: about to fail",
        "broken | half a line",
        *_chatter("left"),
        "left | WARNING: left is careful",
        *_chatter("right"),
        "right | right to stderr",
        warning,
    ]
    assert whole.out.splitlines() == expected  # each asset's lines, and only its own
    data = json.loads(as_json.out)
    assert data["run_id"] == run_id
    assert data["lines"][-2:] == [
        {
            "key": "right",
            "partition": None,
            "seq": 80,
            "at": data["lines"][-2]["at"],
            "stream": "stderr",
            "level": None,
            "message": "right to stderr",
        },
        {
            "key": "right",
            "partition": None,
            "seq": 81,
            "at": data["lines"][-1]["at"],
            "stream": "log",
            "level": "WARNING",
            "message": f"assets.py:{WARN_LINE}: UserWarning: right warns",
        },
    ]
    assert [x["seq"] for x in data["lines"]] == list(range(82))


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_verbose_shows_every_line_live(tmp_path: Path, executor: str) -> None:
    root = _project(tmp_path)
    built = run(["materialize", "-e", executor, "-s", "left", "--verbose"], root)
    assert built.code == 0, built.err
    live = [line for line in built.err_lines if " | " in line]
    assert live == [*_chatter("left"), "left | WARNING: left is careful"]
    assert built.out.splitlines()[0] == "materialized  left  " + built.out.split()[2]


def test_bad_run_ids_and_assets_are_one_line_and_exit_2(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (none_yet,) = run_sequence([(["logs", "last"], root)])
    assert (none_yet.code, none_yet.err_lines) == (
        2,
        ["error: no runs yet; `lumbung materialize` makes one."],
    )
    for _ in range(2):
        assert run(["materialize", "-s", "left", "--force"], root).code == 0
    runs = json.loads(run(["history", "--json"], root).out)["runs"]
    ids = [r["run_id"] for r in runs]
    unknown, ambiguous, asset, quiet = run_sequence(
        [
            (["logs", "nope"], root),
            (["logs", "2"], root),
            (["logs", "last", "lefty"], root),
            (["logs", ids[0], "right"], root),
        ]
    )
    assert (unknown.code, unknown.err_lines) == (
        2,
        ["error: no run 'nope'; `lumbung history` lists the runs, `last` names the newest."],
    )
    assert (ambiguous.code, ambiguous.err_lines) == (
        2,
        [f"error: '2' starts the ids of 2 runs ({ids[0]}, {ids[1]}); give more of it."],
    )
    assert (asset.code, asset.err_lines) == (2, ["error: no asset 'lefty'. Did you mean 'left'?"])
    assert (quiet.code, quiet.out) == (0, f"Nothing right said in run {ids[0]} was kept.\n")
