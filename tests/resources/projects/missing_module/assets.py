"""The module that exists; `reports`, also listed, does not."""

from __future__ import annotations

from assets_core.model.decorator import asset


@asset
def present() -> int:
    return 1
