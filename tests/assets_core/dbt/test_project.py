"""dbt.project: what an import plans and lists, read from a dbt project written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_core.dbt.project import plan_import, write_import
from assets_core.errors import ProjectError


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_a_source_without_a_file_and_an_existing_config_are_listed(tmp_path: Path) -> None:
    dbt = write(
        tmp_path / "dbt",
        {
            "dbt_project.yml": "name: p\nmodel-paths: [transform]\n",
            "transform/s.yml": (
                "sources:\n  - name: raw\n    tables:\n      - name: orders\n"
                "        data_tests: [not_null]\n"
            ),
            "transform/a.sql": "select * from {{ source('raw', 'orders') }}\n"
            "union all select * from {{ source('raw', 'other') }}\n",
            "transform/b.sql": "select 1 as x qualify\n",
        },
    )
    root = write(tmp_path / "lumbung", {"lumbung.toml": 'modules = ["assets"]\nsql = ["sql"]\n'})
    plan = plan_import(dbt, "models/", root)
    assert sorted(plan.files) == ["dbt_sources.py", "models/a.sql", "models/b.sql"]
    found = [str(u) for u in plan.untranslated]
    # sqlglot's own words follow; they change with its releases
    assert found[1].startswith("transform/b.sql:1: the statement: cannot parse the SQL near 'q")
    assert found[:1] + found[2:] == [
        "transform/s.yml:5: test not_null on source raw.orders: not translated: a source takes "
        "no checks; put the check on a model that reads it (-- checks: line)",
        "transform/s.yml:4: source raw.orders: its file is not given (meta: "
        'external_location); declare it in dbt_sources.py: source("raw/orders", path=...)',
        "transform/a.sql: source('raw', 'other'): no YAML file declares it; declare it in the "
        'dbt project\'s sources or in dbt_sources.py: source("raw/other", path=...)',
        'lumbung.toml: modules: add "dbt_sources" to modules = [...]',
        'lumbung.toml: sql: add "models" to sql = [...]',
    ]
    assert plan.sources == 0
    assert write_import(plan, root) == ["models/a.sql", "models/b.sql", "dbt_sources.py"]


def test_bad_yaml_names_its_file_and_line(tmp_path: Path) -> None:
    dbt = write(tmp_path / "dbt", {"dbt_project.yml": "name: p\n", "models/x.yml": "a: [1\n"})
    with pytest.raises(ProjectError) as caught:
        plan_import(dbt, "models", tmp_path)
    assert str(caught.value).startswith("models/x.yml:2: not valid YAML (")
    assert str(caught.value).endswith("); fix the file.")
