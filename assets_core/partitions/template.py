"""Path templates of partitioned sources: one file (or glob) per partition key.

``source("events", path="data/events/{date}.csv", partitions=daily(...))`` reads the partition
``2024-01-05`` from ``data/events/2024-01-05.csv``. The placeholders name the dimensions:

- a single definition (time, static or dynamic) has exactly one placeholder, of any name
  (``{date}``, ``{day}``, ``{region}``): the key itself;
- a multi definition has one placeholder per dimension, by the dimension's name
  (``data/{region}/{date}.csv``); each is filled with that dimension's value.

A template with an unknown placeholder, or one that leaves a dimension out (two keys would
read one file), is a definition problem.
"""

from __future__ import annotations

import string

from assets_core.partitions.multi import MultiPartitions
from assets_core.partitions.space import PartitionsDefinition

_FORMATTER = string.Formatter()


def placeholders(path: str) -> list[str] | None:
    """The placeholder names of ``path`` in order (``None``: braces that do not parse)."""
    try:
        return [name for _, name, _, _ in _FORMATTER.parse(path) if name is not None]
    except ValueError:
        return None


def template_problems(path: str, definition: PartitionsDefinition | None) -> list[str]:
    """What is wrong with ``path`` as the template of a source partitioned by
    ``definition`` (``None``: not partitioned), each a sentence with the fix."""
    names = placeholders(path)
    if names is None:
        return [
            f"path={path!r} has unbalanced braces; write a placeholder as {{date}}, and a "
            "literal brace as {{ or }}."
        ]
    if definition is None:
        if names:
            return [
                f"path={path!r} has the placeholder {{{names[0]}}} but the source has no "
                "partitions; add partitions=... or remove the placeholder."
            ]
        return []
    bad = [n for n in names if not n.isidentifier()]
    if bad:
        return [
            f"path={path!r}: {{{bad[0]}}} is not a placeholder; name a dimension, like {{date}}."
        ]
    if isinstance(definition, MultiPartitions):
        dims = definition.names
        unknown = [n for n in dict.fromkeys(names) if n not in dims]
        missing = [n for n in dims if n not in names]
        problems = [
            f"path={path!r}: {{{n}}} is not a dimension of {definition!r}; the placeholders "
            f"are its dimensions: {', '.join('{' + d + '}' for d in dims)}."
            for n in unknown
        ]
        if missing:
            problems.append(
                f"path={path!r} leaves out the dimension"
                f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}, so partitions would "
                f"share a file; put {', '.join('{' + m + '}' for m in missing)} in the path."
            )
        return problems
    distinct = list(dict.fromkeys(names))
    if not distinct:
        return [
            f"path={path!r} has no placeholder for the partition key, so every partition "
            f"would read one file; put one in the path, like 'data/{{{_example(definition)}}}.csv'."
        ]
    if len(distinct) > 1:
        return [
            f"path={path!r} has {len(distinct)} placeholders ({', '.join(distinct)}), and "
            f"{definition!r} has one dimension; use one placeholder, like {{{distinct[0]}}}."
        ]
    return []


def _example(definition: PartitionsDefinition) -> str:
    kind = definition.kind
    return "date" if kind in ("hourly", "daily", "weekly", "monthly") else "key"


def fill(path: str, definition: PartitionsDefinition, key: str) -> str:
    """``path`` with the partition ``key`` in its placeholders (a valid template)."""
    if isinstance(definition, MultiPartitions):
        values = dict(zip(definition.names, definition.parts(key), strict=True))
        return path.format_map(values)
    names = placeholders(path) or []
    return path.format_map({names[0]: key}) if names else path
