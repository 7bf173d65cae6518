"""Defaults per module or folder (DESIGN §3): a key prefix, group, owners and tags that every
asset of a module gets unless it sets its own.

A module sets ``LUMBUNG_DEFAULTS = {"key_prefix": "marts", "group": "marts"}``; the project's
config sets the same per glob of module files, relative to the project folder::

    [defaults."marts/*"]
    group = "marts"
    owners = ["analytics@example.com"]

A glob is matched with ``fnmatch`` against the module's path (``marts/orders.py``), so ``*``
crosses folders. Every matching glob applies, in the order written (a later one wins a key),
then the module's own ``LUMBUNG_DEFAULTS``, then the asset's own options: an option an asset
gives is never replaced. ``key_prefix`` goes in front of the key an asset takes from its
function (or ``name=``); an explicit ``key=`` is kept whole.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from assets_core.model.keys import SEGMENT_RE, AssetKey
from assets_core.model.kinds import AnyAsset

__all__ = ["DEFAULT_KEYS", "MODULE_DEFAULTS", "Defaults", "apply_defaults", "parse_defaults"]

#: the module attribute that holds a module's defaults
MODULE_DEFAULTS = "LUMBUNG_DEFAULTS"
#: what defaults may set
DEFAULT_KEYS = ("group", "key_prefix", "owners", "tags")


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a module's assets get unless they set it; ``None`` (or no prefix) sets nothing."""

    key_prefix: tuple[str, ...] = ()
    group: str | None = None
    owners: tuple[str, ...] | None = None
    tags: frozenset[str] | None = None

    def then(self, other: Defaults) -> Defaults:
        """These defaults with ``other``'s applied over them (``other`` wins what it sets)."""
        return Defaults(
            key_prefix=other.key_prefix or self.key_prefix,
            group=self.group if other.group is None else other.group,
            owners=self.owners if other.owners is None else other.owners,
            tags=self.tags if other.tags is None else other.tags,
        )

    def to_dict(self) -> dict[str, Any]:
        """The defaults as ``parse_defaults`` reads them (JSON-ready)."""
        out: dict[str, Any] = {}
        if self.key_prefix:
            out["key_prefix"] = "/".join(self.key_prefix)
        if self.group is not None:
            out["group"] = self.group
        if self.owners is not None:
            out["owners"] = list(self.owners)
        if self.tags is not None:
            out["tags"] = sorted(self.tags)
        return out


_NONE = Defaults()


def parse_defaults(raw: object, where: str) -> Defaults:
    """Defaults from a mapping as written (``where`` names it in the ``ValueError`` raised for
    the first thing wrong, a whole sentence with the fix)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a table of {', '.join(DEFAULT_KEYS)}; got {raw!r}.")
    unknown = sorted(str(k) for k in raw if k not in DEFAULT_KEYS)
    if unknown:
        raise ValueError(
            f"{where} has unknown key {unknown[0]!r}; defaults set {', '.join(DEFAULT_KEYS)}."
        )
    prefix: tuple[str, ...] = ()
    if "key_prefix" in raw:
        value = raw["key_prefix"]
        parts = value.split("/") if isinstance(value, str) else []
        if not parts or not all(SEGMENT_RE.match(p) for p in parts):
            raise ValueError(
                f"{where} key_prefix={value!r} is not valid: give segments of letters, digits "
                "and '_' joined by '/', such as 'marts' or 'marts/finance'."
            )
        prefix = tuple(parts)
    group = raw.get("group")
    if group is not None and not (isinstance(group, str) and SEGMENT_RE.match(group)):
        raise ValueError(
            f"{where} group={group!r} is not valid: use a name of letters, digits and '_'."
        )
    return Defaults(
        key_prefix=prefix,
        group=group,
        owners=_strings(raw, "owners", where),
        tags=None if "tags" not in raw else frozenset(_strings(raw, "tags", where) or ()),
    )


def _strings(raw: Mapping[str, Any], name: str, where: str) -> tuple[str, ...] | None:
    if name not in raw:
        return None
    value = raw[name]
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError(f"{where} {name}={value!r} is not valid: give a list of non-empty strings.")


def apply_defaults(
    assets: Sequence[AnyAsset],
    module_defaults: Mapping[str, Defaults],
    globs: Sequence[tuple[str, Defaults]],
    relative: Mapping[str, str],
) -> list[AnyAsset]:
    """Each asset with the defaults of the file that defines it: the config's ``globs`` that
    match the file's path relative to the project (``relative``: file -> that path), then
    ``module_defaults`` (file -> the module's own)."""
    if not module_defaults and not globs:
        return list(assets)
    per_file: dict[str, Defaults] = {}
    out: list[AnyAsset] = []
    for a in assets:
        found = per_file.get(a.file)
        if found is None:
            found = _NONE
            path = relative.get(a.file)
            if path is not None:
                for pattern, d in globs:
                    if fnmatch.fnmatchcase(path, pattern):
                        found = found.then(d)
            own = module_defaults.get(a.file)
            if own is not None:
                found = found.then(own)
            per_file[a.file] = found
        out.append(a if found == _NONE else _with(a, found))
    return out


def _with(a: AnyAsset, d: Defaults) -> AnyAsset:
    given: Iterable[str] = getattr(a, "given", ())
    spec = a.spec
    changes: dict[str, Any] = {}
    if d.key_prefix and "key" not in given:
        changes["key"] = AssetKey((*d.key_prefix, *spec.key))
    if d.group is not None and "group" not in given:
        changes["group"] = d.group
    if d.owners is not None and "owners" not in given:
        changes["owners"] = d.owners
    if d.tags is not None and "tags" not in given:
        changes["tags"] = d.tags
    if not changes:
        return a
    return cast(AnyAsset, replace(cast(Any, a), spec=replace(spec, **changes)))
