"""The ``parquet`` entry point: the Parquet manager of a project, on its storage folder or on
the config's ``parquet_storage`` (a folder, or a URI such as ``s3://bucket/prefix``)."""

from __future__ import annotations

from pathlib import Path

from assets_core.storage.io import IOManager
from assets_core.storage.remote_sources import is_uri
from io_managers.parquet import ParquetIOManager

__all__ = ["from_storage"]


def from_storage(storage: Path, location: str | None = None) -> IOManager:
    """A manager storing under ``<storage>/parquet``, or under ``location``: a URI through
    pyarrow's filesystems (``parquet_remote``), or a folder relative to ``storage``."""
    if location is None:
        return ParquetIOManager(Path(storage) / "parquet")
    if is_uri(location):  # pyarrow's filesystems load only for a project that uses one
        from io_managers.parquet_remote import RemoteParquetIOManager

        return RemoteParquetIOManager(location)
    return ParquetIOManager(Path(storage) / location)
