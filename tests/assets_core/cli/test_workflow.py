"""The workflow of the CLI end to end, as a user runs it: materialize, edit one asset's code,
``plan --json`` shows exactly it and what waits on it, materialize, nothing left; edit a source
file, the right plan; and every exit code (0, 1, 2, 130).

The project is written here (pyarrow only, so each ``lumbung`` starts quickly): two sources and
four assets, one branch independent of the other.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.assets_core.cli.conftest import LUMBUNG, Result, edit, run

ASSETS = '''
import os
import time

import pyarrow as pa
import pyarrow.compute as pc

from assets_core import asset, source

raw_orders = source("raw_orders", path="data/orders.csv")
raw_customers = source("raw_customers", path="data/customers.csv")


@asset
def clean_orders(raw_orders: pa.Table) -> pa.Table:
    """Orders with a positive amount."""
    return raw_orders.filter(pc.greater(raw_orders["amount"], 0))


@asset
def order_total(clean_orders: pa.Table) -> pa.Table:
    return pa.table({"total": [pc.sum(clean_orders["amount"]).as_py()]})


@asset
def report(order_total: pa.Table) -> pa.Table:
    return order_total


@asset
def customer_names(raw_customers: pa.Table) -> pa.Table:
    marker = os.environ.get("LUMBUNG_TEST_STARTED")
    if marker:  # tell the test this asset runs, then hold until released (at most 30 s)
        open(marker, "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(marker + ".release") and time.monotonic() < deadline:
            time.sleep(0.02)
    return raw_customers.select(["name"])
'''
ALL = ["clean_orders", "customer_names", "order_total", "report"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "data").mkdir(parents=True)
    (root / "lumbung.toml").write_text('modules = ["assets"]\n')
    (root / "data" / "orders.csv").write_text("id,amount\n1,10\n2,-5\n3,7\n")
    (root / "data" / "customers.csv").write_text("id,name\n1,Ana\n2,Budi\n")
    (root / "assets.py").write_text(textwrap.dedent(ASSETS).lstrip())
    return root


def plan_json(project: Path) -> dict[str, list[str]]:
    """``lumbung plan --json`` as {key: [reason codes]}."""
    res = run(["plan", "--json"], project)
    assert res.code == 0, res.err
    return {s["key"]: [r["code"] for r in s["reasons"]] for s in json.loads(res.out)["steps"]}


def materialize_json(project: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    res = run(["materialize", "--json", *args], project)
    return res, json.loads(res.out)


def test_edit_code_then_source(project: Path) -> None:
    first = run(["materialize"], project)
    assert first.code == 0, first.err
    assert first.out.splitlines()[-2].startswith("4 materialized, 0 up to date, 0 failed, 0 ")

    # One asset's code changes: exactly it, and what waits on it.
    edit(project / "assets.py", 'raw_orders["amount"], 0)', 'raw_orders["amount"], 8)')
    assert plan_json(project) == {
        "clean_orders": ["code_changed"],
        "order_total": ["waits_on"],
        "report": ["waits_on"],
    }
    res, data = materialize_json(project)
    assert res.code == 0, res.err
    assert data["materialized"] == ["clean_orders", "order_total", "report"]
    assert plan_json(project) == {}

    # A source file changes: its reader is stale, nothing else.
    with (project / "data" / "customers.csv").open("a") as f:
        f.write("3,Citra\n")
    assert plan_json(project) == {"customer_names": ["source_changed"]}
    res, data = materialize_json(project)
    assert (res.code, data["materialized"], data["up_to_date"]) == (0, ["customer_names"], [])

    # Comments and docstrings are not code; a change that leaves the value as it was stops
    # there (early cutoff): what waits on it is up to date.
    edit(project / "assets.py", "Orders with a positive amount.", "Orders worth keeping.")
    assert plan_json(project) == {}
    edit(project / "assets.py", 'raw_orders["amount"], 8)', 'raw_orders["amount"], 9)')
    res, data = materialize_json(project)
    assert (res.code, data["materialized"]) == (0, ["clean_orders"])
    assert data["up_to_date"] == ["order_total", "report"]


def test_failing_asset_exits_1_with_the_users_traceback(project: Path) -> None:
    edit(
        project / "assets.py",
        '    return pa.table({"total"',
        '    raise ValueError("boom")\n    return pa.table({"total"',
    )
    res = run(["materialize"], project)
    assert res.code == 1
    lines = res.out.splitlines()
    assert "FAILED        order_total  ValueError: boom" in lines
    assert "skipped       report  (upstream order_total failed)" in lines
    assert any(line.startswith("materialized  customer_names  ") for line in lines)
    assert lines[-2].startswith("2 materialized, 0 up to date, 1 failed, 1 skipped in ")
    # The user's own frames, not the engine's.
    assert "order_total failed: ValueError: boom\n  Traceback (most recent call last):\n" in res.err
    assert f'File "{project / "assets.py"}", line ' in res.err
    assert '      raise ValueError("boom")\n  ValueError: boom\n' in res.err
    assert "assets_core" not in res.err

    again, data = materialize_json(project)
    assert again.code == 1
    assert data["failed"] == ["order_total"] and data["skipped"] == ["report"]
    assert data["materialized"] == []  # the independent branch stayed fresh
    assert data["errors"] == {"order_total": "order_total: ValueError: boom"}
    assert "ValueError: boom" in again.err  # the traceback still reaches the user, on stderr


def test_usage_and_definition_errors_exit_2(project: Path) -> None:
    bad = run(["materialize", "-s", "nope"], project)
    assert (bad.code, bad.out) == (2, "")
    assert bad.err == "error: No asset matches 'nope'; 'lumbung list' shows every asset.\n"

    with (project / "assets.py").open("a") as f:
        f.write("\n\n@asset\ndef orphan(missing_thing: pa.Table) -> pa.Table:\n    return x\n")
    broken = run(["materialize"], project)
    assert (broken.code, broken.out) == (2, "")
    assert re.fullmatch(
        r"error: orphan \(assets\.py:\d+\): parameter 'missing_thing' names 'missing_thing', "
        r"which is not defined\. Define that asset, fix the name, or map it with ins=\.\n",
        broken.err,
    )


def _sigint_while_running(project: Path, executor: str, wait: float) -> tuple[int | None, str, str]:
    """Start a run, interrupt it while ``customer_names`` runs; the exit code (None when it
    did not exit within ``wait`` seconds of the signal), stdout and stderr."""
    marker = project / "started"
    env = {**os.environ, "LUMBUNG_TEST_STARTED": str(marker), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [*LUMBUNG, "materialize", "--executor", executor, "-w", "2"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C is delivered as SIGINT; make sure the child does not inherit it ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), proc.communicate()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=wait)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
            Path(str(marker) + ".release").touch()
            out, err = proc.communicate(timeout=60)
    finally:
        Path(str(marker) + ".release").touch()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return code, out, err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("executor", ["in-process", "threads"])
def test_ctrl_c_exits_130_and_keeps_what_finished(project: Path, executor: str) -> None:
    # Only customer_names is left to run, so the line's counts are certain.
    run_ok = run(["materialize", "-s", "clean_orders+"], project)
    assert run_ok.code == 0, run_ok.err
    code, out, err = _sigint_while_running(project, executor, wait=30)
    assert (code, out) == (130, ""), err
    assert err == (
        "interrupted: 0 of 1 assets finished and are recorded; 1 did not (1 was running); "
        "run the same command again to finish them.\n"
    )
    # The store is consistent: the interrupted asset is still to do, nothing else is.
    assert plan_json(project) == {"customer_names": ["never_materialized"]}
