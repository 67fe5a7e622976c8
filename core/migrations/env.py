"""Alembic environment: runs against the app's engine and the shared metadata."""
from __future__ import annotations

from alembic import context

from core.db import db

config = context.config
app = config.attributes["app"]
target_metadata = db.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # Tables of plugins that are not loaded belong to another deployment; leave them alone.
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def run_migrations_online() -> None:
    with app.app_context():
        connectable = db.engine
        with connectable.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                include_object=include_object,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()


run_migrations_online()
