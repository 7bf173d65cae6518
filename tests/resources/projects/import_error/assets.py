"""An asset module whose helper raises while it is imported."""

from __future__ import annotations

from assets_core.model.decorator import asset
from settings import THRESHOLD


@asset
def filtered() -> int:
    return THRESHOLD
