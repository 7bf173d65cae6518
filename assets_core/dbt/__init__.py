"""Translating a dbt project into a Lumbung one (``lumbung import-dbt``, DESIGN §14)."""
