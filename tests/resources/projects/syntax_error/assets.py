"""An asset module with a syntax error on line 8."""

from assets_core.model.decorator import asset


@asset
def broken() -> int:
    return (1 +
