"""Alembic environment: runs against the app's engine and the shared metadata."""
from __future__ import annotations

from alembic import context

from core.db import db

config = context.config
app = config.attributes["app"]
target_metadata = db.metadata


def _owned_tables() -> set[str]:
    """Tables of core and of the loaded plugins (other models may be imported, e.g. by tests).

    When writing a revision for one branch (`federa db revision --branch X`), only X's tables."""
    plugins = app.extensions["federa"].plugins.plugins
    branch = config.attributes.get("branch")
    if branch:
        packages = ["core"] if branch == "core" else [plugins[branch].package]
    else:
        packages = ["core"] + [p.package for p in plugins.values() if p.name != "core"]
    owned = set()
    for mapper in target_metadata_mappers():
        module = mapper.class_.__module__
        if branch == "core" and module.startswith("plugins."):
            continue
        if any(module == pkg or module.startswith(pkg + ".") for pkg in packages):
            owned.update(table.name for table in mapper.tables)
    return owned


def target_metadata_mappers():
    from core.db import Base

    return Base.registry.mappers


OWNED = _owned_tables()


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table":
        # Tables of plugins that are not loaded here belong to another deployment: leave them alone.
        return name in OWNED
    table = getattr(obj, "table", None)
    if table is not None and table.name not in OWNED:
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
