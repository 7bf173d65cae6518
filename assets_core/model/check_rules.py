"""What is wrong with a project's checks, found when ``Definitions`` is built: a custom
check of an asset that does not exist (or is a source, which is observed, never stored by
Lumbung), a relationships check naming an unknown asset, two checks of one asset sharing a
name. The declarations' own problems (a bad severity) are found where they are declared."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from assets_core.errors import Problem
from assets_core.model.checks import CustomCheck
from assets_core.model.keys import AssetKey
from assets_core.model.kinds import AnyAsset

__all__ = ["check_problems", "checks_by_asset"]


def _unknown(what: str, key: AssetKey, keys: Mapping[AssetKey, object]) -> str:
    close = difflib.get_close_matches(str(key), [str(k) for k in keys], n=1)
    hint = f"did you mean {close[0]!r}?" if close else "name an asset of the project."
    return f"{what} names asset {key}, which does not exist; {hint}"


def check_problems(
    assets: Mapping[AssetKey, AnyAsset], custom: Sequence[CustomCheck]
) -> list[Problem]:
    """Every problem of the checks of ``assets`` and of the ``custom`` checks."""
    problems: list[Problem] = []
    for a in assets.values():
        for spec in a.spec.checks:
            if spec.to is not None and spec.to not in assets:
                where = f"{a.file}:{a.line}"
                problems.append(
                    Problem(_unknown(f"check {spec.name}", spec.to, assets), str(a.key), where)
                )
        if a.spec.checks and a.observed:
            problems.append(
                Problem(
                    "a source cannot have checks (Lumbung observes it, never stores it); "
                    "check the first asset that reads it instead.",
                    str(a.key),
                    f"{a.file}:{a.line}",
                )
            )
    names = {a.key: {s.name for s in a.spec.checks} for a in assets.values()}
    for c in custom:
        problems += c.problems
        if c.problems:
            continue
        found = assets.get(c.asset)
        if found is None:
            problems.append(Problem(_unknown(f"check {c.name}", c.asset, assets), None, c.location))
        elif found.observed:
            problems.append(
                Problem(
                    f"check {c.name} is of source {c.asset}, which Lumbung observes and never "
                    "stores; check the first asset that reads it instead.",
                    str(c.asset),
                    c.location,
                )
            )
        elif c.name in names[c.asset]:
            problems.append(
                Problem(
                    f"check {c.name} is declared twice for {c.asset}; rename one.",
                    str(c.asset),
                    c.location,
                )
            )
        else:
            names[c.asset].add(c.name)
    return problems


def checks_by_asset(custom: Sequence[CustomCheck]) -> dict[AssetKey, tuple[CustomCheck, ...]]:
    """The custom checks grouped by the asset they check, in declaration order."""
    out: dict[AssetKey, list[CustomCheck]] = {}
    for c in custom:
        out.setdefault(c.asset, []).append(c)
    return {k: tuple(v) for k, v in out.items()}
