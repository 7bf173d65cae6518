"""What the UI keeps between requests (``assets_core.web.kept``): the status plan and the
graph's layout are reused while nothing changed, and never shown stale after a run, a write
by the UI's own session, an edited module, or (on a reload of the page) an output deleted
behind Lumbung's back. Statuses stay those of ``lumbung list`` (``Session.statuses``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assets_core.session import Session, load_project
from tests.assets_core.web.conftest import build


@pytest.fixture
def root(tmp_path: Path, now_pinned: None) -> Path:
    """A project of its own (these tests change it)."""
    build(tmp_path / "proj").close()
    return tmp_path / "proj"


@pytest.fixture
def session(root: Path) -> Iterator[Session]:
    s = load_project(root)
    yield s
    s.close()


@pytest.fixture
def client(session: Session) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from assets_core.web.app import build_app

    with TestClient(build_app(session), base_url="http://127.0.0.1") as c:
        yield c


def statuses(client: Any) -> dict[str, str]:
    r = client.get("/api/status")
    assert r.status_code == 200, r.text
    return {k: n["status"] for k, n in r.json()["nodes"].items()}


def listed(root: Path) -> dict[str, str]:
    """What ``lumbung list`` calls each asset (a session of its own)."""
    with load_project(root, read_only=True) as s:
        return {str(k): st.status for k, st in s.statuses().items()}


def plans_made(session: Session) -> list[object]:
    """Every status plan ``session`` makes from now on (the real plan is made)."""
    made: list[object] = []
    original = session.status_plan

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return original(*args, **kwargs)

    session.status_plan = counted  # type: ignore[method-assign]
    return made


def test_the_status_plan_is_reused_while_nothing_changed(client: Any, session: Session) -> None:
    made = plans_made(session)
    first = statuses(client)
    assert statuses(client) == first == listed(session.root)
    assert len(made) == 1
    a = client.get("/api/asset?key=doubled").json()  # read from the kept plan: its
    assert (a["status"], a["with_upstream"]) == ("fresh", {"status": "fresh", "explain": None})
    assert len(made) == 1  # ancestors are fresh there, so its own plan would say the same
    client.get("/api/meta")  # a load of the page makes it again
    assert statuses(client) == first
    assert len(made) == 2


def test_a_run_in_another_process_shows_at_once(client: Any, root: Path) -> None:
    assert statuses(client)["never_built"] == "missing"
    never = client.get("/api/asset?key=never_built").json()
    assert never["with_upstream"]["status"] == "missing"
    lumbung = Path(sys.executable).parent / "lumbung"
    done = subprocess.run(
        [str(lumbung), "--project", str(root), "materialize", "-s", "never_built"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after = statuses(client)
    assert after["never_built"] == "fresh"
    assert after == listed(root)
    never = client.get("/api/asset?key=never_built").json()
    assert (never["status"], never["with_upstream"]["status"]) == ("fresh", "fresh")


def test_a_run_of_the_uis_own_session_shows_at_once(client: Any, session: Session) -> None:
    assert statuses(client)["never_built"] == "missing"
    result = session.materialize(select="never_built", executor="in-process", on_log=None)
    assert not result.failed
    assert statuses(client)["never_built"] == "fresh"
    assert statuses(client) == listed(session.root)


def test_an_edited_module_shows_at_once(client: Any, root: Path) -> None:
    assert statuses(client)["doubled"] == "fresh"
    source = root / "assets.py"
    text = source.read_text().replace("numbers.n * 2", "numbers.n * 3")
    source.write_text(text)
    with pytest.warns(UserWarning, match="changed on disk"):
        after = statuses(client)
    assert after["doubled"] == "stale"
    assert after == listed(root)


def test_an_output_deleted_behind_lumbungs_back_shows_on_a_reload(
    client: Any, session: Session
) -> None:
    location = client.get("/api/asset?key=hostile").json()["location"]
    assert statuses(client)["hostile"] == "fresh"
    made = plans_made(session)
    Path(location).unlink()  # nothing is recorded: the kept plan is still valid
    assert statuses(client)["hostile"] == "fresh"  # the rule: seen on the next load
    assert made == []
    client.get("/api/meta")  # the page is loaded again
    assert statuses(client)["hostile"] == "missing"
    assert statuses(client) == listed(session.root)


def test_the_layout_is_made_again_when_the_state_changes(client: Any, session: Session) -> None:
    def badges() -> dict[str, list[str]]:
        nodes = client.get("/api/graph?statuses=0").json()["nodes"]
        return {n["key"]: [c["result"] for c in n["checks"]] for n in nodes if n["checks"]}

    assert sorted(badges()["numbers"]) == ["pass", "warn"]
    records = session.state.latest_checks([session.get("numbers").key]).values()
    failed = [replace(r, passed=False, failing_rows=7, error="7 rows fail") for r in records]
    session.state.record_checks(failed)  # as `lumbung check` records results
    assert "pass" not in badges()["numbers"]
