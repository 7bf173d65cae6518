"""What "now" is: as_of, else LUMBUNG_NOW, else the clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assets_core.errors import PartitionError
from assets_core.partitions import resolve_now


def test_as_of_wins_over_the_environment() -> None:
    env = {"LUMBUNG_NOW": "2020-01-01"}
    assert resolve_now("2024-01-05T13:00", env).isoformat() == "2024-01-05T13:00:00+00:00"
    assert resolve_now(None, env).isoformat() == "2020-01-01T00:00:00+00:00"
    assert resolve_now("2024-01-05T13:00+01:00", env).isoformat() == "2024-01-05T13:00:00+01:00"
    assert resolve_now("2024-01-05T12:00Z").isoformat() == "2024-01-05T12:00:00+00:00"
    naive = datetime(2024, 1, 5)
    assert resolve_now(naive).tzinfo == timezone.utc


def test_the_clock_when_nothing_is_pinned() -> None:
    now = resolve_now(None, {"LUMBUNG_NOW": ""})
    assert abs(now - datetime.now(timezone.utc)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("as_of", "env", "message"),
    [
        (
            None,
            {"LUMBUNG_NOW": "yesterday"},
            "LUMBUNG_NOW='yesterday' is not a date or time; write ISO 8601, e.g. 2024-01-05, "
            "2024-01-05T13:00 (UTC) or 2024-01-05T13:00+01:00.",
        ),
        (
            "2024-13-01",
            {},
            "--as-of='2024-13-01' is not a date or time; write ISO 8601, e.g. 2024-01-05, "
            "2024-01-05T13:00 (UTC) or 2024-01-05T13:00+01:00.",
        ),
    ],
)
def test_bad_now_is_one_line_naming_the_variable(
    as_of: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(PartitionError) as e:
        resolve_now(as_of, env)
    assert str(e.value) == message
