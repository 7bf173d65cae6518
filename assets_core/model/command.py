"""``command_asset``: declaring a command asset (kind ``command``, ``spec.CommandAsset``).

``command_asset("export", cmd=["bash", "scripts/export.sh", "{partition}"], deps=["orders"],
outputs=["out/export.csv"])``: see ``model.command_run`` for what it runs and how it is
versioned.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from assets_core.model.command_run import PARTITION
from assets_core.model.decorator import _Collector
from assets_core.model.keys import AssetKey
from assets_core.model.spec import AssetSpec, CommandAsset
from assets_core.partitions.space import PartitionsDefinition

__all__ = ["command_asset"]


def command_asset(
    name: str,
    cmd: Iterable[str],
    *,
    deps: Iterable[str] = (),
    outputs: Iterable[str] = (),
    partitions: PartitionsDefinition | None = None,
    group: str = "default",
    tags: Iterable[str] = (),
    io_manager: str | None = None,
    description: str | None = None,
) -> CommandAsset:
    """Declare a command asset (see the module docstring)."""
    frame = sys._getframe(1)
    file, line = frame.f_code.co_filename, frame.f_lineno
    c = _Collector(str(name), file, line)
    key = c.key(name, "command asset name") or AssetKey(("_invalid_",))
    raw: object = cmd
    args: tuple[str, ...] = ()
    if isinstance(raw, str) or not isinstance(raw, Iterable):
        c.add(f"cmd={raw!r} is not valid: give the command as a list, e.g. ['bash', 'x.sh'].")
    else:
        args = c.strings(list(raw), "cmd")
        if not args:
            c.add("cmd=[] is empty: give the program and its arguments.")
    made = c.strings(list(outputs) if not isinstance(outputs, str) else outputs, "outputs")
    dep_keys = tuple(
        k
        for d in c.strings(list(deps) if not isinstance(deps, str) else deps, "deps")
        if (k := c.key(d, "deps")) is not None
    )
    if partitions is None and any(PARTITION in a for a in (*args, *made)):
        c.add("{partition} is used but the asset has no partitions; pass partitions=.")
    spec = AssetSpec(
        key=key,
        deps=dep_keys,
        group=group,
        tags=frozenset(tags),
        description=description,
        io_manager=io_manager,
        partitions=partitions,
    )
    return CommandAsset(
        spec=spec,
        cmd=args,
        outputs=made,
        folder=str(Path(file).parent),
        file=file,
        line=line,
        problems=tuple(c.problems),
        given=frozenset(
            {"key"}
            | ({"group"} if group != "default" else set())
            | ({"tags"} if tags else set())
            | ({"io_manager"} if io_manager is not None else set())
        ),
    )
