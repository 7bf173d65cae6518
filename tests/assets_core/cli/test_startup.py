"""Starting ``lumbung`` stays cheap: ``--help`` and ``--version`` load none of the heavy
libraries (pandas, pyarrow, duckdb, networkx), checked in a fresh interpreter that runs the
console entry point and then lists ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "pyarrow", "duckdb", "networkx", "numpy")

#: Runs the CLI in this interpreter as the console script does, then prints what it imported.
WRAPPER = r"""
import contextlib, io, json, sys
from assets_core.cli import main

sys.argv = ["lumbung", *sys.argv[1:]]
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exc:
        code = exc.code
report = {"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}
sys.__stdout__.write(json.dumps(report))
"""


def modules_after(*args: str) -> tuple[object, str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(proc.stdout)
    return data["code"], data["out"], {m.split(".")[0] for m in data["modules"]}


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["materialize", "--help"], ["plan", "--help"]]
)
def test_no_heavy_imports(args: list[str]) -> None:
    code, out, loaded = modules_after(*args)
    assert code in (0, None)
    assert out.strip()
    assert sorted(loaded.intersection(HEAVY)) == []
