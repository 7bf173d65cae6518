"""Module and folder defaults (``LUMBUNG_DEFAULTS``, ``[defaults."glob"]``): a key prefix,
group, owners and tags each asset gets unless it sets its own."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from assets_core.errors import ProjectError
from assets_core.model.project import ProjectConfig, find_project, load_definitions


@pytest.fixture(autouse=True)
def _restore_interpreter(tmp_path: Path) -> Iterator[None]:
    saved_path = list(sys.path)
    yield
    sys.path[:] = saved_path
    base = str(tmp_path.resolve())
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(base):
            del sys.modules[name]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


MARTS = """
import pandas as pd
from assets_core import asset

LUMBUNG_DEFAULTS = {"key_prefix": "marts", "group": "marts", "tags": ["daily"]}


@asset
def kpis(orders):
    return orders


@asset(group="finance", key="finance/revenue")
def revenue(orders):
    return orders


@asset(name="weekly", tags=[])
def weekly_kpis(kpis):
    return kpis
"""

STAGING = """
import pandas as pd
from assets_core import asset, source

raw = source("raw_orders", path="orders.csv")


@asset
def orders(raw_orders):
    return raw_orders
"""

TOML = """
modules = ["pipeline"]

[defaults."pipeline/*"]
owners = ["data@example.com"]
group = "pipeline"

[defaults."pipeline/staging.py"]
key_prefix = "stg"
tags = ["raw"]
"""


def test_module_and_folder_defaults_apply_unless_the_asset_sets_its_own(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "lumbung.toml": TOML,
            "pipeline/__init__.py": "",
            "pipeline/marts.py": MARTS,
            "pipeline/staging.py": STAGING,
            "orders.csv": "id\n1\n",
        },
    )
    defs = load_definitions(find_project(tmp_path))
    got = {
        str(k): (a.spec.group, sorted(a.spec.tags), a.spec.owners) for k, a in defs.assets.items()
    }
    assert got == {
        "marts/kpis": ("marts", ["daily"], ("data@example.com",)),
        "finance/revenue": ("finance", ["daily"], ("data@example.com",)),
        "marts/weekly": ("marts", [], ("data@example.com",)),
        "raw_orders": ("pipeline", ["raw"], ("data@example.com",)),  # a source keeps its name
        "stg/orders": ("pipeline", ["raw"], ("data@example.com",)),
    }
    # bare parameter names find the prefixed assets (the one asset of that name)
    assert str(defs.get("marts/kpis").spec.ins["orders"]) == "stg/orders"
    assert str(defs.get("marts/weekly").spec.ins["kpis"]) == "marts/kpis"


def test_config_defaults_survive_the_trip_to_a_worker(tmp_path: Path) -> None:
    _write(tmp_path, {"lumbung.toml": TOML})
    config = find_project(tmp_path)
    assert ProjectConfig.from_json(config.to_json()) == config
    assert [glob for glob, _ in config.defaults] == ["pipeline/*", "pipeline/staging.py"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"lumbung.toml": '[defaults."x/*"]\ngrup = "a"\n'},
            "{toml}: [defaults.\"x/*\"] has unknown key 'grup'; defaults set group, key_prefix, "
            "owners, tags.",
        ),
        (
            {"lumbung.toml": '[defaults."x/*"]\nkey_prefix = "a b"\n'},
            "{toml}: [defaults.\"x/*\"] key_prefix='a b' is not valid: give segments of letters, "
            "digits and '_' joined by '/', such as 'marts' or 'marts/finance'.",
        ),
        (
            {"lumbung.toml": 'defaults = "marts"\n'},
            "{toml}: defaults: must be tables of globs, got 'marts'; write for example "
            '[defaults."marts/*"] with group = "marts".',
        ),
        (
            {
                "lumbung.toml": "",
                "assets.py": 'LUMBUNG_DEFAULTS = {"owners": 3}\n',
            },
            "assets.py: LUMBUNG_DEFAULTS owners=3 is not valid: give a list of non-empty strings.",
        ),
    ],
)
def test_bad_defaults_are_one_line(tmp_path: Path, files: dict[str, str], message: str) -> None:
    _write(tmp_path, files)
    with pytest.raises(ProjectError) as err:
        load_definitions(find_project(tmp_path))
    assert str(err.value) == message.format(toml=tmp_path / "lumbung.toml")
