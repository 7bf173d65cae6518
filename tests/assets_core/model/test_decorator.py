"""``@asset`` reads parameters from the code object of a plain function; the result must equal
what ``inspect.signature`` gives for every kind of parameter, and anything that is not a plain
function still goes through ``inspect``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from assets_core.model.decorator import _build_asset, _parameters, asset


def _by_inspect(fn: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.annotation) for p in inspect.signature(fn).parameters.values()]


def plain(a, b: int, c: str = "x"):  # type: ignore[no-untyped-def]
    return a


def every_kind(a: int, /, b: float, *rest: int, c: str, d: bytes = b"", **more: int) -> None:
    pass


def keyword_only(*, x: int, y: int) -> None:
    pass


def only_kwargs(**more: object) -> None:
    pass


def with_locals(a: int) -> int:
    b = a + 1
    c = b * 2
    return c


def _wrapped(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return inner


class Callable_:
    def __call__(self, orders: int) -> int:
        return orders


@pytest.mark.parametrize(
    "fn",
    [
        plain,
        every_kind,
        keyword_only,
        only_kwargs,
        with_locals,
        lambda q, r=1: q,
        _wrapped(every_kind),
        functools.partial(every_kind, 1),
        Callable_(),
    ],
    ids=lambda f: getattr(f, "__name__", type(f).__name__),
)
def test_parameters_equal_inspect(fn: Callable[..., Any]) -> None:
    assert _parameters(fn) == _by_inspect(fn)


def test_string_annotations_stay_strings() -> None:
    # this module uses `from __future__ import annotations`, like most projects
    assert _parameters(with_locals) == [("a", inspect.Parameter.POSITIONAL_OR_KEYWORD, "int")]


def test_asset_from_a_wrapped_function_sees_the_wrapped_parameters() -> None:
    def orders(customers: int, context: object) -> int:
        """Orders.

        Indented detail."""
        return customers

    built = asset(_wrapped(orders))
    assert [p.name for p in built.params] == ["customers"]
    assert built.wants_context
    assert built.spec.description == "Orders.\n\nIndented detail."
    plain_built = asset(orders)
    assert plain_built.spec.description == "Orders.\n\nIndented detail."
    assert [str(k) for k in plain_built.spec.ins.values()] == ["customers"]


def documented(orders: int, context: Any, customers) -> int:  # type: ignore[no-untyped-def]
    """Revenue.

    Summed per day."""
    return orders


def context_only(context):  # type: ignore[no-untyped-def]
    """One line."""


def kw_context(*, raw: int, context: Any) -> None:
    pass


def _underscore(_a, b_2: pd.DataFrame) -> None:  # type: ignore[name-defined,no-untyped-def]  # noqa: F821
    pass


def non_ascii(ünï) -> None:  # type: ignore[no-untyped-def]
    pass


def generator(a):  # type: ignore[no-untyped-def]
    yield a


async def coroutine(a):  # type: ignore[no-untyped-def]
    return a


def with_attribute(a):  # type: ignore[no-untyped-def]
    return a


with_attribute.extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "fn",
    [
        plain,
        every_kind,
        keyword_only,
        documented,
        context_only,
        kw_context,
        _underscore,
        non_ascii,
        generator,
        coroutine,
        with_attribute,
        functools.partial(plain, 1),
        lambda x, y: x,
    ],
)
def test_bare_asset_builds_what_default_options_build(fn: Any) -> None:
    """Bare ``@asset`` checks no options; the asset it builds (and every problem it finds) is
    what the same function gets with every option given at its default."""
    defaults = {"group": "default", "retries": 0, "tags": None, "deps": None, "ins": None}
    assert _build_asset(fn, {}) == _build_asset(fn, defaults)
