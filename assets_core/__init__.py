"""Lumbung: asset-centric data pipelines with exact, explained staleness.

The public API is the names in ``__all__``; everything else is internal. Every name loads on
first use, so ``import assets_core`` (and with it ``lumbung --help``) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assets_core.errors import LumbungError
    from assets_core.execution.result import RunResult
    from assets_core.model.automation import RunRequest, schedule, sensor
    from assets_core.model.checks import CheckResult, check
    from assets_core.model.command import command_asset
    from assets_core.model.csv_options import CsvOptions
    from assets_core.model.decorator import asset, source
    from assets_core.model.definitions import Definitions
    from assets_core.model.keys import AssetKey, StepKey
    from assets_core.planning.planner import Plan
    from assets_core.session import Session, load_project
    from assets_core.storage.io import (
        AssetContext,
        InputContext,
        IOManager,
        MemoryIOManager,
        OutputContext,
        StoredOutput,
    )

#: the one place the version is written (pyproject.toml reads it from here)
__version__ = "0.2.0"

__all__ = [
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

_LAZY = {
    "asset": "assets_core.model.decorator",
    "source": "assets_core.model.decorator",
    "CsvOptions": "assets_core.model.csv_options",
    "RunRequest": "assets_core.model.automation",
    "command_asset": "assets_core.model.command",
    "schedule": "assets_core.model.automation",
    "sensor": "assets_core.model.automation",
    "check": "assets_core.model.checks",
    "CheckResult": "assets_core.model.checks",
    "LumbungError": "assets_core.errors",
    "AssetKey": "assets_core.model.keys",
    "StepKey": "assets_core.model.keys",
    "Definitions": "assets_core.model.definitions",
    "Session": "assets_core.session",
    "load_project": "assets_core.session",
    "RunResult": "assets_core.execution.result",
    "Plan": "assets_core.planning.planner",
    "AssetContext": "assets_core.storage.io",
    "IOManager": "assets_core.storage.io",
    "InputContext": "assets_core.storage.io",
    "MemoryIOManager": "assets_core.storage.io",
    "OutputContext": "assets_core.storage.io",
    "StoredOutput": "assets_core.storage.io",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'assets_core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
