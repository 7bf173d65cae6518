"""Orphans: stored outputs no asset uses any more, and their records (``lumbung wipe --orphans``).

The state store remembers where every success stored its output. An orphan is one of those
places the project no longer stores that step at:

- every recorded output of a key that is no longer an asset (removed, renamed, or now a
  source), and the records of such a key even when none names an output (it only failed);
- an output of a defined asset recorded under an IO manager, or at a place, it no longer uses
  (its IO manager changed from ``parquet`` to ``duckdb``, say).

Places are compared as IO managers name them (``location_of``): the manager an asset uses now
says where it stores the asset, and the manager that stored an orphan is the one configured
here that names the same place for that step. An asset whose manager cannot say where it stores
(no ``location`` method) has no orphans, because nothing tells its old outputs from its current
one; and a place a defined asset's manager names now is never removed, whoever recorded it.

An output that no manager configured here recognises (its manager was uninstalled, or was
given to an earlier ``Session`` in code) cannot be removed through the manager that stored it:
it is listed as kept, with its records, until that manager is configured again. Lumbung never
removes files or tables by guessing at a manager's layout, and never forgets the only record of
an output it leaves in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from assets_core.errors import LumbungError
from assets_core.model.definitions import Definitions
from assets_core.model.keys import AssetKey, StepKey
from assets_core.model.spec import AssetSpec
from assets_core.partitions.space import PartitionsDefinition
from assets_core.storage.io import OutputContext, location_of
from assets_core.storage.locations import comparable_location
from assets_core.storage.registry import IOManagers
from assets_core.storage.state import StateStore, step_order

__all__ = ["Orphan", "RemovedOrphans", "find_orphans", "manager_of", "remove_orphans"]

#: What removing an orphan does: ``output`` removes its stored output through the manager that
#: stored it, then forgets its records; ``records`` forgets only records (no output was
#: recorded, or a defined asset uses that place now); ``kept``: nothing (no manager configured
#: here recognises the place).
Action = Literal["output", "records", "kept"]


@dataclass(frozen=True, slots=True)
class Orphan:
    """One recorded output (or the records alone) of a step the project no longer stores
    there. ``location`` is absolute, as the state store hands it out (``None``: records
    only); ``manager`` names the IO manager that stored it, when one configured here does;
    ``why`` says in a few words what changed (``no longer defined``, ``now stored by duckdb``)."""

    step: StepKey
    location: str | None
    manager: str | None
    action: Action
    why: str

    @property
    def key(self) -> AssetKey:
        return self.step[0]


@dataclass(frozen=True, slots=True)
class RemovedOrphans:
    """What ``remove_orphans`` did: the orphans it removed, and one line for each it could not
    (an IO manager's error)."""

    removed: tuple[Orphan, ...]
    problems: tuple[str, ...]


def manager_of(
    managers: IOManagers,
    step: StepKey,
    location: str,
    definition: PartitionsDefinition | None = None,
) -> str | None:
    """The name of the IO manager configured in ``managers`` that stores ``step``'s output at
    ``location`` (a partition of an asset with the partitions ``definition``), or ``None``
    when none does (first by name when several would)."""
    wanted = comparable_location(location)
    for name in sorted(managers.names()):
        try:
            manager = managers.get(name)
        except (LumbungError, ImportError):  # an installed manager that cannot be built here
            continue
        place = location_of(manager, step[0], step[1], definition)
        if place is not None and comparable_location(place) == wanted:
            return name
    return None


def _current_places(defs: Definitions, managers: IOManagers) -> dict[StepKey, str]:
    """Where each defined asset's manager stores it now (when the manager can say)."""
    out: dict[StepKey, str] = {}
    for key in defs.materialized:
        asset = defs.assets[key]
        place = location_of(managers.get(defs.io_manager_name(asset)), key, None)
        if place is not None:
            out[StepKey(key, None)] = place
    return out


def find_orphans(defs: Definitions, managers: IOManagers, state: StateStore) -> list[Orphan]:
    """Every orphan of the project ``defs`` in ``state``, by step, newest place first; the
    keys with records but no output last, by key."""
    assets = defs.assets
    gone = {k for k in state.recorded_keys() if k not in assets or assets[k].observed}
    current = _current_places(defs, managers)
    in_use = {comparable_location(place) for place in current.values()}
    found: list[Orphan] = []
    for step, places in sorted(state.output_locations().items(), key=lambda s: step_order(s[0])):
        key = step[0]
        if key in gone:
            why = "now a source" if key in assets else "no longer defined"
        else:
            now = current.get(step)
            if now is None:  # its manager cannot say where it stores: nothing is an orphan
                continue
            why = f"now stored by {defs.io_manager_name(assets[key])}"
            places = tuple(p for p in places if comparable_location(p) != comparable_location(now))
        for place in places:
            manager = manager_of(managers, step, place)
            action: Action
            if comparable_location(place) in in_use:
                action = "records"
            else:
                action = "output" if manager is not None else "kept"
            found.append(Orphan(step, place, manager, action, why))
    with_outputs = {o.key for o in found}
    for key in sorted(gone - with_outputs):
        why = "now a source" if key in assets else "no longer defined"
        found.append(Orphan(StepKey(key, None), None, None, "records", why))
    return found


def remove_orphans(
    orphans: Iterable[Orphan],
    defs: Definitions,
    managers: IOManagers,
    state: StateStore,
) -> RemovedOrphans:
    """Remove ``orphans``: each output through the IO manager that stored it, then, in the
    state store, the records of every output removed (a step whose last success was one of them
    is forgotten whole), and every record of each key no longer defined that keeps nothing.
    The caller holds the steps' run locks. An output its manager fails to remove keeps its
    records and gives a line in ``problems``; kept orphans are left alone."""
    removed: list[Orphan] = []
    problems: list[str] = []
    failed: set[AssetKey] = set()
    specs: Mapping[AssetKey, AssetSpec] = defs.specs
    for orphan in orphans:
        if orphan.action == "kept":
            failed.add(orphan.key)
            continue
        if orphan.action == "output":
            assert orphan.manager is not None
            key, partition = orphan.step
            spec = specs.get(key) or AssetSpec(key)
            try:
                managers.get(orphan.manager).delete(OutputContext(key, spec, "", partition))
            except (LumbungError, OSError) as exc:
                problems.append(f"{key}: could not remove {orphan.location} ({exc}); kept.")
                failed.add(key)
                continue
        removed.append(orphan)
    # a key that keeps an output keeps every record (one of them may be the kept output's)
    state.forget_outputs(
        (o.step, o.location) for o in removed if o.location is not None and o.key not in failed
    )
    defined = defs.assets
    whole = {
        o.key
        for o in removed
        if o.key not in failed and (o.key not in defined or defined[o.key].observed)
    }
    if whole:
        state.forget(sorted(whole))
    return RemovedOrphans(tuple(removed), tuple(problems))
