"""What "now" is for partitions: an explicit ``as_of``, else ``LUMBUNG_NOW``, else the clock.

Pinning "now" makes which time partitions exist reproducible (tests, backfills, plans made
for a past date). Text is ISO 8601: a date (its midnight), or a date and time, with or without
a UTC offset; a time without an offset is UTC.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone

from assets_core.errors import PartitionError

NOW_ENV = "LUMBUNG_NOW"
_FORM = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?\Z")


def parse_now(text: str, what: str) -> datetime:
    """``text`` as a tz-aware instant; ``PartitionError`` naming ``what`` (``--as-of``,
    ``LUMBUNG_NOW``) when it is not ISO 8601."""
    stripped = text.strip()
    when = None
    if _FORM.match(stripped):
        try:
            when = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None:
        raise PartitionError(
            f"{what}={text!r} is not a date or time; write ISO 8601, e.g. 2024-01-05, "
            "2024-01-05T13:00 (UTC) or 2024-01-05T13:00+01:00."
        )
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def resolve_now(
    as_of: str | datetime | None = None, environ: Mapping[str, str] | None = None
) -> datetime:
    """The instant partitions are listed at: ``as_of`` when given (text or a datetime; naive
    means UTC), else ``LUMBUNG_NOW`` when set and not empty, else the clock. Always tz-aware."""
    if isinstance(as_of, datetime):
        return as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=timezone.utc)
    if as_of is not None:
        return parse_now(as_of, "--as-of")
    text = (os.environ if environ is None else environ).get(NOW_ENV)
    if text:
        return parse_now(text, NOW_ENV)
    return datetime.now(timezone.utc)
