"""Federa plugins: each sub-package is one plugin, declared as an entry point in pyproject.toml."""
