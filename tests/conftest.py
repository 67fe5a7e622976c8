"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when
FEDERA_TEST_DATABASE_URL is set (e.g. postgresql://postgres@127.0.0.1:5432/federa_test)."""
from __future__ import annotations

import contextvars
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient

from core.app import create_app
from core.db import db
from core.reference_data import ensure_reference_data
from tests.factories import Factory

# Tables kept between tests (reference data); everything else is emptied.
KEEP = {"organisation_kind", "alembic_version"}


class IsolatedClient(FlaskClient):
    """Runs every request in a fresh application context, as a real server does.

    Flask would otherwise reuse the test's app context, sharing `g` and the database session
    between the test and its requests and hiding bugs. After each request the test's own session
    is expired so it reads what the request wrote."""

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()
        return response


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("FEDERA_TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    # One PostgreSQL database per xdist worker.
    base, _, name = url.rpartition("/")
    name = f"{name}_{worker}"
    admin = sa.create_engine(f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def make_app(database_url, tmp_path_factory):
    """Build an app on the test database; extra plugins and config per call."""
    created = []

    def _make(plugins=(), **config):
        settings = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "DATA_DIR": tmp_path_factory.mktemp("data"),
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            "REDIS_URL": None,
            # Cheap argon2 in tests (the production default costs ~0.1-0.5 s per hash on this machine).
            "PASSWORD_HASHER": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
            "PLUGINS": config.pop("PLUGINS", None),
            # Behaviour tests read the English source texts; tests/core/test_i18n.py passes the real catalogues.
            "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path_factory.mktemp("no-translations")),
        }
        settings.update(config)
        app = create_app(settings, plugins=plugins)
        app.test_client_class = IsolatedClient
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            db.create_all()
            ensure_reference_data(db.session)
            db.session.commit()
        created.append(app)
        return app

    yield _make
    for app in created:
        app.extensions["federa"].jobs.stop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def app(make_app):
    return make_app()


def _clean(app) -> None:
    import shutil

    runner = app.extensions["federa"].jobs
    if runner.inprocess and runner._worker is not None:
        runner.join()  # jobs of the previous test must not write while the tables are emptied
    shutil.rmtree(Path(app.config["DATA_DIR"]) / "outbox", ignore_errors=True)  # mail of earlier tests
    with app.app_context():
        db.session.remove()
        engine = db.engine
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP]
        with engine.connect() as conn:
            existing = set(sa.inspect(conn).get_table_names())
            tables = [t for t in tables if t.name in existing]
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # self-references (organisation.parent_id)
                for table in tables:
                    conn.execute(table.delete())
                conn.commit()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()
        ensure_reference_data(db.session)
        db.session.commit()


@pytest.fixture
def ctx(app):
    """An app context on a clean database."""
    _clean(app)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def make(ctx) -> Factory:
    return Factory(db.session)


@pytest.fixture
def client(ctx):
    return ctx.test_client()


CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def web_login(client, email: str, password: str = "secret-pass"):
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture(scope="session")
def sample_app(make_app):
    """An app with the sample test plugins (tests/sample_plugin) loaded."""
    from tests.sample_plugin.plugin import SampleExtraPlugin, SamplePlugin

    return make_app(plugins=[SamplePlugin, SampleExtraPlugin])


@pytest.fixture
def sample_ctx(sample_app):
    _clean(sample_app)
    plugin = sample_app.extensions["federa"].plugins["sample"]
    plugin.events.clear()
    plugin.erased.clear()
    with sample_app.app_context():
        yield sample_app
        db.session.remove()


@pytest.fixture
def sample_make(sample_ctx) -> Factory:
    return Factory(db.session)


@pytest.fixture
def sample_client(sample_ctx):
    return sample_ctx.test_client()
