"""Lineage: one neutral structure (``model.Lineage``) and its renderings.

``model.build_lineage`` reads a project once (graph, statuses with reasons, last
materializations) into plain data; ``tree``, ``mermaid``, ``dot``, ``jsonfmt`` and ``html``
each turn that data into one format and know nothing of the engine. Importing this package
imports nothing heavy.
"""

from __future__ import annotations

FORMATS: tuple[str, ...] = ("tree", "mermaid", "dot", "json", "html")
