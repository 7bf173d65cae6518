"""A one-module project configured in pyproject.toml."""

from __future__ import annotations

from typing import Any

from assets_core.model.decorator import asset, source

events = source("events", path="data/events.parquet")


@asset
def daily_events(events: Any) -> Any:
    return events
