"""Never imported: the config is rejected first."""
