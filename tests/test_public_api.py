"""The public API is small, explicit and cheap to import."""

from __future__ import annotations

import subprocess
import sys

import assets_core

EXPECTED = [
    "AssetContext",
    "AssetKey",
    "CheckResult",
    "CsvOptions",
    "Definitions",
    "IOManager",
    "InputContext",
    "LumbungError",
    "MemoryIOManager",
    "OutputContext",
    "Plan",
    "RunRequest",
    "RunResult",
    "Session",
    "StepKey",
    "StoredOutput",
    "asset",
    "check",
    "command_asset",
    "load_project",
    "schedule",
    "sensor",
    "source",
]


def test_all_is_sorted_and_pinned() -> None:
    assert assets_core.__all__ == EXPECTED
    assert sorted(assets_core.__all__) == assets_core.__all__


def test_every_public_name_resolves() -> None:
    for name in assets_core.__all__:
        assert getattr(assets_core, name) is not None


def test_import_is_cheap() -> None:
    """Importing the package (as the CLI does first) loads no data library and no graph."""
    code = (
        "import sys, assets_core; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'duckdb', 'networkx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
