"""``Definitions``: a project's assets with their graph resolved, as one immutable value.

Building one resolves each parameter to a key (the asset's own prefix first, then the root),
validates everything at once (one ``DefinitionError`` listing every problem) and builds the
graph. A ``Definitions`` holds no state, does no IO and runs nothing: a ``Session``
(``assets_core.session``) binds it to storage, state and IO managers and plans and runs it.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, cast

from assets_core.errors import AmbiguousAssetError, DefinitionError, Problem, UnknownAssetError
from assets_core.model.automation import (
    Automation,
    Schedule,
    Sensor,
    automation_problems,
    collect_automations,
)
from assets_core.model.check_rules import check_problems, checks_by_asset
from assets_core.model.checks import CustomCheck
from assets_core.model.graph import AssetGraph
from assets_core.model.keys import (
    AssetKey,
    CoercibleToKey,
    StepKey,
    checked_key,
    names_of,
    step_of,
)
from assets_core.model.kinds import AnyAsset
from assets_core.model.spec import ASSET_KINDS, AssetSpec, SourceAsset
from assets_core.model.validate import KeyCheck, check_io_managers, check_storable, validate
from assets_core.partitions.mapping import MappingSpec
from assets_core.partitions.multi import MultiPartitions
from assets_core.partitions.space import PartitionsDefinition
from assets_core.partitions.static import DynamicPartitions

__all__ = ["DEFAULT_IO_MANAGER", "Definitions", "collect_assets", "collect_checks"]

DEFAULT_IO_MANAGER = "parquet"


def _resolve_ins(
    assets: Sequence[AnyAsset],
) -> tuple[list[AnyAsset], dict[AssetKey, dict[str, AssetKey]]]:
    """Bind each implicit parameter to a key (DESIGN §3): ``<prefix>/<param>`` if defined,
    else ``<param>`` at the root, else the one asset anywhere whose last segment is
    ``<param>``. Returns the assets with resolved specs and, per asset, the parameters left
    unresolved (none such, or several: ``check_dependencies`` says which)."""
    known = {a.key for a in assets}
    by_name: dict[str, list[AssetKey]] | None = None  # built at the first miss
    out: list[AnyAsset] = []
    unresolved: dict[AssetKey, dict[str, AssetKey]] = {}
    for a in assets:
        implicit: frozenset[str] = getattr(a, "implicit_ins", frozenset())
        if not implicit:
            out.append(a)
            continue
        ins = a.spec.ins
        resolved = dict(ins)
        prefix = a.key[:-1]
        for p in implicit:
            # an implicit parameter is one valid segment (each kind checks it when declared)
            local = checked_key((*prefix, p))
            if local in known:
                resolved[p] = local
            elif resolved[p] not in known:
                if by_name is None:
                    by_name = names_of(known)
                found = by_name.get(p, ())
                if len(found) == 1:
                    resolved[p] = found[0]
                else:
                    unresolved.setdefault(a.key, {})[p] = resolved[p]
        if resolved == ins:
            out.append(a)
        else:
            spec = replace(a.spec, ins=MappingProxyType(resolved))
            out.append(replace(cast(Any, a), spec=spec))
    return out, unresolved


class Definitions:
    """Every asset of a project, with its upstream keys and graph; an immutable value.

    ``root`` is the project folder: relative source paths and files read as code are read
    from it (default: the current folder). ``default_io_manager`` names the manager of every
    asset that names none. ``io_managers``, when given, are the manager names that exist; an
    asset naming another one is a definition problem, reported with all the others (a
    ``Session`` checks the names again against the managers it has). ``key_checks``, with
    them, gives each manager's own check of the keys it stores (``validate.check_storable``):
    a key it cannot store is a problem too, and ``keys_checked`` names the managers checked
    (those of ``io_managers`` that the assets use: ``io_managers`` is only asked about the
    names used, never listed, unless one is unknown).
    ``automations`` are the project's schedules and sensors (``model.automation``).
    """

    def __init__(
        self,
        assets: Iterable[AnyAsset] = (),
        *,
        root: str | Path | None = None,
        default_io_manager: str = DEFAULT_IO_MANAGER,
        io_managers: Collection[str] | None = None,
        key_checks: Callable[[str], KeyCheck | None] | None = None,
        checks: Iterable[CustomCheck] = (),
        automations: Iterable[Automation] = (),
    ) -> None:
        self.root = Path(root if root is not None else Path.cwd()).resolve()
        self.default_io_manager = default_io_manager
        custom = list(checks)
        items: list[AnyAsset] = []
        for given in assets:  # custom checks may come with the assets
            if isinstance(given, CustomCheck):
                custom.append(given)
            else:
                items.append(given)
        for item in cast(list[object], items):
            if not isinstance(item, ASSET_KINDS):
                what = type(item).__name__
                raise DefinitionError(
                    [Problem(f"Definitions got a {what}, not an asset; decorate it with @asset.")]
                )
        resolved, unresolved = _resolve_ins(items)
        by_key: dict[AssetKey, AnyAsset] = {}
        for a in resolved:
            by_key.setdefault(a.key, a)
        self.assets: Mapping[AssetKey, AnyAsset] = MappingProxyType(by_key)
        #: each asset's upstream keys in declaration order (loaded first, then ``deps``)
        self.upstream: Mapping[AssetKey, tuple[AssetKey, ...]] = MappingProxyType(
            {k: a.spec.upstream for k, a in by_key.items()}
        )
        #: the sources, the one observed kind
        self.sources: Mapping[AssetKey, SourceAsset] = MappingProxyType(
            {k: cast(SourceAsset, a) for k, a in by_key.items() if a.observed}
        )
        self.graph = AssetGraph(self.upstream)
        problems = validate(resolved, self.graph, unresolved, self.root, by_key)
        problems += check_problems(by_key, custom)
        #: the custom ``@check`` functions of each asset that has some
        self.custom_checks: Mapping[AssetKey, tuple[CustomCheck, ...]] = MappingProxyType(
            checks_by_asset(custom)
        )
        #: whether any asset has data checks (planning reads their results only then)
        self.has_checks = bool(custom) or any(a.spec.checks for a in resolved)
        declared = list(automations)
        problems += automation_problems(declared, self.root)
        #: the schedules and the sensors, by name
        self.schedules: Mapping[str, Schedule] = MappingProxyType(
            {a.name: a for a in declared if isinstance(a, Schedule)}
        )
        self.sensors: Mapping[str, Sensor] = MappingProxyType(
            {a.name: a for a in declared if isinstance(a, Sensor)}
        )
        #: the IO managers, of those the assets use, whose own key checks they passed
        self.keys_checked: frozenset[str] = frozenset()
        if io_managers is not None:
            problems += check_io_managers(resolved, io_managers, default_io_manager)
            if key_checks is not None:
                problems += check_storable(resolved, io_managers, default_io_manager, key_checks)
                self.keys_checked = frozenset(
                    name for name in self.io_manager_names() if name in io_managers
                )
        if problems:
            raise DefinitionError([p.relative_to(self.root) for p in problems])

    @classmethod
    def from_modules(cls, *modules: ModuleType | str, **kwargs: Any) -> Definitions:
        """Definitions from every asset found as an attribute of the given modules, and the
        schedules and sensors they declare."""
        import importlib

        mods = [importlib.import_module(m) if isinstance(m, str) else m for m in modules]
        kwargs.setdefault("automations", collect_automations(mods))
        return cls(collect_assets(mods), checks=collect_checks(mods), **kwargs)

    # ---- lookups ---------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        try:
            return AssetKey.parse(key) in self.assets  # type: ignore[arg-type]
        except (DefinitionError, TypeError):
            return False

    def __len__(self) -> int:
        return len(self.assets)

    def get(self, key: CoercibleToKey) -> AnyAsset:
        """The asset a key or bare name means (``resolve``)."""
        return self.assets[self.resolve(key)]

    def resolve(self, name: CoercibleToKey) -> AssetKey:
        """The key a name means (DESIGN §3): the asset with that key, else the one asset whose
        last segment is that bare name. None: ``UnknownAssetError`` (a ``KeyError``) with a
        suggestion; several: ``AmbiguousAssetError`` listing them."""
        k = AssetKey.parse(name)
        if k in self.assets:
            return k
        if len(k) == 1:
            found = self._by_name.get(k.name, ())
            if len(found) == 1:
                return found[0]
            if found:
                listed = ", ".join(str(x) for x in found)
                raise AmbiguousAssetError(
                    f"'{k}' names {len(found)} assets: {listed}; give the full key."
                )
        pool = [str(x) for x in self.assets] + list(self._by_name)
        close = difflib.get_close_matches(str(k), pool, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UnknownAssetError(f"no asset '{k}'.{hint}")

    @cached_property
    def _by_name(self) -> Mapping[str, list[AssetKey]]:
        return names_of(self.assets)

    def io_manager_name(self, asset: AnyAsset) -> str:
        """The name of the IO manager that stores ``asset``'s output."""
        return asset.spec.io_manager or self.default_io_manager

    @cached_property
    def specs(self) -> Mapping[AssetKey, AssetSpec]:
        """Each asset's spec, by key."""
        return MappingProxyType({k: a.spec for k, a in self.assets.items()})

    @cached_property
    def upstream_steps(self) -> Mapping[AssetKey, tuple[StepKey, ...]]:
        """Each asset's upstream steps: ``upstream`` as step keys (the one step of each
        unpartitioned upstream)."""
        return MappingProxyType({k: tuple(map(step_of, ups)) for k, ups in self.upstream.items()})

    @cached_property
    def partitions(self) -> Mapping[AssetKey, PartitionsDefinition]:
        """The partitions definition of each partitioned asset (sources included)."""
        return MappingProxyType(
            {k: a.spec.partitions for k, a in self.assets.items() if a.spec.partitions is not None}
        )

    @cached_property
    def dynamic_sets(self) -> frozenset[str]:
        """The names of the dynamic partitions sets the assets use (``dynamic("customers")``,
        also as a dimension of ``multi``)."""
        names: set[str] = set()
        for definition in self.partitions.values():
            dims = (
                definition.dims if isinstance(definition, MultiPartitions) else (("", definition),)
            )
            names.update(d.name for _, d in dims if isinstance(d, DynamicPartitions))
        return frozenset(names)

    @cached_property
    def edge_mappings(self) -> Mapping[AssetKey, tuple[MappingSpec | None, ...]]:
        """Each asset's mapping spec per upstream key (``ins=``), in the order of ``upstream``
        (``None``: the default mapping); only assets that give one."""
        out: dict[AssetKey, tuple[MappingSpec | None, ...]] = {}
        for k, a in self.assets.items():
            spec = a.spec
            if not spec.mappings:
                continue
            by_key: dict[AssetKey, MappingSpec] = {}
            for param, up in spec.ins.items():
                found = spec.mappings.get(param)
                if found is not None:
                    by_key.setdefault(up, found)
            out[k] = tuple(by_key.get(up) for up in self.upstream[k])
        return MappingProxyType(out)

    @property
    def materialized(self) -> list[AssetKey]:
        """The keys of every asset that is run and stored (every kind but sources)."""
        return [k for k, a in self.assets.items() if not a.observed]

    def io_manager_names(self) -> set[str]:
        """The names of the IO managers the assets use."""
        return {self.io_manager_name(a) for a in self.assets.values() if not a.observed}


def collect_assets(modules: list[ModuleType]) -> list[AnyAsset]:
    """Each asset once, by the scanned module that defines it, then line. An asset defined in
    a file that is not scanned goes after the assets of the first module that imports it."""
    order: dict[str, int] = {}
    for index, module in enumerate(modules):
        file = getattr(module, "__file__", None)
        if file is not None:
            order.setdefault(file, index)
    owned: list[list[AnyAsset]] = [[] for _ in modules]
    foreign: list[list[AnyAsset]] = [[] for _ in modules]
    seen: set[int] = set()
    for index, module in enumerate(modules):
        for value in vars(module).values():
            if isinstance(value, ASSET_KINDS) and id(value) not in seen:
                seen.add(id(value))
                found_asset = cast(AnyAsset, value)
                own = order.get(found_asset.file)
                if own is None:
                    foreign[index].append(found_asset)
                else:
                    owned[own].append(found_asset)
    found: list[AnyAsset] = []
    for mine, theirs in zip(owned, foreign, strict=True):
        mine.sort(key=_by_line)  # stable: same line keeps the order of vars()
        theirs.sort(key=_by_file_line)
        found += mine
        found += theirs
    return found


def collect_checks(modules: list[ModuleType]) -> list[CustomCheck]:
    """Each custom ``@check`` defined at module level in ``modules``, once, in module order
    then by line."""
    found: dict[int, CustomCheck] = {}
    for module in modules:
        mine = [v for v in vars(module).values() if isinstance(v, CustomCheck)]
        for c in sorted(mine, key=_by_file_line):
            found.setdefault(id(c), c)
    return list(found.values())


_by_line = operator.attrgetter("line")
_by_file_line = operator.attrgetter("file", "line")


_by_line = operator.attrgetter("line")
_by_file_line = operator.attrgetter("file", "line")
