"""``lumbung history [KEY]``: records newest first under their runs; failures with their
error's first line (the whole error in ``--json``); ``--limit``; unknown keys."""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.assets_core.cli.conftest import EXAMPLE_ASSETS, Result, edit, run_sequence

RECORD_FIELDS = {
    "key",
    "run_id",
    "outcome",
    "started_at",
    "ended_at",
    "duration",
    "rows",
    "bytes",
    "location",
    "data_version",
    "code_version",
    "error",
}
RUN_FIELDS = {"run_id", "status", "started_at", "ended_at", "selection", "tick"}


@pytest.fixture(scope="module")
def r(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    # ``failed``: the built example after a second run, in which revenue_by_day raised.
    failed = tmp_path_factory.mktemp("failed") / "example_project"
    shutil.copytree(built, failed, ignore=shutil.ignore_patterns("__pycache__"))
    edit(
        failed / "assets.py",
        "    daily = kept.",
        '    raise ValueError("boom\\nsecond line")\n    daily = kept.',
    )
    on_built = {
        "text": ["history"],
        "json": ["history", "--json"],
        "one": ["history", "orders", "--json", "--limit", "1"],
        "limit": ["history", "-n", "2"],
        "unknown": ["history", "nope"],
        "zero": ["history", "--limit", "0"],
    }
    on_failed = {
        "materialize": ["materialize"],
        "failed": ["history"],
        "newest_run": ["history", "-n", "1"],
        "newest_run_json": ["history", "-n", "1", "--json"],
        "failed_json": ["history", "revenue_by_day", "--json"],
        "failed_list": ["list", "-s", "revenue_by_day", "-o", "json"],
        "failed_show": ["show", "revenue_by_day"],
    }
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(run_sequence, [(args, built) for args in on_built.values()])
        b = pool.submit(run_sequence, [(args, failed) for args in on_failed.values()])
        results = dict(zip(on_built, a.result(), strict=True))
        results.update(zip(on_failed, b.result(), strict=True))
    assert results["materialize"].code == 1, results["materialize"].err
    return results


def test_text_groups_records_under_their_run(r: dict[str, Result]) -> None:
    res = r["text"]
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert re.fullmatch(r"run \S+  success  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\S*  \S+s", lines[0])
    assert len(lines) == 13
    assert sorted(line.split()[1] for line in lines[1:]) == sorted(EXAMPLE_ASSETS)
    assert all(line.split()[0] == "materialized" for line in lines[1:])
    assert all(line.endswith(" rows") for line in lines[1:])
    assert r["limit"].out == r["text"].out  # -n counts runs: the one run, whole


def test_limit_counts_runs_and_never_cuts_one(r: dict[str, Result]) -> None:
    lines = r["newest_run"].out.splitlines()
    data = json.loads(r["newest_run_json"].out)
    assert [line.startswith("run ") for line in lines].count(True) == 1
    assert len(data["runs"]) == 1
    run_id = data["runs"][0]["run_id"]
    assert {m["run_id"] for m in data["materializations"]} == {run_id}
    assert len(lines) == 1 + len(data["materializations"]) > 2


def test_json_has_runs_and_records(r: dict[str, Result]) -> None:
    data = json.loads(r["json"].out)
    assert set(data) == {"runs", "materializations"}
    assert len(data["runs"]) == 1 and set(data["runs"][0]) == RUN_FIELDS
    assert data["runs"][0]["status"] == "success"
    records = data["materializations"]
    assert len(records) == 12 and all(set(rec) == RECORD_FIELDS for rec in records)
    assert {rec["run_id"] for rec in records} == {data["runs"][0]["run_id"]}
    one = json.loads(r["one"].out)["materializations"]
    assert [(x["key"], x["outcome"], x["rows"]) for x in one] == [("orders", "materialized", 2000)]


def test_failures_show_their_first_line(r: dict[str, Result]) -> None:
    res = r["failed"]
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert re.fullmatch(r"run \S+  failed  .*", lines[0])
    assert lines[1] == "  skipped       shop_report      upstream revenue_by_day failed"
    assert lines[2] == "  failed        revenue_by_day   revenue_by_day: ValueError: boom"
    assert lines[3].startswith("run ") and "  success  " in lines[3]


def test_json_carries_the_whole_error(r: dict[str, Result]) -> None:
    records = json.loads(r["failed_json"].out)["materializations"]
    assert [x["outcome"] for x in records] == ["failed", "materialized"]
    error = records[0]["error"]
    assert error.startswith("revenue_by_day: ValueError: boom\nsecond line\n")
    assert "Traceback (most recent call last):" in error
    assert records[1]["error"] is None


def test_a_failed_asset_in_list_and_show(r: dict[str, Result]) -> None:
    assert [x["status"] for x in json.loads(r["failed_list"].out)] == ["failed"]
    lines = r["failed_show"].out.splitlines()
    assert "  status:         failed (code changed (assets:revenue_by_day))" in lines
    assert "  last error:     revenue_by_day: ValueError: boom" in lines


def test_bad_arguments_exit_2(r: dict[str, Result]) -> None:
    assert (r["unknown"].code, r["unknown"].err_lines) == (2, ["error: no asset 'nope'."])
    assert r["zero"].code == 2
    assert "Invalid value for '--limit' / '-n'" in r["zero"].err
