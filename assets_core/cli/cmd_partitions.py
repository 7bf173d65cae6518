"""``lumbung partitions ASSET [--json]``: a partitioned asset's partitions by status (fresh,
stale, missing, waiting, failed), counted and grouped into runs of consecutive keys:

    clean_events  366 partitions: 340 fresh, 20 stale, 6 missing
      fresh      340  2024-01-01..2024-11-30 (335 partitions), 2024-12-06..2024-12-10 (5 partitions)
      stale       20  2024-12-01..2024-12-05 (5 partitions), ...

A status is the one status rule's (``planning.status``), per partition
(``planning.partstatus``): what ``materialize -s ASSET`` would do, from one plan of the asset.
``--json`` lists every run.
"""

from __future__ import annotations

from typing import Annotated

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

#: runs shown per status before "and N more runs" (``--json`` has them all)
SHOWN_RUNS = 5


def not_partitioned(key: str) -> str:
    """The error for an asset without partitions."""
    return f"{key} is not partitioned; lumbung show {key} gives its status."


def partitions_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(metavar="ASSET", help="A partitioned asset's key.")],
    partition: PartitionOpt = None,
    partitions: PartitionsOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a partitioned asset's partitions: counts and ranges by status."""
    from assets_core.errors import PlanError

    with guard(ctx), open_session(ctx) as session:
        a = session.get(key)
        if a.observed:
            raise PlanError(f"{a.key} is a source: partitions of assets are shown; name one.")
        if a.key not in session.defs.partitions:
            raise PlanError(not_partitioned(str(a.key)))
        text = partitions_text(partition, partitions)
        counts = session.partition_counts([a.key], as_of, text)[a.key]
        if as_json:
            print_json(counts.to_dict())
            return
        from assets_core.planning.partstatus import PARTITION_STATUSES

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
