"""Migrations: an empty database upgrades cleanly and then agrees with the models (alembic check)."""
from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
import sqlalchemy as sa

from core.app import create_app
from core.db import db
from core.migrations import check, upgrade
from core.models import OrganisationKind, Role

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


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


def _triggers(engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return set(conn.execute(sa.text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
        return set(conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())


def test_membership_person_copies_are_filled_kept_and_removed_by_migrations(empty_database_url, tmp_path, app):
    """The migration that adds the member list's person copies fills them for existing memberships, installs
    the same triggers the models create, and its downgrade takes them away again."""
    from alembic import command

    from core.migrations import alembic_config
    from core.models import Organisation, Person
    from plugins.membership.models import Membership, MembershipType

    migrated = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "DATA_DIR": tmp_path, "SECRET_KEY": "x"})
    upgrade(migrated, "b1793dd7ca70")  # the membership tables, before the copies
    with migrated.app_context():
        with db.engine.begin() as conn:
            org = conn.execute(sa.insert(Organisation.__table__).values(kind="club", name="SK Gent", path="/1/")
                               .returning(Organisation.id)).scalar()
            person = conn.execute(sa.insert(Person.__table__).values(
                first_name="Emma", last_name="Janssens", birth_date=dt.date(1990, 4, 2), search_text="emma janssens",
                created_at=NOW, updated_at=NOW).returning(Person.id)).scalar()
            type_ = conn.execute(sa.insert(MembershipType.__table__).values(org_id=org, name="Lid", created_at=NOW,
                                 updated_at=NOW).returning(MembershipType.id)).scalar()
            conn.execute(sa.text("INSERT INTO membership_membership (org_id, person_id, type_id, starts_on, status, "
                                 "created_at, updated_at) VALUES (:o, :p, :t, :d, 'active', :n, :n)"),
                         {"o": org, "p": person, "t": type_, "d": dt.date(2020, 1, 1), "n": NOW})
        db.engine.dispose()
    upgrade(migrated)
    copied = sa.select(Membership.person_last_name, Membership.person_birth_date, Membership.person_search_text)
    with migrated.app_context():
        assert db.session.execute(copied).one() == ("Janssens", dt.date(1990, 4, 2), "emma janssens")
        db.session.execute(sa.update(Person).values(last_name="Wouters", search_text="emma wouters"))
        db.session.commit()
        assert db.session.execute(copied).one() == ("Wouters", dt.date(1990, 4, 2), "emma wouters")
        with app.app_context():
            created = _triggers(db.engine)  # the models' triggers (db.create_all)
        assert {"membership_copy_person", "membership_follow_person"} <= created
        assert _triggers(db.engine) == created
        db.session.remove()
        db.engine.dispose()
    with migrated.app_context():
        command.downgrade(alembic_config(migrated), "b1793dd7ca70")
        assert _triggers(db.engine) == set()
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("membership_membership")}
        assert "person_search_text" not in columns
        db.session.execute(sa.update(Person).values(last_name="Peeters"))  # no trigger left behind to fail
        db.session.commit()
        db.engine.dispose()
