"""Positions for the HTML page, computed here so the page is interactive at once.

Columns left to right by layer (the longest path from a root); each group gets a horizontal
band as tall as its fullest column, bands stacked in order of first appearance; inside a band
a column's nodes are ordered by the mean height of their parents (fewer crossings), then by
key. Linear in nodes and edges, plus one sort per column.
"""

from __future__ import annotations

from dataclasses import dataclass

from assets_core.lineage.model import Lineage

NODE_W = 210
NODE_H = 34
COL_PITCH = NODE_W + 90
ROW_PITCH = NODE_H + 14
BAND_PAD = 28  # above the first row of a band (room for its label) and below the last


@dataclass(frozen=True, slots=True)
class Band:
    """A group's horizontal band: its name and vertical extent."""

    group: str
    y0: float
    y1: float


@dataclass(frozen=True, slots=True)
class Layout:
    """Top-left corner of each node's box, the group bands and the overall size."""

    positions: dict[str, tuple[float, float]]
    bands: tuple[Band, ...]
    width: float
    height: float


def layout(lineage: Lineage) -> Layout:
    """Place every node of ``lineage`` (see the module docstring)."""
    groups = lineage.groups
    buckets: dict[tuple[str, int], list[str]] = {}
    for n in lineage.nodes:
        buckets.setdefault((n.group, n.layer), []).append(n.key)
    rows = dict.fromkeys(groups, 1)
    for (g, _), keys in buckets.items():
        rows[g] = max(rows[g], len(keys))
    top: dict[str, float] = {}
    bands = []
    y = 0.0
    for g in groups:
        top[g] = y + BAND_PAD
        y1 = top[g] + rows[g] * ROW_PITCH - (ROW_PITCH - NODE_H) + BAND_PAD
        bands.append(Band(g, y, y1))
        y = y1
    positions: dict[str, tuple[float, float]] = {}
    parents = lineage.parents
    last_layer = max((n.layer for n in lineage.nodes), default=0)
    by_layer: dict[int, list[tuple[str, list[str]]]] = {}
    for (g, layer), keys in buckets.items():
        by_layer.setdefault(layer, []).append((g, keys))
    for layer in range(last_layer + 1):
        x = layer * COL_PITCH
        for g, keys in by_layer.get(layer, ()):

            def weight(k: str) -> tuple[float, str]:
                ys = [positions[p][1] for p in parents[k] if p in positions]
                return (sum(ys) / len(ys) if ys else -1.0, k)

            for i, k in enumerate(sorted(keys, key=weight)):
                positions[k] = (float(x), top[g] + i * ROW_PITCH)
    width = last_layer * COL_PITCH + NODE_W if lineage.nodes else 0
    return Layout(positions, tuple(bands), float(width), y)
