"""``CodeVersion``, the value a versioner gives for an asset: its version and, per piece of code
that went into it, that piece's hash. Its own module so that both the versioner, which computes
versions, and the cache, which reads them back from disk, make it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["EMPTY", "CodeVersion"]

#: the empty mapping every empty default shares
EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CodeVersion:
    """The code version of one asset.

    ``version`` is a hex digest, or the pin itself when the asset sets ``code_version``.
    ``components`` maps each piece of code that went into it (``"module:qualname"`` for the
    asset's function, every followed helper function or class, and every followed constant)
    to the hash of that piece alone, so a planner can name what changed. Empty for a pin.
    """

    version: str
    components: Mapping[str, str] = field(default_factory=lambda: EMPTY, hash=False)
