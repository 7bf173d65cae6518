"""IO managers that ship with Lumbung: Parquet files and DuckDB tables.

Each implements ``assets_core.storage.io.IOManager`` and is found by name through the
registry's table of built-in managers (``assets_core.storage.registry.BUILT_IN``: the
factory's "module:function", imported on first use), so the engine never imports this package;
other distributions' managers are found through the ``lumbung.io_managers`` entry points.
"""
