"""``python -m assets_core.cli`` runs the ``lumbung`` command."""

from assets_core.cli import entry

entry()
