"""The asset-kind seam: what every kind of asset tells the engine, so that the planner, the
executor, selection and lineage treat them alike.

A kind says three things about its assets:

- how it is **versioned**: ``code()`` returns a ``CodeSource``, what the code version hashes
  (Python code to follow through its helpers, texts such as a normalized SQL statement, and
  files whose content counts, such as a script a command runs);
- how its **dependencies** are found: ``spec.ins`` (the upstreams loaded into ``params``) and
  ``spec.deps`` (ordering and versioning only), both resolved when ``Definitions`` is built;
- how it **runs** given its inputs: ``run(inputs, context)``, where ``inputs`` maps each of
  ``params`` to the value loaded for it, as its annotation asks.

An ``observed`` kind (a source) is never run: its observed version is its data version, and
its data is read where it lies. Python functions (``Asset``) and sources (``SourceAsset``, both
in ``assets_core.model.spec``) are the first two kinds; a new kind is a class with these
members (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from assets_core.errors import Problem
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec, CodeSource, Param

__all__ = ["AnyAsset"]


class AnyAsset(Protocol):
    """An asset of any kind, as the engine sees it (the seam a new kind plugs into)."""

    @property
    def spec(self) -> AssetSpec: ...

    @property
    def file(self) -> str: ...  # where it is defined

    @property
    def line(self) -> int: ...

    @property
    def problems(self) -> tuple[Problem, ...]: ...  # found while declaring it

    @property
    def key(self) -> AssetKey: ...

    @property
    def location(self) -> str: ...  # "file.py:12"

    @property
    def kind(self) -> str: ...  # "python", "source", ...: what ``kind:`` selects

    @property
    def observed(self) -> bool: ...  # observed, never run (a source)

    @property
    def params(self) -> tuple[Param, ...]: ...  # the inputs ``run`` is given, in order

    @property
    def loadable(self) -> bool: ...  # its data can be loaded into a parameter

    def code(self) -> CodeSource: ...

    def run(self, inputs: Mapping[str, object], context: object) -> object: ...
