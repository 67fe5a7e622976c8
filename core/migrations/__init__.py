"""Alembic migrations: one version table, a branch per plugin, version locations from loaded plugins."""
from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from flask import Flask

HERE = Path(__file__).parent


def alembic_config(app: Flask) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    locations = [str(HERE / "versions")]
    for plugin in app.extensions["federa"].plugins.plugins.values():
        if plugin.name != "core" and plugin.migrations_dir is not None:
            locations.append(str(plugin.migrations_dir))
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["app"] = app
    return cfg


def upgrade(app: Flask, revision: str = "heads") -> None:
    from alembic import command

    with app.app_context():
        command.upgrade(alembic_config(app), revision)


def check(app: Flask) -> None:
    """Raise if models and migrations disagree (alembic check)."""
    from alembic import command

    with app.app_context():
        command.check(alembic_config(app))
