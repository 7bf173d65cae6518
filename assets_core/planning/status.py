"""The one status rule: what ``list``, ``show``, ``lineage``, ``status:`` selection and the
web UI call an asset, read from the plan ``materialize`` would make for the same selection.

- ``failed``: its last attempt failed, with the code and inputs it has now (the planner's
  ``PlanStep.failed``). As soon as the code or an input differs from what failed, it is
  whatever the rest of this rule says: a revert to the last good code is ``fresh``.
- ``missing``: never materialized, or its stored output is gone (also while it waits for
  upstream partitions that do not exist yet).
- ``stale``: ``materialize`` with this selection would run it (stale, pending or forced).
- ``fresh``: it would not. When an unselected upstream is not fresh, the stored output it
  reads is out of date: it is ``fresh (upstream stale)``, and selecting ``+KEY`` rebuilds the
  upstream too. It is never called stale, because this selection would not run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from assets_core.model.keys import AssetKey
from assets_core.planning.planner import PlanStep

__all__ = ["STATUSES", "AssetStatus", "status_of", "status_of_steps"]

Status = Literal["fresh", "stale", "missing", "failed"]
#: the statuses, in the order listings count them
STATUSES: tuple[Status, ...] = ("fresh", "stale", "missing", "failed")


@dataclass(frozen=True, slots=True)
class AssetStatus:
    """An asset's status by the one rule, and the plan step it was read from."""

    status: Status
    step: PlanStep
    #: an unselected upstream that is not fresh (only for a ``fresh`` asset)
    upstream_stale: AssetKey | None = None

    def __str__(self) -> str:
        if self.upstream_stale is not None:
            return f"{self.status} (upstream stale)"
        return self.status

    @property
    def hint(self) -> str | None:
        """How to rebuild the stale upstream too, when there is one."""
        if self.upstream_stale is None:
            return None
        return f"{self.upstream_stale} is not fresh; select +{self.step.key} to rebuild it too"


def status_of(step: PlanStep) -> AssetStatus:
    """The status of one planned step (see the module docstring)."""
    if step.failed:
        return AssetStatus("failed", step)
    if step.status == "missing" or (
        step.status == "waiting" and any(r.code == "never_materialized" for r in step.reasons)
    ):
        return AssetStatus("missing", step)
    if step.status == "fresh":
        return AssetStatus("fresh", step, step.upstream_stale)
    return AssetStatus("stale", step)


#: the statuses from worst to best: a partitioned asset is as bad as its worst partition
_WORST_FIRST: tuple[Status, ...] = ("failed", "missing", "stale", "fresh")


def status_of_steps(steps: list[PlanStep], key: AssetKey) -> AssetStatus:
    """The status of an asset of several steps (its partitions): its worst step's, by the
    rule above (``fresh`` when it has none yet). Counts per status come with
    ``lumbung partitions ASSET``."""
    if not steps:
        return AssetStatus("fresh", PlanStep(key, "fresh"))
    found = [status_of(s) for s in steps]
    return min(found, key=lambda a: _WORST_FIRST.index(a.status))
