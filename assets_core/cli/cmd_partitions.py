"""``lumbung partitions``: a partitioned asset's partitions by status, and the keys of a dynamic
partitions set.

``lumbung partitions ASSET [--json]`` counts the asset's partitions by status (fresh, stale,
missing, waiting, failed) and groups them into runs of consecutive keys::

    clean_events  366 partitions: 340 fresh, 20 stale, 6 missing
      fresh       340  2024-01-01..2024-11-30 (335 partitions), 2024-12-06..2024-12-10 (5 ...
      stale        20  2024-12-01..2024-12-05 (5 partitions), ...

A status is the one status rule's (``planning.status``), per partition
(``planning.partstatus``): what materializing the asset would do, from one plan of it.
``--json`` lists every run.

``lumbung partitions add|remove NAME KEY...`` adds keys to, or removes keys from, a dynamic
set (``dynamic("customers")``), which has the keys the state store keeps for it, in the order
they were added; a plan lists its partitions from them. Adding a key that is there, or removing
one that is not, changes nothing and says so; a key that breaks the key rule, or a set no asset
of the project uses, is an error (exit 2) and nothing changes. Removing a key keeps the records
of its partitions: adding it again finds their history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from assets_core.cli.common import (
    AsOfOpt,
    JsonOpt,
    PartitionOpt,
    PartitionsOpt,
    guard,
    open_session,
    partitions_text,
    print_json,
    write_lines,
)
from assets_core.cli.printable import printable
from assets_core.errors import PartitionError

if TYPE_CHECKING:
    from assets_core.session import Session

ACTIONS = ("add", "remove")
#: runs shown per status before "and N more runs" (``--json`` has them all)
SHOWN_RUNS = 5


def not_partitioned(key: str) -> str:
    """The error for an asset without partitions."""
    return f"{key} is not partitioned; lumbung show {key} gives its status."


def _plural(n: int) -> str:
    return f"{n} key{'s' if n != 1 else ''}"


def partitions(
    ctx: typer.Context,
    asset: Annotated[
        str,
        typer.Argument(
            metavar="ASSET | add NAME KEY... | remove NAME KEY...",
            help="A partitioned asset to show, or add/remove keys of a dynamic set.",
        ),
    ],
    keys: Annotated[
        list[str] | None,
        typer.Argument(metavar="", help="With add or remove: the set's name, then its keys."),
    ] = None,
    partition: PartitionOpt = None,
    partitions: PartitionsOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a partitioned asset's partitions by status; add or remove dynamic keys."""
    with guard(ctx):
        if keys:  # ASSET is an action: KEYS are a set's name, then its keys
            if asset not in ACTIONS:
                raise PartitionError(
                    f"lumbung partitions {asset!r}: the actions are add and remove "
                    "(lumbung partitions add NAME KEY...)."
                )
            if len(keys) < 2:
                raise PartitionError(
                    f"lumbung partitions {asset} needs a set's name and one key or more "
                    f"(lumbung partitions {asset} NAME KEY...)."
                )
            _dynamic(ctx, asset, keys[0], keys[1:])
            return
        with open_session(ctx) as session:
            _show(session, asset, partitions_text(partition, partitions), as_of, as_json)


def _show(session: Session, key: str, text: str | None, as_of: str | None, as_json: bool) -> None:
    from assets_core.errors import PlanError
    from assets_core.planning.partstatus import PARTITION_STATUSES

    a = session.get(key)
    if a.observed:
        raise PlanError(f"{a.key} is a source: partitions of assets are shown; name one.")
    if a.key not in session.defs.partitions:
        raise PlanError(not_partitioned(str(a.key)))
    counts = session.partition_counts([a.key], as_of, text)[a.key]
    if as_json:
        print_json(counts.to_dict())
        return
    noun = "partition" if counts.total == 1 else "partitions"
    lines = [f"{a.key}  {counts.total} {noun}: {counts.summary()}"]
    for status in PARTITION_STATUSES:
        found = counts.runs[status]
        if not found:
            continue
        shown = ", ".join(str(r) for r in found[:SHOWN_RUNS])
        if len(found) > SHOWN_RUNS:
            shown += f", and {len(found) - SHOWN_RUNS} more runs"
        lines.append(f"  {status:<8} {counts.count(status):>6}  {printable(shown)}")
    write_lines(lines)


def _dynamic(ctx: typer.Context, action: str, name: str, keys: list[str]) -> None:
    from assets_core.partitions.static import check_segment

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
