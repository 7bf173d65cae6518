"""Actions and safety: a materialize needs the per-process token, a read-only UI refuses it,
bad input starts nothing, a good request starts a real run that the API follows to its end;
requests that name another host are refused; previews never read outside the storage."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assets_core.session import Session, load_project
from assets_core.web.app import build_app
from assets_core.web.common import TOKEN_HEADER
from tests.assets_core.web.conftest import build


@pytest.fixture
def fresh(tmp_path: Path, now_pinned: None) -> Iterator[Session]:
    """A project of its own (these tests run things in it)."""
    build(tmp_path / "proj").close()
    s = load_project(tmp_path / "proj", read_only=True)
    yield s
    s.close()


def client_of(session: Session, **options: Any) -> Any:
    from starlette.testclient import TestClient

    return TestClient(build_app(session, **options), base_url="http://127.0.0.1")


def runs(session: Session) -> list[str]:
    return [r.run_id for r in session.state.runs()]


def wait_for(client: Any, launch_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found: dict[str, Any] = client.get(f"/api/launch?id={launch_id}").json()
        if found["status"] == "finished":
            return found
        time.sleep(0.1)
    raise AssertionError(f"launch {launch_id} did not finish")


def test_actions_need_the_token_and_refusals_change_nothing(fresh: Session) -> None:
    app_client = client_of(fresh)
    token = app_client.app.state.ui.token
    assert app_client.get("/api/meta").json()["token"] == token
    before = runs(fresh)
    body = {"select": "never_built"}
    r = app_client.post("/api/materialize", json=body)
    assert r.status_code == 403
    assert r.json()["error"].startswith(f"this action needs the UI's token in the {TOKEN_HEADER}")
    r = app_client.post("/api/materialize", json=body, headers={TOKEN_HEADER: "wrong"})
    assert r.status_code == 403
    assert app_client.get("/api/materialize").status_code == 405  # reads never act
    bad = [
        ({"select": "nope"}, "No asset matches 'nope'"),
        ({"select": "bogus:x"}, "bogus"),
        ({"select": "daily_counts", "partitions": "2026-02-30"}, "daily_counts"),
        ({"select": "never_built", "force": "yes"}, "'force' must be true or false"),
        ({"select": ["never_built"]}, "'select' must be text"),
    ]
    for sent, message in bad:
        r = app_client.post("/api/materialize", json=sent, headers={TOKEN_HEADER: token})
        assert r.status_code == 400, sent
        assert message in r.json()["error"]
    r = app_client.post("/api/materialize", content=b"{", headers={TOKEN_HEADER: token})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    assert runs(fresh) == before
    assert not app_client.app.state.ui.launcher.launches


def test_read_only_refuses_every_action(fresh: Session) -> None:
    c = client_of(fresh, read_only=True)
    token = c.app.state.ui.token
    meta = c.get("/api/meta").json()
    assert meta["read_only"] is True and meta["token"] is None
    r = c.post("/api/materialize", json={"select": "never_built"}, headers={TOKEN_HEADER: token})
    assert r.status_code == 403
    assert r.json()["error"] == (
        "this UI is read-only (started with --read-only); nothing was done."
    )
    assert c.get("/api/graph").status_code == 200  # reads still answer


def test_bound_elsewhere_the_page_is_not_given_the_token(fresh: Session) -> None:
    c = client_of(fresh, host="0.0.0.0")
    assert c.get("/api/meta").json()["token"] is None
    r = c.post("/api/materialize", json={"select": "never_built"})
    assert r.status_code == 403


def test_loopback_refuses_requests_naming_another_host(fresh: Session) -> None:
    c = client_of(fresh)
    assert c.get("/api/meta", headers={"Host": "evil.example"}).status_code == 400
    assert c.get("/api/meta", headers={"Host": "localhost:3000"}).status_code == 200


def test_materialize_starts_a_run_and_the_api_follows_it(fresh: Session) -> None:
    c = client_of(fresh, project=str(fresh.root))
    token = c.app.state.ui.token
    r = c.post(
        "/api/materialize",
        json={"select": "daily_counts", "partitions": "2026-01-06..2026-01-07"},
        headers={TOKEN_HEADER: token},
    )
    assert r.status_code == 200, r.text
    launch = r.json()
    assert launch["planned"] == 2
    assert launch["args"] == [
        "materialize", "--json", "--select=daily_counts", "--partitions=2026-01-06..2026-01-07"
    ]  # fmt: skip
    done = wait_for(c, launch["id"])
    assert done["exit_code"] == 0, done
    assert sorted(done["result"]["materialized"]) == [
        "daily_counts[2026-01-06]", "daily_counts[2026-01-07]"
    ]  # fmt: skip
    run_id = done["run_id"]
    with c.stream("GET", f"/api/run/events?id={run_id}") as events:
        text = "".join(events.iter_text())
    assert '"status":"success"' in text and "event: end" in text
    steps = c.get(f"/api/run?id={run_id}").json()["steps"]
    assert [s["outcome"] for s in steps] == ["materialized", "materialized"]
    counts = c.get("/api/asset/partitions?key=daily_counts").json()["counts"]
    assert counts["fresh"] == 7


def test_preview_never_reads_outside_the_storage(fresh: Session, tmp_path: Path) -> None:
    from assets_core.web.common import ApiError
    from assets_core.web.preview import read_preview

    outside = tmp_path / "secret.parquet"
    import pandas as pd

    pd.DataFrame({"secret": [1]}).to_parquet(outside)
    with pytest.raises(ApiError, match="is outside the storage folder") as caught:
        read_preview(str(outside), fresh.storage)
    assert caught.value.status == 403
    with pytest.raises(ApiError, match="is outside the storage folder"):
        read_preview(str(fresh.storage / ".." / "secret.parquet"), fresh.storage)
    # the stored output replaced by a link to a file outside: refused, through the API too
    stored = Path(fresh.state.latest([fresh.get("doubled").key]).popitem()[1].last.location)
    stored.unlink()
    os.symlink(outside, stored)
    r = client_of(fresh).get("/api/asset/preview?key=doubled")
    assert r.status_code == 403
    assert "is outside the storage folder" in r.json()["error"]
