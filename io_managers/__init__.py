"""IO managers that ship with Lumbung: Parquet files and DuckDB tables.

Each implements ``assets_core.storage.io.IOManager`` and is found by name through the
``lumbung.io_managers`` entry point group, so the engine never imports this package.
"""
