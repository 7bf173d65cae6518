"""``LazyMapping``: built once, on first read, and otherwise a plain read-only mapping."""

from __future__ import annotations

import copy
import pickle

from assets_core.lazymap import LazyMapping


class Counted(LazyMapping[str, int]):
    __slots__ = ("loads",)

    def __init__(self) -> None:
        self._data = None
        self.loads = 0

    def _load(self) -> dict[str, int]:
        self.loads += 1
        return {"a": 1, "b": 2}


def test_loads_once_on_first_read_and_reads_like_a_dict() -> None:
    m = Counted()
    assert m.loads == 0
    assert m["a"] == 1 and list(m) == ["a", "b"] and len(m) == 2
    assert m == {"a": 1, "b": 2} and m.get("c") is None
    assert repr(m) == "{'a': 1, 'b': 2}"
    assert m.loads == 1


def test_pickles_and_copies_as_a_plain_dict() -> None:
    m = Counted()
    assert pickle.loads(pickle.dumps(m)) == {"a": 1, "b": 2}
    assert type(copy.copy(m)) is dict
