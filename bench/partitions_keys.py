"""Benchmark: partition keys, selections and mappings (``assets_core.partitions``), in one run.

Prints the best of several runs for:
- listing keys: 4 years of hourly partitions (35,064 in UTC; 35,065 in Europe/Berlin, whose
  first local hour is an hour earlier) and 3 years of daily ones (1,096);
- reading ``--partitions`` text and writing keys back as runs, over the 35,064 hourly keys;
- mapping 109,600 steps (100 assets x 1,096 days) upstream, in bulk (``upstream_many``), for
  each kind of edge: the same definition, ``window(-6, 0)``, a day reading its month, and the
  1,096 days read through 36 months; then ``downstream`` one key at a time (what a changed
  upstream partition makes stale).

Run: ``.venv/bin/python bench/partitions_keys.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from assets_core.partitions import (
    KeySpace,
    daily,
    hourly,
    mapping_for,
    monthly,
    runs,
    select,
    window,
)

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)
ASSETS = 100


def best(fn: Callable[[], object], repeat: int = 5) -> float:
    """The best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def row(what: str, seconds: float, items: int) -> None:
    rate = items / seconds if seconds else float("inf")
    print(f"  {what:<58} {seconds * 1000:8.2f} ms  {rate / 1e6:6.2f} M/s  ({items:,})")


def main() -> None:
    print("keys (best of 5, a fresh KeySpace each time)")
    for name, definition in [
        ("hourly, 4 years, UTC", hourly("2021-01-01")),
        ("hourly, 4 years, Europe/Berlin", hourly("2021-01-01", timezone="Europe/Berlin")),
        ("daily, 3 years, UTC", daily("2022-01-01")),
        ("daily, 3 years, Europe/Berlin", daily("2022-01-01", timezone="Europe/Berlin")),
        ("monthly, 3 years", monthly("2022-01-01")),
    ]:
        count = len(definition.keys(NOW))
        row(name, best(lambda d=definition: d.keys(NOW)), count)  # type: ignore[misc]

    hours = hourly("2021-01-01")
    keys = hours.keys(NOW)
    space = KeySpace(NOW)
    space.keys(hours)
    print("selections over 35,064 hourly keys (key list already made)")
    text = "2021-03-01T00:00..2024-10-31T23:00"
    row(f"select {text!r}", best(lambda: select(hours, text, space)), len(keys))
    gappy = keys[::2]
    row(
        "runs of every other key (17,532 runs)", best(lambda: runs(hours, gappy, space)), len(gappy)
    )
    row("runs of every key (1 run)", best(lambda: runs(hours, keys, space)), len(keys))

    days, months = daily("2022-01-01"), monthly("2022-01-01")
    print(f"mappings: {ASSETS} assets x 1,096 days = {ASSETS * 1096:,} steps, upstream_many")
    for name, up, down, spec in [
        ("same definition (identity)", days, days, None),
        ("window(-6, 0)", days, days, window(-6, 0)),
        ("a day reads its month", months, days, None),
        ("days through months (36 x 100 months)", days, months, None),
        (
            "a Berlin day reads UTC days (instants)",
            days,
            daily("2022-01-01", "2025-01-01", "Europe/Berlin"),
            None,
        ),
    ]:
        m = mapping_for(up, down, spec)

        def edges(m=m, down=down) -> int:  # type: ignore[no-untyped-def]
            s = KeySpace(NOW)
            down_keys = s.keys(down)
            return sum(len(m.upstream_many(down_keys, s)) for _ in range(ASSETS))

        steps = edges()
        row(name, best(edges, 3), steps)

    print("reverse: downstream of one key at a time")
    for name, up, down, spec in [
        ("window(-6, 0): a day is read by 7 windows", days, days, window(-6, 0)),
        ("a month reads its days: a day's month", days, months, None),
    ]:
        m = mapping_for(up, down, spec)
        up_keys = KeySpace(NOW).keys(up)
        s = KeySpace(NOW)
        row(
            name, best(lambda m=m, k=up_keys, s=s: [m.downstream(x, s) for x in k], 3), len(up_keys)
        )  # type: ignore[misc]


if __name__ == "__main__":
    main()
