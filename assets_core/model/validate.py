"""Pure checks over a project's definitions; every problem is reported at once.

Each check takes the resolved assets (and what else it needs) and returns a list of
``Problem``s; ``validate`` runs them all and returns every problem found, which
``Definitions`` raises as one ``DefinitionError``, so a user fixes a project in one pass, not
one error at a time.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from assets_core.errors import Problem, display_path
from assets_core.model.annotations import INPUTS, RETURNS, input_kind, returns_ok
from assets_core.model.graph import AssetGraph
from assets_core.model.keys import AssetKey, names_of
from assets_core.model.kinds import AnyAsset
from assets_core.partitions.resolve import mapping_problems


def _where(a: AnyAsset, root: Path | None = None) -> str:
    """``file:line`` of an asset; the file relative to ``root`` when given (a problem's own
    location is made relative when the problems are reported)."""
    return f"{a.file if root is None else display_path(a.file, root)}:{a.line}"


def _problem(a: AnyAsset, message: str) -> Problem:
    return Problem(message, str(a.key), _where(a))


def check_decoration(assets: Sequence[AnyAsset]) -> list[Problem]:
    """Problems the decorator found (bad keys, bad option values)."""
    return [p for a in assets for p in a.problems]


def _shown(annotation: object) -> str:
    """An annotation as a user would write it: ``dict``, ``list[int]``, ``pandas.DataFrame |
    None``, ``'pd.Series'``."""
    if annotation is type(None):
        return "None"
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " | ".join(_shown(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type) and not typing.get_args(annotation):
        module = annotation.__module__.split(".")[0]
        name = annotation.__qualname__
        return name if module == "builtins" else f"{module}.{name}"
    return repr(annotation) if isinstance(annotation, str) else str(annotation)


def check_annotations(assets: Sequence[AnyAsset]) -> list[Problem]:
    """Every input annotation names a kind Lumbung can load it as, and every return
    annotation one it can store (``assets_core.model.annotations``)."""
    problems = []
    for a in assets:
        for p in a.params:
            if input_kind(p.annotation) is None:
                problems.append(
                    _problem(
                        a,
                        f"parameter '{p.name}' is annotated {_shown(p.annotation)}, which "
                        f"Lumbung cannot load an asset as; annotate it as {INPUTS}.",
                    )
                )
        returns = getattr(a, "returns", inspect.Parameter.empty)
        if not returns_ok(returns):
            problems.append(
                _problem(
                    a,
                    f"returns {_shown(returns)}, which no IO manager can store; return {RETURNS}.",
                )
            )
    return problems


def check_code_files(assets: Sequence[AnyAsset], root: Path) -> list[Problem]:
    """Every file an asset reads as code exists (its bytes are part of the code version)."""
    problems = []
    for a in assets:
        for name in a.code().files:
            if not (root / name).is_file():
                problems.append(
                    _problem(
                        a,
                        f"code_files names {name!r}, which is not a file; "
                        "give its path relative to the project folder.",
                    )
                )
    return problems


def check_unique_keys(
    assets: Sequence[AnyAsset],
    by_key: Mapping[AssetKey, AnyAsset] | None = None,
    root: Path | None = None,
) -> list[Problem]:
    """Two assets with one key. ``by_key`` (each key's first asset), when the caller has
    it, answers the common case, no duplicates, without another pass."""
    if by_key is not None and len(by_key) == len(assets):
        return []
    first: dict[AssetKey, AnyAsset] = {}
    problems = []
    for a in assets:
        other = first.setdefault(a.key, a)
        if other is not a:
            problems.append(
                _problem(
                    a,
                    f"duplicate key '{a.key}': also defined at {_where(other, root)}; "
                    "give one of them another name (name= or key=).",
                )
            )
    return problems


def _suggest(missing: AssetKey, known: Collection[AssetKey]) -> str:
    names = {str(k): k for k in known}
    names.update({k.name: k for k in known if k.name not in names})
    close = difflib.get_close_matches(str(missing), list(names), n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(missing.name, list(names), n=1, cutoff=0.6)
    return f" Did you mean '{names[close[0]]}'?" if close else ""


def check_dependencies(
    assets: Sequence[AnyAsset],
    unresolved: Mapping[AssetKey, Mapping[str, AssetKey]],
    by_key: Mapping[AssetKey, AnyAsset] | None = None,
    root: Path | None = None,
) -> list[Problem]:
    """Every loaded parameter and every ``deps`` entry must name a defined asset; a parameter
    cannot load a source that has no path (``observe=`` sources are for ``deps``)."""
    if by_key is None:
        by_key = {a.key: a for a in assets}
    problems = []
    get = by_key.get
    names: Mapping[str, list[AssetKey]] | None = None
    for a in assets:
        for param, up in a.spec.ins.items():
            target = get(up)
            if target is None:
                looked = unresolved.get(a.key, {}).get(param)
                if looked is not None:
                    if names is None:
                        names = names_of(by_key)
                    several = names.get(up.name, [])
                    if len(several) > 1:
                        listed = ", ".join(f"{k} ({_where(by_key[k], root)})" for k in several)
                        problems.append(
                            _problem(
                                a,
                                f"parameter '{param}' could name {len(several)} assets "
                                f"called '{up.name}': {listed}; map it with "
                                f"ins={{'{param}': '{several[0]}'}}.",
                            )
                        )
                        continue
                where = f"'{up}'" if looked is None else f"'{up.name}'"
                if a.kind == "sql":  # a table in a SQL file: its own line and fix
                    problems.append(_unknown_table(a, param, up, by_key))
                    continue
                problems.append(
                    _problem(
                        a,
                        f"parameter '{param}' names {where}, which is not defined."
                        + _suggest(up, by_key)
                        + " Define that asset, fix the name, or map it with ins=.",
                    )
                )
            elif not target.loadable:
                problems.append(
                    _problem(
                        a,
                        f"parameter '{param}' reads source '{up}', which has no path to "
                        f"read; list it in deps=['{up}'] instead.",
                    )
                )
        for up in a.spec.deps:
            if up not in by_key:
                problems.append(
                    _problem(
                        a,
                        f"deps names '{up}', which is not defined." + _suggest(up, by_key),
                    )
                )
    return problems


def _unknown_table(
    a: AnyAsset, table: str, up: AssetKey, by_key: Mapping[AssetKey, AnyAsset]
) -> Problem:
    """A SQL asset's table that names no asset, at the line it is written on."""
    line = getattr(a, "lines", {}).get(table, a.line)
    named = f" (key '{up}')" if "." in table else ""
    hint = _suggest(up, by_key)
    if hint:  # in the SQL's own spelling: a.b for a/b, a__b.c for a/b/c
        close = AssetKey.parse(hint.split("'")[1])
        spelled = str(close) if len(close) == 1 else "__".join(close[:-1]) + "." + close[-1]
        hint = f" Did you mean '{spelled}'?"
    return Problem(
        f"table '{table}'{named} is not an asset or source.{hint} Define it, or fix the name.",
        str(a.key),
        f"{a.file}:{line}",
    )


def check_partition_mappings(
    assets: Sequence[AnyAsset], by_key: Mapping[AssetKey, AnyAsset] | None = None
) -> list[Problem]:
    """Every upstream's partitions map to the asset's own (DESIGN §12): definitions that
    cannot be matched, and a mapping in ``ins=`` on an unpartitioned side, are problems, one
    per pair, naming both assets and the fix."""
    if not any(a.spec.partitions is not None or a.spec.mappings for a in assets):
        return []  # nothing partitioned and no mapping given: nothing to match
    if by_key is None:
        by_key = {a.key: a for a in assets}
    problems = []
    for a in assets:
        spec = a.spec
        own = spec.partitions
        params = {up: p for p, up in reversed(list(spec.ins.items()))}  # each key's first param
        for up in spec.upstream:
            target = by_key.get(up)
            if target is None:
                continue  # reported by check_dependencies
            param = params.get(up)
            mapping = spec.mappings.get(param) if param is not None else None
            theirs = target.spec.partitions
            if own is None and theirs is None and mapping is None:
                continue
            for p in mapping_problems(str(a.key), str(up), own, theirs, mapping, param):
                problems.append(_problem(a, p.message))
    return problems


def check_acyclic(assets: Sequence[AnyAsset], graph: AssetGraph) -> list[Problem]:
    cycle = graph.find_cycle()
    if cycle is None:
        return []
    by_key = {a.key: a for a in assets}
    path = " -> ".join(str(k) for k in cycle)
    return [
        _problem(
            by_key[cycle[0]],
            f"dependency cycle: {path} (each feeds the next); remove one of these dependencies.",
        )
    ]


def check_io_managers(
    assets: Sequence[AnyAsset], known: Collection[str], default: str
) -> list[Problem]:
    """Every asset whose IO manager is not in ``known``. Each name used is asked once, and
    ``known`` is listed only for the message: a session's registry answers for the managers
    Lumbung ships without reading the installed entry points, not when it lists them all."""
    used = {a.spec.io_manager or default for a in assets if not a.observed}
    unknown = {name for name in used if name not in known}
    if not unknown:
        return []
    problems = []
    names = ", ".join(sorted(known))
    for a in assets:
        if a.observed:
            continue
        name = a.spec.io_manager or default
        if name in unknown:
            hint = difflib.get_close_matches(name, list(known), n=1)
            mean = f" Did you mean '{hint[0]}'?" if hint else ""
            problems.append(
                _problem(
                    a,
                    f"unknown io manager '{name}'.{mean} Known: {names}; register others with "
                    "Session(defs, io_managers={...}).",
                )
            )
    return problems


KeyCheck = Callable[[AssetKey], "str | None"]


def check_storable(
    assets: Sequence[AnyAsset],
    names: Collection[str],
    default: str,
    checker_of: Callable[[str], KeyCheck | None],
) -> list[Problem]:
    """Keys their IO manager cannot store, for the assets of the managers in ``names``:
    ``checker_of(name)`` is that manager's own check (why, and the fix), or ``None`` when it
    stores every key."""
    checks: dict[str, KeyCheck | None] = {}
    problems = []
    for a in assets:
        if a.observed:
            continue
        name = a.spec.io_manager or default
        if name not in names:
            continue
        check = checks[name] if name in checks else checks.setdefault(name, checker_of(name))
        if check is not None:
            problem = check(a.key)
            if problem is not None:
                problems.append(_problem(a, problem))
    return problems


def validate(
    assets: Sequence[AnyAsset],
    graph: AssetGraph,
    unresolved: Mapping[AssetKey, Mapping[str, AssetKey]],
    root: Path,
    by_key: Mapping[AssetKey, AnyAsset] | None = None,
) -> list[Problem]:
    """Every problem of the project's structure (the IO manager names are checked apart, by
    ``check_io_managers``, against the managers there are). ``by_key`` maps each key to its
    first asset, when the caller has built it already."""
    problems = [
        *check_decoration(assets),
        *check_unique_keys(assets, by_key, root),
        *check_dependencies(assets, unresolved, by_key, root),
        *check_annotations(assets),
        *check_code_files(assets, root),
        *check_partition_mappings(assets, by_key),
    ]
    if not any(p.message.startswith("duplicate key") for p in problems):
        problems += check_acyclic(assets, graph)
    return problems
