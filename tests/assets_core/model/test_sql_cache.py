"""model.sql_cache: a SQL file parsed once is loaded again from the storage folder without
sqlglot, to the same asset and the same exact problems; a changed file, a corrupt cache, an
entry of a wrong shape or another sqlglot version's cache are parsed again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from assets_core.model.sql_assets import find_sql_assets
from assets_core.model.sql_cache import SQL_PARSE_CACHE

FILES = {
    "a.sql": "-- tags: x\n-- TPC-H style\nselect 1 as n\n",
    "b.sql": '-- checks: not_null("n")\nSELECT n\n  FROM a  -- read a\nWHERE n > 0\n',
    "bad.sql": "-- description: broken\n\nselect from from\n",
    "cat.sql": "select * from db.s.t\n",
}

LOAD = """
import sys
from assets_core.model.sql_assets import find_sql_assets
from pathlib import Path
for a in find_sql_assets(Path("."), ["models"], Path(".lumbung/{cache}")):
    problems = [p.location + " " + p.message for p in a.problems]
    print(a.key, repr(a.normalized), dict(a.lines), problems)
print("sqlglot imported:", "sqlglot" in sys.modules)
""".replace("{cache}", SQL_PARSE_CACHE)


def _project(root: Path) -> Path:
    for name, text in FILES.items():
        (root / "models" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "models" / name).write_text(text)
    return root


def _load(root: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOAD], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def test_an_unchanged_project_loads_from_the_cache_without_sqlglot(tmp_path: Path) -> None:
    root = _project(tmp_path)
    first = _load(root)
    assert first[-1] == "sqlglot imported: True"
    assert (root / ".lumbung" / SQL_PARSE_CACHE).is_file()
    second = _load(root)
    assert second[-1] == "sqlglot imported: False"
    assert second == [*first[:-1], "sqlglot imported: False"]
    assert "b 'SELECT n FROM a WHERE n > 0' {'a': 3} []" in second
    assert any(
        line.startswith("bad ") and "models/bad.sql:3 cannot parse the SQL near 'from'" in line
        for line in second
    )
    assert any("models/cat.sql:1 table 'db.s.t' names a catalog" in line for line in second)
    # one changed file is parsed again (sqlglot then imported); the others still come cached
    (root / "models/b.sql").write_text("select n from a where n > 1\n")
    third = _load(root)
    assert "b 'SELECT n FROM a WHERE n > 1' {'a': 1} []" in third
    assert third[-1] == "sqlglot imported: True"


def test_a_cache_not_to_be_trusted_is_parsed_again(tmp_path: Path) -> None:
    root = _project(tmp_path)
    cache = tmp_path / ".lumbung" / SQL_PARSE_CACHE
    fresh = find_sql_assets(root, ["models"])
    assert find_sql_assets(root, ["models"], cache) == fresh
    kept = json.loads(cache.read_text())
    assert len(kept["files"]) == 4
    # entries of a wrong shape, another sqlglot's cache, a file that is not JSON
    wrong = {d: ["ok", 5, []] if e[0] == "ok" else ["error", "x"] for d, e in kept["files"].items()}
    for payload in (
        json.dumps({**kept, "files": wrong}),
        json.dumps({**kept, "sqlglot": "0.0.1"}),
        '{"format": 1, "files": {',
    ):
        cache.write_text(payload)
        assert find_sql_assets(root, ["models"], cache) == fresh
        assert json.loads(cache.read_text()) == kept
