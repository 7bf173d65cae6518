"""Settings read at import time; the lookup fails."""

from __future__ import annotations

CONFIG: dict[str, int] = {}
THRESHOLD = CONFIG["threshold"]
