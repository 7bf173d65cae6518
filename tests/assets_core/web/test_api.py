"""The UI's JSON API over a real project (starlette's TestClient, in this process): every
read endpoint's answer, and bad input answered by one clear JSON error with the right status."""

from __future__ import annotations

from typing import Any

import pytest

from tests.assets_core.web.conftest import HOSTILE, TICK


def get(client: Any, path: str, status: int = 200) -> Any:
    r = client.get(path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def test_graph_has_every_asset_with_its_status_and_position(client: Any) -> None:
    g = get(client, "/api/graph")
    by_key = {n["key"]: n for n in g["nodes"]}
    assert set(by_key) == {
        "numbers", "doubled", "hostile", "never_built", "daily_counts", "grid_counts"
    }  # fmt: skip
    assert by_key["numbers"]["status"] == "fresh"
    assert by_key["never_built"]["status"] == "missing"
    assert by_key["daily_counts"]["partitions"]["fresh"] == 5
    assert by_key["daily_counts"]["partitions"]["total"] == 10
    assert all(isinstance(n["x"], (int, float)) for n in g["nodes"])
    assert {b["group"] for b in g["bands"]} == {"raw", "marts", "parts"}
    index = {n["key"]: i for i, n in enumerate(g["nodes"])}
    assert [index["numbers"], index["doubled"]] in g["edges"]


def test_graph_without_statuses_plans_nothing(client: Any, session: Any) -> None:
    plans: list[object] = []
    original = session.status_plan
    session.status_plan = lambda *a, **k: plans.append(a) or original(*a, **k)
    try:
        g = get(client, "/api/graph?statuses=0")
    finally:
        del session.status_plan
    assert plans == []
    assert {n["status"] for n in g["nodes"]} == {None}
    assert len(g["nodes"]) == 6 and g["edges"]


def test_status_is_the_graphs_statuses_without_the_layout(client: Any) -> None:
    s = get(client, "/api/status")["nodes"]
    assert s["never_built"]["status"] == "missing"
    assert s["never_built"]["reasons"] == [
        {"code": "never_materialized", "message": "never materialized"}
    ]
    assert s["numbers"]["reasons"] == []


def test_asset_is_show_json_with_code_and_history(client: Any, session: Any) -> None:
    from assets_core.reports.asset import Current, describe, latest_state

    a = get(client, "/api/asset?key=doubled")
    found = session.get("doubled")
    now = Current(session, found)
    expected = describe(session, found, latest_state(session, found, now.counts), now)
    for field in ("key", "kind", "file", "group", "upstream", "status", "reasons", "location"):
        assert a[field] == expected[field]
    assert a["file"].startswith("assets.py:")
    assert a["code"]["language"] == "python"
    assert "def doubled(context, numbers" in a["code"]["text"]
    assert [h["outcome"] for h in a["history"]] == ["materialized"]
    assert a["history"][0]["rows"] == 10
    assert a["last_materialization"]["schema"][0] == {"name": "n", "type": "int64"}


def test_asset_has_its_checks_with_their_last_results(client: Any) -> None:
    checks = {c["check"]: c for c in get(client, "/api/asset?key=numbers")["checks"]}
    assert set(checks) == {"not_null(n)", "expect('n < 5')"}
    assert checks["not_null(n)"]["result"] == "pass"
    failed = checks["expect('n < 5')"]
    assert (failed["result"], failed["severity"], failed["failing_rows"]) == ("warn", "warn", 5)
    assert [row["n"] for row in failed["sample"]] == [5, 6, 7, 8, 9]
    assert get(client, "/api/asset?key=doubled")["checks"] == []


def test_asset_status_carries_the_plans_reasons(client: Any) -> None:
    a = get(client, "/api/asset?key=never_built")
    assert a["status"] == "missing"
    assert [r["code"] for r in a["reasons"]] == ["never_materialized"]
    assert a["history"] == []


def test_hostile_description_comes_back_as_plain_text(client: Any) -> None:
    assert get(client, "/api/asset?key=hostile")["description"] == HOSTILE


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/asset?key=nope", 404, "no asset 'nope'"),
        ("/api/asset", 400, "the 'key' parameter is required"),
        ("/api/asset?key=../../etc/passwd", 400, "Invalid key segment '..'"),
        ("/api/select?select=bogus:x", 400, "bogus"),
        ("/api/select", 400, "the 'select' parameter is required"),
        ("/api/asset/partitions?key=numbers", 400, "numbers is not partitioned"),
        ("/api/asset/partitions?key=daily_counts&partitions=2027-13-01", 400, "daily_counts"),
        ("/api/asset/preview?key=never_built", 404, "never_built has no stored output yet"),
        ("/api/asset/preview?key=doubled&partition=../../x", 404, "has no stored output yet"),
        ("/api/run?id=nope", 404, "no run 'nope'"),
        ("/api/run?id=nope&steps=many", 400, "'steps' must be a number of steps or 'all'"),
        ("/api/launch?id=nope", 404, "no launch 'nope'"),
        ("/api/nothing", 404, "no such page: /api/nothing"),
        ("/api/schedules?name=nope", 404, "no schedule or sensor 'nope'"),
    ],
)
def test_bad_input_is_one_json_error(client: Any, path: str, status: int, message: str) -> None:
    assert message in get(client, path, status)["error"]


def test_select_uses_the_selection_grammar(client: Any) -> None:
    assert get(client, "/api/select?select=%2Bdoubled")["keys"] == ["numbers", "doubled"]
    assert get(client, "/api/select?select=tag:daily")["keys"] == ["numbers"]
    found = get(client, "/api/select?select=group:parts&exclude=grid_counts")
    assert found["keys"] == ["daily_counts"]
    assert get(client, "/api/select?select=zz_*")["warnings"]


def test_partitions_list_every_key_with_its_status(client: Any) -> None:
    p = get(client, "/api/asset/partitions?key=daily_counts")
    assert p["partitions"] == 10
    assert p["keys"][0] == "2026-01-01" and p["keys"][-1] == "2026-01-10"
    assert p["status"] == "fffffmmmmm"
    assert p["counts"]["fresh"] == 5 and p["counts"]["missing"] == 5
    assert p["ranges"]["missing"] == [{"first": "2026-01-06", "last": "2026-01-10", "count": 5}]
    assert p["dimensions"] == []
    only = get(client, "/api/asset/partitions?key=daily_counts&partitions=2026-01-04..2026-01-07")
    assert only["keys"] == ["2026-01-04", "2026-01-05", "2026-01-06", "2026-01-07"]


def test_a_partitioned_assets_page_has_its_partitions_from_the_same_plan(client: Any) -> None:
    a = get(client, "/api/asset?key=daily_counts")
    assert a["status"] == "missing"
    assert a["partitions"] == get(client, "/api/asset/partitions?key=daily_counts")
    assert "partitions" not in get(client, "/api/asset?key=doubled")


def test_partitions_of_a_multi_dimensional_asset_name_its_dimensions(client: Any) -> None:
    p = get(client, "/api/asset/partitions?key=grid_counts")
    assert p["dimensions"] == ["date", "region"]
    assert p["partitions"] == 30 and p["status"] == "f" * 30
    assert p["keys"][0] == "date=2026-01-01,region=eu"


def test_preview_reads_the_first_rows(client: Any) -> None:
    p = get(client, "/api/asset/preview?key=doubled")
    assert [c["name"] for c in p["columns"]] == ["n", "label"]
    assert p["rows"][:2] == [[0, "#0"], [2, "#1"]]
    assert p["limit"] == 100
    part = get(client, "/api/asset/preview?key=daily_counts&partition=2026-01-03")
    assert [row[:2] for row in part["rows"]] == [["2026-01-03", 1]]


def test_runs_and_a_run_with_its_steps_and_logs(client: Any) -> None:
    runs = get(client, "/api/runs")["runs"]
    assert len(runs) == 2 and all(r["status"] == "success" for r in runs)
    first = runs[-1]["run_id"]
    run = get(client, f"/api/run?id={first}")
    assert run["run"]["run_id"] == first
    assert {s["key"] for s in run["steps"]} == {"numbers", "doubled", "hostile", "grid_counts"}
    messages = [x["message"] for x in run["logs"] if x["key"] == "doubled"]
    assert messages == ["doubling 10 rows", "done doubling"]
    later = get(client, f"/api/run?id={runs[0]['run_id']}")
    assert len(later["steps"]) == 5 and {s["key"] for s in later["steps"]} == {"daily_counts"}
    assert [s["partition"] for s in later["steps"]] == [f"2026-01-0{i}" for i in range(1, 6)]


def test_a_run_lists_its_newest_steps_and_counts_them_all(client: Any) -> None:
    newest = get(client, "/api/runs")["runs"][0]["run_id"]
    two = get(client, f"/api/run?id={newest}&steps=2")
    assert (two["steps_total"], two["outcomes"]) == (5, {"materialized": 5})
    assert [s["partition"] for s in two["steps"]] == ["2026-01-04", "2026-01-05"]
    assert len(get(client, f"/api/run?id={newest}&steps=all")["steps"]) == 5


def test_run_events_stream_a_finished_run_then_end(client: Any) -> None:
    first = get(client, "/api/runs")["runs"][-1]["run_id"]
    with client.stream("GET", f"/api/run/events?id={first}") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert text.startswith("event: update\n")
    assert "event: end\n" in text
    assert "doubling 10 rows" in text


def test_schedules_lists_next_and_past_ticks_as_lumbung_schedules_does(client: Any) -> None:
    found = get(client, "/api/schedules")
    assert [r["name"] for r in found["schedules"]] == ["nightly", "fresh"]
    nightly, fresh = found["schedules"]
    assert nightly["cron"] == "0 2 * * *" and nightly["last_outcome"] == "failure"
    assert nightly["next_tick"] > TICK and nightly["next_tick"].endswith("T02:00:00Z")
    assert fresh["every_seconds"] == 300 and fresh["next_tick"] is None
    assert found["ticks"] == [
        {
            "kind": "schedule",
            "name": "nightly",
            "tick": TICK,
            "outcome": "failure",
            "scheduled_at": "2026-01-11T02:00:00.000+00:00",
            "ended_at": None,
            "run_id": "r1",
            "detail": None,
        }
    ]
    assert get(client, "/api/schedules?name=fresh")["ticks"] == []


def test_the_page_and_its_files_load_nothing_from_elsewhere(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace('charset="utf-8"', "")
    for name in ("ui.js", "ui.css", "page.js", "page.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and r.text
        assert "http://" not in r.text and "https://" not in r.text
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/app.py").status_code == 404


def test_code_of_each_kind(session: Any) -> None:
    """A Python asset's function source; a kind holding its statement as ``sql`` (SQL assets,
    DESIGN §14; none on this branch yet, so a stand-in value) shows that statement."""
    from dataclasses import dataclass

    from assets_core.web.api_assets import code_of

    code = code_of(session.get("numbers"))
    assert code is not None and code["text"].startswith("@asset(")

    @dataclass(frozen=True)
    class Statement:
        sql: str

    found = code_of(Statement("select 1 as n"))  # type: ignore[arg-type]
    assert found == {"language": "sql", "text": "select 1 as n"}


def test_a_sql_assets_page_has_its_column_lineage(tmp_path: Any) -> None:
    from starlette.testclient import TestClient

    from assets_core.session import load_project
    from assets_core.web.app import build_app

    root = tmp_path / "sqlproj"
    (root / "models").mkdir(parents=True)
    (root / "lumbung.toml").write_text('sql = ["models"]\n')
    (root / "assets.py").write_text(
        "import pandas as pd\nfrom assets_core import asset\n\n\n@asset\n"
        "def numbers() -> pd.DataFrame:\n    return pd.DataFrame({'n': [1]})\n"
    )
    (root / "models" / "base.sql").write_text("select 1 as n, 'a' as label\n")
    (root / "models" / "totals.sql").write_text(
        "select n, n * 2 as twice, count(*) over () as c from base\n"
    )
    (root / "models" / "everything.sql").write_text("select * from numbers\n")
    session = load_project(root, read_only=True)
    try:
        with TestClient(build_app(session), base_url="http://127.0.0.1") as client:
            # never materialized: base's columns are its own statement's, traced first
            a = get(client, "/api/asset?key=totals")
            assert a["columns"] == [
                {"name": "n", "from": [{"asset": "base", "column": "n"}]},
                {"name": "twice", "from": [{"asset": "base", "column": "n"}]},
                {"name": "c", "from": []},
            ]
            assert a["columns_note"] is None
            # a Python asset never materialized: its columns are not known yet
            star = get(client, "/api/asset?key=everything")
            assert star["columns"] == [{"name": "*", "from": [{"asset": "numbers", "column": "*"}]}]
            assert star["columns_note"] == (
                "the columns of numbers are not known until it is materialized"
            )
    finally:
        session.close()


def test_a_python_assets_page_has_no_column_lineage(client: Any) -> None:
    assert "columns" not in get(client, "/api/asset?key=numbers")
