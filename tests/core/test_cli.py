"""The `federa` command line: help, create-admin, and db upgrade on a fresh SQLite database."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from core.app import create_app
from core.cli import main
from core.db import db
from core.models import RoleAssignment, Role, User
from core.reference_data import ensure_reference_data

VERSIONS = Path(__file__).resolve().parents[2] / "core" / "migrations" / "versions"
HAVE_MIGRATIONS = any(VERSIONS.glob("*.py"))


def _env(data_dir: Path) -> dict[str, str]:
    """A CLI environment on its own SQLite database in `data_dir`, whatever the caller's environment says."""
    return {"FEDERA_DATA_DIR": str(data_dir), "FEDERA_DATABASE_URL": f"sqlite:///{data_dir / 'federa.sqlite'}",
            "FEDERA_REDIS_URL": "", "FEDERA_SECRET_KEY": "cli-test", "FEDERA_DEMO_MODE": "0"}


def _run(args: list[str], data_dir: Path):
    return CliRunner().invoke(main, args, env=_env(data_dir), catch_exceptions=True)


def _app(data_dir: Path):
    return create_app({"DATA_DIR": data_dir, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{data_dir / 'federa.sqlite'}",
                       "SECRET_KEY": "cli-test", "REDIS_URL": None})


def _create_schema(data_dir: Path):
    app = _app(data_dir)
    with app.app_context():
        db.create_all()
        ensure_reference_data(db.session)
        db.session.commit()
    return app


def _platform_admins(app) -> list[str]:
    with app.app_context():
        return list(db.session.execute(
            sa.select(User.email).join(RoleAssignment, RoleAssignment.user_id == User.id)
            .join(Role, Role.id == RoleAssignment.role_id).where(Role.key == "platform_admin")
        ).scalars())


def test_help_lists_the_commands(tmp_path):
    result = _run(["--help"], tmp_path)
    assert result.exit_code == 0, result.output
    for command in ("db", "demo-data", "serve", "worker", "create-admin"):
        assert f"  {command} " in result.output, command
    db_help = _run(["db", "--help"], tmp_path)
    assert db_help.exit_code == 0 and "upgrade" in db_help.output and "check" in db_help.output
    serve_help = _run(["serve", "--help"], tmp_path)
    assert "--host" in serve_help.output and "--port" in serve_help.output


def test_create_admin_makes_a_platform_admin_who_can_log_in(tmp_path):
    app = _create_schema(tmp_path)
    result = _run(["create-admin", "--email", "Root@Example.org", "--password", "a-long-password"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "root@example.org" in result.output
    assert _platform_admins(app) == ["root@example.org"]

    client = app.test_client()
    response = client.post("/api/v1/auth/token", json={"email": "root@example.org", "password": "a-long-password"})
    assert response.status_code == 201, response.json
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json['access_token']}"}).json
    assert me["is_platform_admin"] is True

    # Running it again for the same address resets the password and keeps one account.
    again = _run(["create-admin", "--email", "root@example.org", "--password", "another-password"], tmp_path)
    assert again.exit_code == 0, again.output
    assert _platform_admins(app) == ["root@example.org"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_create_admin_refuses_a_short_password_and_creates_nothing(tmp_path):
    app = _create_schema(tmp_path)
    result = _run(["create-admin", "--email", "root@example.org", "--password", "short"], tmp_path)
    assert result.exit_code != 0
    assert "at least 8 characters" in (result.output + repr(result.exception))
    assert _platform_admins(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


@pytest.mark.skipif(not HAVE_MIGRATIONS, reason="no migrations in core/migrations/versions yet")
def test_db_upgrade_builds_an_empty_database_that_create_admin_can_use(tmp_path):
    result = _run(["db", "upgrade"], tmp_path)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "up to date" in result.output
    # Reference data come with the migration: create-admin needs the built-in roles.
    created = _run(["create-admin", "--email", "root@example.org", "--password", "a-long-password"], tmp_path)
    assert created.exit_code == 0, created.output + repr(created.exception)
    assert _platform_admins(_app(tmp_path)) == ["root@example.org"]
    # Upgrading an up-to-date database is a no-op.
    assert _run(["db", "upgrade"], tmp_path).exit_code == 0
