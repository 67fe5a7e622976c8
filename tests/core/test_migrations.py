"""Migrations: an empty database upgrades cleanly and then agrees with the models (alembic check)."""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from core.app import create_app
from core.db import db
from core.migrations import check, upgrade
from core.models import OrganisationKind, Role


@pytest.fixture
def empty_database_url(tmp_path):
    url = os.environ.get("FEDERA_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    base, _, _ = url.rpartition("/")
    name = f"federa_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_empty_database_upgrades_and_matches_the_models(empty_database_url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "DATA_DIR": tmp_path, "SECRET_KEY": "x"})
    upgrade(app)
    check(app)  # raises when models and migrations disagree
    with app.app_context():
        kinds = set(db.session.execute(sa.select(OrganisationKind.key)).scalars())
        assert {"federation", "region", "club", "government", "service"} <= kinds
        roles = set(db.session.execute(sa.select(Role.key)).scalars())
        assert {"platform_admin", "federation_secretariat", "club_contact", "club_admin", "member"} <= roles
        db.engine.dispose()
    upgrade(app)  # a second upgrade is a no-op
