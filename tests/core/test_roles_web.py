"""The roles admin pages: who holds which role, giving and taking roles, the custom role matrix."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from core.db import db
from core.models import Role, RoleAssignment, User
from core.settings import set_setting
from tests.conftest import csrf_token, web_login
from tests.core.test_access import TrainerPlugin, enable, tctx, tmake, trainer_app  # noqa: F401 (fixtures)


@pytest.fixture
def tree(make):
    fed = make.federation("Hockey Vlaanderen")
    club_a = make.club(fed, "HC Antwerpen")
    club_b = make.club(fed, "HC Brugge")
    make.user("sec@example.org", role="federation_secretariat", org=fed)
    make.user("contact@example.org", role="club_contact", org=club_a)
    make.user("admin@example.org", role="club_admin", org=club_a)
    make.user("contact-b@example.org", role="club_contact", org=club_b)
    return dict(fed=fed, a=club_a, b=club_b)


def role_id(key: str) -> int:
    return db.session.execute(sa.select(Role.id).where(Role.key == key)).scalar_one()


def assignments_of(person_id: int) -> list[tuple[str, int]]:
    return list(db.session.execute(
        sa.select(Role.key, RoleAssignment.org_id).join(Role).join(User).where(User.person_id == person_id)).all())


def assignments_table(page: str) -> str:
    """The table of who holds which role (the page shell also shows the user's own address)."""
    start = page.find('id="assignments"')
    return page[start:page.index("</table>", start)] if start >= 0 else ""


def give(client, org_id: int, **data):
    data.setdefault("csrf_token", csrf_token(client, f"/o/{org_id}/roles"))
    return client.post(f"/o/{org_id}/roles/assignments", data=data)


def test_roles_page_lists_the_subtree(client, tree):
    web_login(client, "sec@example.org")
    r = client.get(f"/o/{tree['fed'].id}/roles")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    table = assignments_table(page)
    for address in ("sec@example.org", "contact@example.org", "admin@example.org", "contact-b@example.org"):
        assert address in table
    assert 'data-confirm=' in table and "HC Brugge" in table

    client2 = client.application.test_client()
    web_login(client2, "contact@example.org")
    table = assignments_table(client2.get(f"/o/{tree['a'].id}/roles").get_data(as_text=True))
    assert "admin@example.org" in table and "contact@example.org" in table
    assert "contact-b@example.org" not in table and "sec@example.org" not in table
    table = assignments_table(client2.get(f"/o/{tree['a'].id}/roles?q=admin").get_data(as_text=True))
    assert "admin@example.org" in table and "contact@example.org" not in table


def test_other_organisations_are_404(client, tree):
    web_login(client, "contact@example.org")
    other = tree["b"].id
    assert client.get(f"/o/{other}/roles").status_code == 404
    assert client.get(f"/o/{other}/roles/new").status_code == 404
    assert client.get(f"/o/{other}/roles/{role_id('club_admin')}").status_code == 404
    assert client.get(f"/o/{tree['fed'].id}/roles").status_code == 404
    token = csrf_token(client, f"/o/{tree['a'].id}/roles")
    assignment = db.session.execute(sa.select(RoleAssignment.id).where(RoleAssignment.org_id == other)).scalar_one()
    assert client.post(f"/o/{other}/roles/assignments/{assignment}/delete", data={"csrf_token": token}).status_code == 404
    # ... and through one's own organisation too.
    r = client.post(f"/o/{tree['a'].id}/roles/assignments/{assignment}/delete", data={"csrf_token": token})
    assert r.status_code == 404
    assert db.session.get(RoleAssignment, assignment) is not None


def test_club_admin_may_look_but_not_change(client, tree, make):
    web_login(client, "admin@example.org")
    page = client.get(f"/o/{tree['a'].id}/roles").get_data(as_text=True)
    assert "contact@example.org" in assignments_table(page) and 'id="add-assignment"' not in page
    assert client.get(f"/o/{tree['a'].id}/roles/new").status_code == 403
    person = make.person("Bram", "Maes", org=tree["a"], email="bram@example.org")
    r = give(client, tree["a"].id, person_id=person.id, role_id=role_id("club_admin"))
    assert r.status_code == 403
    assert assignments_of(person.id) == []


def test_member_without_roles_read_gets_403(client, tree, make):
    make.user("lid@example.org", role="member", org=tree["a"])
    web_login(client, "lid@example.org")
    assert client.get(f"/o/{tree['a'].id}/roles").status_code == 403


def test_find_a_person_and_give_a_role(client, tree, make):
    person = make.person("Wout", "Janssens", org=tree["a"])
    make.user("wout@example.org", person=person)
    make.person("Wout", "Anders", org=tree["b"])  # not visible from club A
    web_login(client, "contact@example.org")
    page = client.get(f"/o/{tree['a'].id}/roles?person_q=wout").get_data(as_text=True)
    assert "Wout Janssens" in page and "Wout Anders" not in page
    assert f'name="person_id" value="{person.id}"' in page
    # The form offers only roles this contact person may give.
    start = page.index('name="role_id"')
    role_select = page[start:page.index("</select>", start)]
    assert f'<option value="{role_id("club_admin")}"' in role_select
    assert f'<option value="{role_id("federation_secretariat")}"' not in role_select

    r = give(client, tree["a"].id, person_id=person.id, role_id=role_id("club_admin"), target_org_id=tree["a"].id)
    assert r.status_code == 302
    assert assignments_of(person.id) == [("club_admin", tree["a"].id)]
    assert "Wout Janssens" in assignments_table(client.get(r.headers["Location"]).get_data(as_text=True))


def test_bad_assignment_input_changes_nothing(client, tree, make):
    person = make.person("Ines", "Claes", org=tree["a"])
    stranger = make.person("Vreemd", "Persoon", org=tree["b"], email="v@example.org")
    web_login(client, "contact@example.org")
    cases = [
        (dict(role_id=role_id("club_admin")), 422),  # no person
        (dict(person_id=person.id, role_id=role_id("club_admin")), 422),  # no login and no e-mail
        (dict(person_id=stranger.id, role_id=role_id("club_admin")), 422),  # not in this club
        (dict(person_id=person.id, role_id=999999, email="ines@example.org"), 422),
        (dict(person_id=person.id, role_id=role_id("club_admin"), email="not-an-address"), 422),
        (dict(person_id=person.id, role_id=role_id("club_admin"), email="x@example.org",
              target_org_id=tree["b"].id), 422),
        (dict(person_id=person.id, role_id=role_id("federation_secretariat"), email="ines@example.org"), 403),
        (dict(person_id=person.id, role_id=role_id("platform_admin"), email="ines@example.org"), 403),
    ]
    for data, status in cases:
        r = give(client, tree["a"].id, **data)
        assert r.status_code == status, (data, r.status_code)
        assert 'class="flash flash-error"' in r.get_data(as_text=True)
    assert assignments_of(person.id) == [] and assignments_of(stranger.id) == []
    assert db.session.execute(sa.select(User).where(User.person_id == person.id)).first() is None


def test_sixth_club_admin_refused_on_the_page(client, tree, make, ctx):
    people = []
    for i in range(5):
        person = make.person(f"Admin{i}", "Hockey", org=tree["a"])
        make.user(f"admin{i}@example.org", person=person)
        people.append(person)
    web_login(client, "contact@example.org")
    for person in people[:4]:  # the club already has one admin
        assert give(client, tree["a"].id, person_id=person.id, role_id=role_id("club_admin")).status_code == 302
    r = give(client, tree["a"].id, person_id=people[4].id, role_id=role_id("club_admin"))
    assert r.status_code == 409
    assert "already has 5 admins" in r.get_data(as_text=True)
    assert assignments_of(people[4].id) == []

    set_setting(db.session, ctx.extensions["federa"].settings, tree["fed"], "core.max_club_admins", 6)
    db.session.commit()
    assert give(client, tree["a"].id, person_id=people[4].id, role_id=role_id("club_admin")).status_code == 302
    assert assignments_of(people[4].id) == [("club_admin", tree["a"].id)]


def test_remove_an_assignment(client, tree):
    web_login(client, "contact@example.org")
    assignment = db.session.execute(sa.select(RoleAssignment).join(Role).where(
        Role.key == "club_admin", RoleAssignment.org_id == tree["a"].id)).scalar_one()
    assignment_id = assignment.id
    url = f"/o/{tree['a'].id}/roles/assignments/{assignment_id}/delete"
    assert client.post(url).status_code == 400  # CSRF
    r = client.post(url, data={"csrf_token": csrf_token(client, f"/o/{tree['a'].id}/roles")})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(RoleAssignment, assignment_id) is None


def test_secretariat_gives_a_role_on_a_club_below(client, tree, make):
    person = make.person("Hanne", "Vos", org=tree["b"], email="hanne@example.org")
    web_login(client, "sec@example.org")
    r = give(client, tree["fed"].id, person_id=person.id, role_id=role_id("club_admin"), target_org_id=tree["b"].id)
    assert r.status_code == 302
    assert assignments_of(person.id) == [("club_admin", tree["b"].id)]


# --- custom roles -------------------------------------------------------------------------------------

def test_make_edit_and_delete_a_custom_role(client, tree):
    web_login(client, "contact@example.org")
    base = f"/o/{tree['a'].id}/roles"
    token = csrf_token(client, f"{base}/new")
    r = client.post(f"{base}/new", data={"name": "Kijker", "description": "Leest mee", "level-core": "read",
                                         "csrf_token": token})
    assert r.status_code == 302
    role = db.session.execute(sa.select(Role).where(Role.name == "Kijker")).scalar_one()
    assert role.org_id == tree["a"].id
    perms = {row.permission for row in role.permission_rows}
    assert "core.people.read" in perms and "core.people.write" not in perms

    page = client.get(f"{base}/{role.id}").get_data(as_text=True)
    assert re.search(r'name="level-core" value="read" aria-label="[^"]*" checked', page)

    # Asking for more than one holds is refused and changes nothing.
    r = client.post(f"{base}/{role.id}", data={"name": "Kijker", "level-core": "write", "csrf_token": token})
    assert r.status_code == 403 and "core.people.merge" in r.get_data(as_text=True)
    db.session.expire_all()
    assert {row.permission for row in db.session.get(Role, role.id).permission_rows} == perms

    r = client.post(f"{base}/{role.id}", data={"name": "Lezer", "level-core": "none", "csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    role = db.session.get(Role, role.id)
    assert role.name == "Lezer" and role.permission_rows == []

    rid = role.id
    r = client.post(f"{base}/{rid}/delete", data={"csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Role, rid) is None


def test_role_form_errors(client, tree):
    web_login(client, "contact@example.org")
    base = f"/o/{tree['a'].id}/roles"
    token = csrf_token(client, f"{base}/new")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Role))
    r = client.post(f"{base}/new", data={"name": "", "level-core": "read", "csrf_token": token})
    assert r.status_code == 422 and 'class="field-error"' in r.get_data(as_text=True)
    r = client.post(f"{base}/new", data={"name": "X", "level-core": "boss", "csrf_token": token})
    assert r.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Role)) == before


def test_builtin_role_is_read_only(client, tree):
    web_login(client, "contact@example.org")
    url = f"/o/{tree['a'].id}/roles/{role_id('club_admin')}"
    page = client.get(url).get_data(as_text=True)
    assert "cannot be changed" in page and "disabled" in page
    r = client.post(url, data={"name": "Baas", "level-core": "read", "csrf_token": csrf_token(client, url)})
    assert r.status_code == 403
    assert db.session.get(Role, role_id("club_admin")).name == "Club admin"


def test_matrix_shows_only_enabled_modules_and_keeps_hidden_ones(tctx, tmake):
    fed = tmake.federation("Atletiek")
    club_on = tmake.club(fed, "Met trainer")
    club_off = tmake.club(fed, "Zonder trainer")
    enable(club_on, "trainer")
    tmake.user("sec@example.org", role="federation_secretariat", org=fed)
    client = tctx.test_client()
    web_login(client, "sec@example.org")

    page = client.get(f"/o/{club_on.id}/roles/new").get_data(as_text=True)
    assert 'name="level-trainer"' in page and 'name="level-core"' in page
    page = client.get(f"/o/{club_off.id}/roles/new").get_data(as_text=True)
    assert 'name="level-trainer"' not in page

    # A federation secretariat does not hold trainer permissions (default roles: club admin): refused.
    token = csrf_token(client, f"/o/{club_on.id}/roles/new")
    r = client.post(f"/o/{club_on.id}/roles/new", data={"name": "T", "level-trainer": "read", "csrf_token": token})
    assert r.status_code == 403

    # A platform admin makes a role with trainer rights on the club where it is on ...
    tmake.user("root@example.org", role="platform_admin")
    root = tctx.test_client()
    web_login(root, "root@example.org")
    token = csrf_token(root, f"/o/{club_on.id}/roles/new")
    r = root.post(f"/o/{club_on.id}/roles/new", data={"name": "Trainer", "level-core": "none",
                                                       "level-trainer": "write", "csrf_token": token})
    assert r.status_code == 302
    role = db.session.execute(sa.select(Role).where(Role.name == "Trainer")).scalar_one()
    # ... and the trainer module is switched off there afterwards: editing core rights keeps the trainer rights.
    from core.models import ModuleOverride

    db.session.execute(sa.update(ModuleOverride).values(enabled=False))
    db.session.commit()
    page = root.get(f"/o/{club_on.id}/roles/{role.id}").get_data(as_text=True)
    assert 'name="level-trainer"' not in page
    r = root.post(f"/o/{club_on.id}/roles/{role.id}", data={"name": "Trainer", "level-core": "read",
                                                             "csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    perms = {row.permission for row in db.session.get(Role, role.id).permission_rows}
    assert {"trainer.sessions.write", "core.people.read"} <= perms
