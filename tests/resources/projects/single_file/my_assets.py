"""A whole project in one file."""

from __future__ import annotations

from assets_core.model.decorator import asset


@asset
def numbers() -> list[int]:
    return [1, 2, 3]


@asset
def doubled(numbers: list[int]) -> list[int]:
    return [n * 2 for n in numbers]
