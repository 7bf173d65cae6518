"""A bare name means the one asset whose last segment it is, wherever a key is accepted
(``show``, ``history``, ``-s``, ``Session.load``); an ambiguous one lists the candidates."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.assets_core.cli.conftest import run, run_sequence

ASSETS = textwrap.dedent(
    """
    import pandas as pd
    from assets_core import asset


    @asset(key="marts/kpis")
    def kpis():
        return pd.DataFrame({"v": [1, 2]})


    @asset(key="stg/orders")
    def stg_orders():
        return pd.DataFrame({"v": [2]})


    @asset(key="marts/orders")
    def marts_orders():
        return pd.DataFrame({"v": [3]})
    """
)


def test_bare_names_resolve_everywhere(tmp_path: Path) -> None:
    (tmp_path / "lumbung.toml").write_text('modules = ["assets"]\n')
    (tmp_path / "assets.py").write_text(ASSETS)
    built = run(["materialize"], tmp_path)
    assert built.code == 0, built.err
    shown, history, ambiguous, unknown = run_sequence(
        [
            (["show", "kpis", "--json"], tmp_path),
            (["history", "kpis", "--json"], tmp_path),
            (["show", "orders"], tmp_path),
            (["history", "kpi"], tmp_path),
        ]
    )
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["key"] == "marts/kpis"
    assert [m["key"] for m in json.loads(history.out)["materializations"]] == ["marts/kpis"]
    assert (ambiguous.code, ambiguous.err_lines) == (
        2,
        ["error: 'orders' names 2 assets: marts/orders, stg/orders; give the full key."],
    )
    assert (unknown.code, unknown.err_lines) == (2, ["error: no asset 'kpi'. Did you mean 'kpis'?"])

    code = (
        "from assets_core import load_project\n"
        "with load_project('.') as s:\n"
        "    print(s.load('kpis')['v'].tolist())\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert loaded.stdout.strip() == "[1, 2]", loaded.stderr


def test_folder_and_module_defaults_reach_the_cli(tmp_path: Path) -> None:
    (tmp_path / "lumbung.toml").write_text(
        'modules = ["marts"]\n\n[defaults."marts.py"]\nowners = ["bi@example.com"]\n'
    )
    (tmp_path / "marts.py").write_text(
        textwrap.dedent(
            """
            import pandas as pd
            from assets_core import asset

            LUMBUNG_DEFAULTS = {"key_prefix": "marts", "group": "marts"}


            @asset
            def kpis():
                return pd.DataFrame({"v": [1]})
            """
        )
    )
    listed, shown = run_sequence(
        [(["list", "--output", "json"], tmp_path), (["show", "kpis", "--json"], tmp_path)]
    )
    assert listed.code == 0, listed.err
    (row,) = json.loads(listed.out)
    assert (row["key"], row["group"], row["owners"]) == ("marts/kpis", "marts", ["bi@example.com"])
    assert json.loads(shown.out)["key"] == "marts/kpis"
