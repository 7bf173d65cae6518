"""What the project knows, as plain JSON-ready data: the objects ``lumbung show/history/logs
--json`` print and the web UI's API answers (``assets_core.web``), built once here for both."""
