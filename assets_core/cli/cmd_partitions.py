"""``lumbung partitions add|remove NAME KEY...``: the keys of a dynamic partitions set.

A dynamic set (``dynamic("customers")``) has the keys the state store keeps for it, in the
order they were added; a plan lists its partitions from them. Adding a key that is there, or
removing one that is not, changes nothing and says so; a key that breaks the key rule, or a
set no asset of the project uses, is an error (exit 2) and nothing changes. Removing a key
keeps the records of its partitions: adding it again finds their history.
"""

from __future__ import annotations

from typing import Annotated

import typer

from assets_core.cli.common import guard, open_session, write_lines
from assets_core.errors import PartitionError

ACTIONS = ("add", "remove")


def _plural(n: int) -> str:
    return f"{n} key{'s' if n != 1 else ''}"


def partitions(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(metavar="ACTION", help="add or remove.")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The dynamic set's name.")],
    keys: Annotated[list[str], typer.Argument(metavar="KEYS...", help="Partition keys.")],
) -> None:
    """Add keys to, or remove keys from, a dynamic partitions set."""
    from assets_core.partitions.static import check_segment

    with guard(ctx):
        if action not in ACTIONS:
            raise PartitionError(
                f"lumbung partitions {action!r}: the actions are add and remove "
                "(lumbung partitions add NAME KEY...)."
            )
        for key in keys:
            check_segment(key, f"dynamic({name!r})")
        with open_session(ctx) as session:
            known = session.defs.dynamic_sets
            if name not in known:
                listed = ", ".join(sorted(known)) if known else "none"
                raise PartitionError(
                    f"no asset uses dynamic partitions named {name!r} (the project's: {listed}); "
                    f"declare partitions=dynamic({name!r}), or fix the name."
                )
            state = session.state
            if action == "add":
                done = state.add_dynamic_keys(name, keys)
                verb, other = "added", "already there"
            else:
                done = state.remove_dynamic_keys(name, keys)
                verb, other = "removed", "not there"
            rest = len(dict.fromkeys(keys)) - len(done)
            line = f"{verb} {_plural(len(done))} {'to' if action == 'add' else 'from'} {name}"
            if rest:
                line += f" ({_plural(rest)} {other})"
            total = len(state.dynamic_keys([name]).get(name, ()))
            write_lines([f"{line}; it has {_plural(total)}."])
