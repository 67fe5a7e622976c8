"""What a user may see and do: assignments apply to the subtree, roles are sets of permissions, and a
module's permissions count only where the module is enabled. Uses a small test plugin with permissions."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import g

from core.access import current_access, load_access, visible_org_filter
from core.db import db
from core.hookspecs import hookimpl
from core.models import ModuleOverride, Organisation
from core.permissions import (
    Permission, PermissionRegistry, module_levels_to_permissions, permissions_to_module_levels,
)
from core.plugins import Plugin
from core.services.users import assign_role, builtin_role, create_custom_role
from tests.conftest import _clean
from tests.factories import Factory


class TrainerPlugin(Plugin):
    """Training sessions (test plugin)."""

    name = "trainer"
    label = "Trainer"

    @hookimpl
    def register_permissions(self):
        return [
            Permission("trainer.sessions.read", "View training sessions", default_roles=("club_admin",)),
            Permission("trainer.sessions.write", "Plan training sessions", default_roles=("club_admin",)),
            Permission("trainer.attendance.read", "View attendance", default_roles=()),
        ]


@pytest.fixture(scope="session")
def trainer_app(make_app):
    return make_app(plugins=[TrainerPlugin])


@pytest.fixture
def tctx(trainer_app):
    _clean(trainer_app)
    with trainer_app.app_context():
        yield trainer_app
        db.session.remove()


@pytest.fixture
def tmake(tctx) -> Factory:
    return Factory(db.session)


def enable(org: Organisation, plugin: str) -> None:
    db.session.add(ModuleOverride(org_id=org.id, plugin=plugin, enabled=True))
    db.session.commit()


def access_for(app, user):
    """The user's Access as a request would load it (in a fresh request context: per-request caches)."""
    ctx = app.test_request_context()
    ctx.push()
    g.access = load_access(db.session, user, app.extensions["federa"].permissions)
    return ctx, g.access


@pytest.fixture
def world(tmake):
    fed = tmake.federation("Atletiek Vlaanderen")
    region = tmake.region(fed, "Oost")
    club_a = tmake.club(region, "AC Gent")
    club_b = tmake.club(region, "AC Aalst")
    other_fed = tmake.federation("Zwemfederatie")
    enable(club_a, "trainer")
    return dict(fed=fed, region=region, a=club_a, b=club_b, other=other_fed)


def test_assignment_applies_to_the_subtree_only(tctx, tmake, world):
    user = tmake.user("regio@example.org", role="federation_secretariat", org=world["region"])
    ctx, access = access_for(tctx, user)
    try:
        assert access.can_see(world["region"]) and access.can_see(world["a"]) and access.can_see(world["b"])
        assert not access.can_see(world["fed"]) and not access.can_see(world["other"])
        assert access.has("core.people.write", world["a"])
        assert not access.has("core.people.write", world["fed"])
        visible = set(db.session.execute(sa.select(Organisation.id).where(visible_org_filter(access))).scalars())
        assert visible == {world["region"].id, world["a"].id, world["b"].id}
    finally:
        ctx.pop()


def test_builtin_role_permissions_come_from_the_registry(tctx, tmake, world):
    admin = tmake.user("admin@example.org", role="club_admin", org=world["a"])
    ctx, access = access_for(tctx, admin)
    try:
        assert access.has("core.people.read", world["a"])
        assert not access.has("core.roles.write", world["a"])  # a club admin does not manage roles
        assert access.has("trainer.sessions.write", world["a"])  # a plugin's default_roles reach the built-in role
        assert not access.has("trainer.attendance.read", world["a"])
    finally:
        ctx.pop()


def test_permissions_of_a_disabled_module_do_not_count(tctx, tmake, world):
    user = tmake.user("sec@example.org", role="federation_secretariat", org=world["fed"])
    role = create_custom_role(db.session, world["fed"], "Trainers", ["trainer.sessions.read"],
                              tctx.extensions["federa"].permissions)
    assign_role(db.session, user, role, world["fed"])
    db.session.commit()
    ctx, access = access_for(tctx, user)
    try:
        assert access.has("trainer.sessions.read", world["a"])  # enabled for club A
        assert not access.has("trainer.sessions.read", world["b"])  # off for club B ...
        assert "trainer.sessions.read" in access.held_permissions(world["b"])  # ... though the role holds it
    finally:
        ctx.pop()


def test_custom_role_by_module_level(tctx, tmake, world):
    registry = tctx.extensions["federa"].permissions
    read = module_levels_to_permissions(registry, {"core": "read", "trainer": "read"})
    assert "core.people.read" in read and "core.people.write" not in read
    assert {p for p in read if p.startswith("trainer.")} == {"trainer.sessions.read", "trainer.attendance.read"}
    write = module_levels_to_permissions(registry, {"trainer": "write"})
    assert write == {"trainer.sessions.read", "trainer.sessions.write", "trainer.attendance.read"}
    assert module_levels_to_permissions(registry, {"trainer": "none"}) == set()
    assert permissions_to_module_levels(registry, read) == {"core": "read", "trainer": "read"}
    assert permissions_to_module_levels(registry, write) == {"trainer": "write"}
    assert permissions_to_module_levels(registry, {"trainer.sessions.write"}) == {"trainer": "custom"}
    with pytest.raises(ValueError):
        module_levels_to_permissions(registry, {"nosuch": "read"})

    user = tmake.user("lezer@example.org", org=world["a"])
    role = create_custom_role(db.session, world["a"], "Lezer", read, registry)
    assign_role(db.session, user, role, world["a"])
    db.session.commit()
    ctx, access = access_for(tctx, user)
    try:
        assert access.has("core.people.read", world["a"]) and access.has("trainer.sessions.read", world["a"])
        assert not access.has("core.people.write", world["a"])
        assert not access.has("trainer.sessions.write", world["a"])
        assert not access.can_see(world["b"])
    finally:
        ctx.pop()


def test_platform_admin_sees_everything(tctx, tmake, world):
    root = tmake.user("root@example.org", role="platform_admin")
    ctx, access = access_for(tctx, root)
    try:
        assert access.is_platform_admin
        assert all(access.can_see(org) for org in world.values())
        assert access.has("core.modules.write", world["other"])
        assert access.has("trainer.attendance.read", world["a"]) and not access.has("trainer.attendance.read",
                                                                                      world["b"])
    finally:
        ctx.pop()


def test_no_user_no_access(tctx, world):
    ctx = tctx.test_request_context()
    ctx.push()
    try:
        access = current_access()
        assert not access.is_authenticated and not access.can_see(world["a"])
        assert not access.has("core.people.read", world["a"])
    finally:
        ctx.pop()


def test_duplicate_permissions_stop_start_up():
    registry = PermissionRegistry()
    registry.add(Permission("x.thing.read", "Read"), "x")
    with pytest.raises(RuntimeError, match="duplicate permission"):
        registry.add(Permission("x.thing.read", "Read again"), "y")


def test_api_cross_org_is_404_and_missing_permission_403(tctx, tmake, world):
    client = tctx.test_client()
    admin = tmake.user("admin@example.org", role="club_admin", org=world["a"])
    member = tmake.user("lid@example.org", role="member", org=world["a"])
    headers = tmake.headers(admin)
    for org in ("b", "fed", "region", "other"):
        assert client.get(f"/api/v1/orgs/{world[org].id}/assignments", headers=headers).status_code == 404
    r = client.get(f"/api/v1/orgs/{world['a'].id}/assignments", headers=tmake.headers(member))
    assert r.status_code == 403 and "core.roles.read" in r.json["message"]
