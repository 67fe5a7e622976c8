"""Roles, permissions and assignments through the REST API."""
from __future__ import annotations

import email
import email.policy

import sqlalchemy as sa
import pytest

from core.db import db
from core.models import Role, RoleAssignment, User
from core.settings import set_setting


@pytest.fixture
def tree(make):
    """A federation with two clubs; a secretariat user, a contact person and an admin of club A."""
    fed = make.federation("Volleybal Vlaanderen")
    club_a = make.club(fed, "VC Aalst")
    club_b = make.club(fed, "VC Brugge")
    secretariat = make.user("sec@example.org", role="federation_secretariat", org=fed)
    contact = make.user("contact@example.org", role="club_contact", org=club_a)
    admin = make.user("admin@example.org", role="club_admin", org=club_a)
    return dict(fed=fed, a=club_a, b=club_b, secretariat=secretariat, contact=contact, admin=admin)


def last_mail(app):
    outbox = sorted((app.config["DATA_DIR"] / "outbox").glob("*.eml"))
    return email.message_from_bytes(outbox[-1].read_bytes(), policy=email.policy.default)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- permission catalogue and roles -----------------------------------------------------------

def test_permission_catalogue_is_grouped_by_module(client, make, tree):
    r = client.get("/api/v1/permissions", headers=make.headers(tree["admin"]))
    assert r.status_code == 200, r.json
    core = next(m for m in r.json["modules"] if m["module"] == "core")
    names = {p["name"]: p for p in core["permissions"]}
    assert names["core.people.read"]["level"] == "read"
    assert names["core.people.write"]["level"] == "write"
    assert r.json["levels"] == ["none", "read", "write"]
    assert client.get("/api/v1/permissions").status_code == 401


def test_roles_list_builtin_and_custom_of_ancestors_only(client, make, tree):
    headers = make.headers(tree["secretariat"])
    r = client.post(f"/api/v1/orgs/{tree['fed'].id}/roles", headers=headers,
                    json={"name": "Federation viewer", "modules": {"core": "read"}})
    assert r.status_code == 201, r.json
    r = client.post(f"/api/v1/orgs/{tree['b'].id}/roles", headers=headers,
                    json={"name": "Brugge helper", "modules": {"core": "read"}})
    assert r.status_code == 201, r.json

    r = client.get(f"/api/v1/orgs/{tree['a'].id}/roles", headers=make.headers(tree["contact"]))
    assert r.status_code == 200, r.json
    names = [role["name"] for role in r.json["items"]]
    assert "Federation viewer" in names and "Brugge helper" not in names
    assert {"platform_admin", "federation_secretariat", "club_contact", "club_admin", "member"} <= {
        role["key"] for role in r.json["items"]}
    assert r.json["total"] == 6 and r.json["page"] == 1
    club_admin = next(role for role in r.json["items"] if role["key"] == "club_admin")
    assert club_admin["builtin"] and "core.people.write" in club_admin["permissions"]


def test_create_role_by_module_level(client, make, tree):
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/roles", headers=make.headers(tree["contact"]),
                    json={"name": "Kijker", "description": "Reads everything", "modules": {"core": "read"}})
    assert r.status_code == 201, r.json
    assert r.json["modules"] == {"core": "read"}
    assert r.json["org_id"] == tree["a"].id and not r.json["builtin"]
    assert all(p.startswith("core.") and p.endswith(".read") for p in r.json["permissions"])
    assert "core.people.read" in r.json["permissions"]


def test_create_role_by_permission_list(client, make, tree):
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/roles", headers=make.headers(tree["contact"]),
                    json={"name": "People editor", "permissions": ["core.people.read", "core.people.write"]})
    assert r.status_code == 201, r.json
    assert r.json["permissions"] == ["core.people.read", "core.people.write"]
    assert r.json["modules"] == {"core": "custom"}


@pytest.mark.parametrize("body, field", [
    ({"name": "X", "modules": {"nosuchmodule": "read"}}, "modules"),
    ({"name": "X", "modules": {"core": "admin"}}, "modules"),
    ({"name": "X", "permissions": ["core.people.fly"]}, "permissions"),
    ({"name": "X", "modules": {"core": "read"}, "colour": "red"}, "colour"),
    ({"name": "X"}, "modules"),
    ({"name": "", "modules": {"core": "read"}}, "name"),
])
def test_create_role_bad_input_is_422_and_changes_nothing(client, make, tree, body, field):
    before = count(Role)
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/roles", headers=make.headers(tree["contact"]), json=body)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]["json"], r.json
    assert count(Role) == before


def test_create_role_duplicate_name_is_409(client, make, tree):
    headers = make.headers(tree["contact"])
    url = f"/api/v1/orgs/{tree['a'].id}/roles"
    assert client.post(url, headers=headers, json={"name": "Trainer", "modules": {"core": "read"}}).status_code == 201
    r = client.post(url, headers=headers, json={"name": "trainer", "modules": {"core": "read"}})
    assert r.status_code == 409 and "name" in r.json["errors"]["json"]


def test_role_with_permissions_the_maker_lacks_is_403(client, make, tree):
    # core.people.merge belongs to the federation secretariat, not to a club contact person.
    before = count(Role)
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/roles", headers=make.headers(tree["contact"]),
                    json={"name": "Merger", "modules": {"core": "write"}})
    assert r.status_code == 403, r.json
    assert "core.people.merge" in r.json["message"]
    assert count(Role) == before


def test_roles_write_needs_permission(client, make, tree):
    # A club admin may read roles but not manage them.
    headers = make.headers(tree["admin"])
    assert client.get(f"/api/v1/orgs/{tree['a'].id}/roles", headers=headers).status_code == 200
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/roles", headers=headers,
                    json={"name": "X", "modules": {"core": "read"}})
    assert r.status_code == 403


def test_roles_of_another_organisation_are_404(client, make, tree):
    headers = make.headers(tree["contact"])
    assert client.get(f"/api/v1/orgs/{tree['b'].id}/roles", headers=headers).status_code == 404
    assert client.get(f"/api/v1/orgs/{tree['b'].id}/assignments", headers=headers).status_code == 404
    r = client.post(f"/api/v1/orgs/{tree['b'].id}/roles", headers=headers, json={"name": "X", "modules": {}})
    assert r.status_code == 404
    assert client.get("/api/v1/orgs/999999/roles", headers=headers).status_code == 404
    # A custom role of the other club cannot be reached through one's own club either.
    other = client.post(f"/api/v1/orgs/{tree['b'].id}/roles", headers=make.headers(tree["secretariat"]),
                        json={"name": "B only", "modules": {"core": "read"}}).json
    assert client.get(f"/api/v1/orgs/{tree['a'].id}/roles/{other['id']}", headers=headers).status_code == 404


def test_update_role_with_etag(client, make, tree):
    headers = make.headers(tree["contact"])
    base = f"/api/v1/orgs/{tree['a'].id}/roles"
    role = client.post(base, headers=headers, json={"name": "Kijker", "modules": {"core": "read"}}).json
    r = client.get(f"{base}/{role['id']}", headers=headers)
    etag = r.headers["ETag"]

    r = client.patch(f"{base}/{role['id']}", headers=headers, json={"name": "Lezer"})
    assert r.status_code == 428
    r = client.patch(f"{base}/{role['id']}", headers={**headers, "If-Match": '"stale"'}, json={"name": "Lezer"})
    assert r.status_code == 412
    assert db.session.get(Role, role["id"]).name == "Kijker"

    r = client.patch(f"{base}/{role['id']}", headers={**headers, "If-Match": etag},
                     json={"name": "Lezer", "modules": {"core": "write"}, "description": "x"})
    # write on core includes core.people.merge, which the contact person does not hold.
    assert r.status_code == 403
    r = client.patch(f"{base}/{role['id']}", headers={**headers, "If-Match": etag},
                     json={"name": "Lezer", "permissions": ["core.people.read", "core.people.write"]})
    assert r.status_code == 200, r.json
    assert r.json["name"] == "Lezer" and r.json["permissions"] == ["core.people.read", "core.people.write"]
    # The old ETag is stale now.
    r = client.patch(f"{base}/{role['id']}", headers={**headers, "If-Match": etag}, json={"name": "Again"})
    assert r.status_code == 412


def test_builtin_and_ancestor_roles_cannot_be_changed_here(client, make, tree):
    headers = make.headers(tree["contact"])
    builtin = db.session.execute(sa.select(Role).where(Role.key == "club_admin")).scalar_one()
    url = f"/api/v1/orgs/{tree['a'].id}/roles/{builtin.id}"
    etag = client.get(url, headers=headers).headers["ETag"]
    r = client.patch(url, headers={**headers, "If-Match": etag}, json={"name": "Boss"})
    assert r.status_code == 403 and "built-in" in r.json["message"]
    assert client.delete(url, headers=headers).status_code == 403

    fed_role = client.post(f"/api/v1/orgs/{tree['fed'].id}/roles", headers=make.headers(tree["secretariat"]),
                           json={"name": "Fed viewer", "modules": {"core": "read"}}).json
    url = f"/api/v1/orgs/{tree['a'].id}/roles/{fed_role['id']}"
    etag = client.get(url, headers=headers).headers["ETag"]
    r = client.patch(url, headers={**headers, "If-Match": etag}, json={"name": "Mine"})
    assert r.status_code == 403 and "parent organisation" in r.json["message"]
    assert db.session.get(Role, fed_role["id"]).name == "Fed viewer"


def test_delete_role_in_use_is_409(client, make, tree):
    headers = make.headers(tree["contact"])
    base = f"/api/v1/orgs/{tree['a'].id}"
    role = client.post(f"{base}/roles", headers=headers, json={"name": "Kijker", "modules": {"core": "read"}}).json
    person = make.person("Ann", "Smet", org=tree["a"])
    make.user("ann@example.org", person=person)
    r = client.post(f"{base}/assignments", headers=headers, json={"person_id": person.id, "role_id": role["id"]})
    assert r.status_code == 201, r.json
    r = client.delete(f"{base}/roles/{role['id']}", headers=headers)
    assert r.status_code == 409 and "assignments" in r.json["message"]
    assert client.delete(f"{base}/assignments/999999", headers=headers).status_code == 404
    assignment_id = db.session.execute(sa.select(RoleAssignment.id).where(
        RoleAssignment.role_id == role["id"])).scalar_one()
    assert client.delete(f"{base}/assignments/{assignment_id}", headers=headers).status_code == 204
    assert client.delete(f"{base}/roles/{role['id']}", headers=headers).status_code == 204
    db.session.expire_all()
    assert db.session.get(Role, role["id"]) is None


# --- assignments ----------------------------------------------------------------------------------

def test_assignments_list_covers_the_subtree(client, make, tree):
    r = client.get(f"/api/v1/orgs/{tree['fed'].id}/assignments", headers=make.headers(tree["secretariat"]))
    assert r.status_code == 200, r.json
    rows = {(row["email"], row["role"], row["org_id"]) for row in r.json["items"]}
    assert rows == {("sec@example.org", "federation_secretariat", tree["fed"].id),
                    ("contact@example.org", "club_contact", tree["a"].id),
                    ("admin@example.org", "club_admin", tree["a"].id)}
    assert all(row["person_name"] for row in r.json["items"])
    # On the club: only the club's own assignments; filters narrow further.
    r = client.get(f"/api/v1/orgs/{tree['a'].id}/assignments?role=club_admin",
                   headers=make.headers(tree["contact"]))
    assert [row["email"] for row in r.json["items"]] == ["admin@example.org"]
    r = client.get(f"/api/v1/orgs/{tree['fed'].id}/assignments?q=contact", headers=make.headers(tree["secretariat"]))
    assert [row["email"] for row in r.json["items"]] == ["contact@example.org"]


def test_assign_role_to_person_with_login(client, make, tree):
    person = make.person("Piet", "Claes", org=tree["a"])
    user = make.user("piet@example.org", person=person)
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/assignments", headers=make.headers(tree["contact"]),
                    json={"user_id": user.id, "role": "club_admin"})
    assert r.status_code == 201, r.json
    assert r.json["invited"] is False and r.json["role"] == "club_admin" and r.json["org_id"] == tree["a"].id
    # The new admin can now use the club's API.
    r = client.get(f"/api/v1/orgs/{tree['a'].id}/assignments", headers=make.headers(user))
    assert r.status_code == 200


def test_assign_role_to_person_without_login_invites_them(client, make, tree, ctx):
    person = make.person("Lies", "Wouters", org=tree["a"], preferred_language="fr")
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/assignments", headers=make.headers(tree["contact"]),
                    json={"person_id": person.id, "role": "club_admin", "email": "Lies@Example.org"})
    assert r.status_code == 201, r.json
    assert r.json["invited"] is True and r.json["email"] == "lies@example.org"
    mail = last_mail(ctx)
    assert mail["To"] == "lies@example.org"
    assert mail["Subject"] == "Invitation à Federa – VC Aalst"  # in the person's language
    body = mail.get_content()
    assert "Choisissez d'abord un mot de passe" in body and "/password/reset/" in body
    assert db.session.execute(sa.select(User).where(User.email == "lies@example.org")).scalar_one().password_hash is None


def test_assign_role_without_login_or_email_is_422(client, make, tree):
    person = make.person("Tom", "Maes", org=tree["a"])
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/assignments", headers=make.headers(tree["contact"]),
                    json={"person_id": person.id, "role": "club_admin"})
    assert r.status_code == 422 and "email" in r.json["errors"]["json"]
    assert db.session.execute(sa.select(User).where(User.person_id == person.id)).first() is None


@pytest.mark.parametrize("body, field", [
    ({"role": "club_admin"}, "person_id"),
    ({"person_id": 1, "user_id": 1, "role": "club_admin"}, "person_id"),
    ({"person_id": "PERSON", "role": "club_admin"}, None),
    ({"person_id": "PERSON", "role": "king"}, "role"),
    ({"person_id": "PERSON", "role_id": 999999}, "role_id"),
    ({"person_id": "PERSON", "role": "club_admin", "org_id": "OTHER"}, "org_id"),
    ({"person_id": "STRANGER", "role": "club_admin"}, "person_id"),
    ({"person_id": "PERSON", "role": "club_admin", "extra": 1}, "extra"),
])
def test_assignment_bad_input_is_422_and_changes_nothing(client, make, tree, body, field):
    person = make.person("Eva", "Jacobs", org=tree["a"])
    stranger = make.person("Vreemde", "Persoon", org=tree["b"])
    make.user("eva@example.org", person=person)
    make.user("stranger@example.org", person=stranger)
    values = {"PERSON": person.id, "STRANGER": stranger.id, "OTHER": tree["b"].id}
    body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    if field is None:
        body["person_id"] = "not a number"
        field = "person_id"
    before = count(RoleAssignment)
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/assignments", headers=make.headers(tree["contact"]), json=body)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]["json"], r.json
    assert count(RoleAssignment) == before


def test_sixth_club_admin_is_refused_until_the_federation_raises_the_limit(client, make, tree, ctx):
    headers = make.headers(tree["contact"])
    url = f"/api/v1/orgs/{tree['a'].id}/assignments"
    people = [make.person(f"Admin{i}", "Club", org=tree["a"]) for i in range(6)]
    for i, person in enumerate(people[:4]):  # tree already has one club admin
        make.user(f"admin{i}@example.org", person=person)
        r = client.post(url, headers=headers, json={"person_id": person.id, "role": "club_admin"})
        assert r.status_code == 201, r.json
    make.user("admin5@example.org", person=people[5])
    before = count(RoleAssignment)
    r = client.post(url, headers=headers, json={"person_id": people[5].id, "role": "club_admin"})
    assert r.status_code == 409, r.json
    assert "5 admins" in r.json["message"]
    assert r.json["errors"]["json"]["role_id"]
    assert count(RoleAssignment) == before

    set_setting(db.session, ctx.extensions["federa"].settings, tree["fed"], "core.max_club_admins", 6)
    db.session.commit()
    r = client.post(url, headers=headers, json={"person_id": people[5].id, "role": "club_admin"})
    assert r.status_code == 201, r.json


def test_second_contact_person_is_refused(client, make, tree):
    person = make.person("Karel", "Dubois", org=tree["a"])
    make.user("karel@example.org", person=person)
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/assignments", headers=make.headers(tree["secretariat"]),
                    json={"person_id": person.id, "role": "club_contact"})
    assert r.status_code == 409 and "contact person" in r.json["message"]


def test_privilege_escalation_is_403(client, make, tree):
    person = make.person("Greet", "Peeters", org=tree["a"])
    make.user("greet@example.org", person=person)
    url = f"/api/v1/orgs/{tree['a'].id}/assignments"
    before = count(RoleAssignment)
    # A contact person cannot make someone federation secretariat (more than they hold) ...
    r = client.post(url, headers=make.headers(tree["contact"]),
                    json={"person_id": person.id, "role": "federation_secretariat"})
    assert r.status_code == 403, r.json
    # ... nor platform admin; neither can the secretariat.
    for granter in (tree["contact"], tree["secretariat"]):
        r = client.post(url, headers=make.headers(granter), json={"person_id": person.id, "role": "platform_admin"})
        assert r.status_code == 403 and "platform admin" in r.json["message"]
    # A custom role made by the secretariat on the federation carries core.people.merge: not grantable by the
    # contact person either.
    role = client.post(f"/api/v1/orgs/{tree['fed'].id}/roles", headers=make.headers(tree["secretariat"]),
                       json={"name": "Fusies", "permissions": ["core.people.merge"]}).json
    r = client.post(url, headers=make.headers(tree["contact"]), json={"person_id": person.id, "role_id": role["id"]})
    assert r.status_code == 403
    assert count(RoleAssignment) == before
    # A contact person cannot take away the role of someone who holds more than they do.
    r = client.post(url, headers=make.headers(tree["secretariat"]),
                    json={"person_id": person.id, "role": "federation_secretariat"})
    assert r.status_code == 201, r.json
    assert client.delete(f"{url}/{r.json['id']}", headers=make.headers(tree["contact"])).status_code == 403


def test_platform_admin_can_make_a_platform_admin(client, make, tree):
    root = make.user("root@example.org", role="platform_admin")
    person = make.person("Nieuwe", "Beheerder", org=tree["a"])
    make.user("new-root@example.org", person=person)
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/assignments", headers=make.headers(root),
                    json={"person_id": person.id, "role": "platform_admin"})
    assert r.status_code == 201, r.json
    assert r.json["org_id"] is None
    me = client.get("/api/v1/me", headers=make.headers(db.session.get(User, r.json["user_id"])))
    assert me.json["is_platform_admin"] is True


def test_assign_on_a_club_below_and_remove(client, make, tree):
    person = make.person("Sofie", "Mertens", org=tree["b"])
    make.user("sofie@example.org", person=person)
    headers = make.headers(tree["secretariat"])
    r = client.post(f"/api/v1/orgs/{tree['fed'].id}/assignments", headers=headers,
                    json={"person_id": person.id, "role": "club_admin", "org_id": tree["b"].id})
    assert r.status_code == 201, r.json
    assert r.json["org_id"] == tree["b"].id and r.json["org_name"] == "VC Brugge"
    # Club A's contact person cannot see or remove it.
    contact = make.headers(tree["contact"])
    assert client.get(f"/api/v1/orgs/{tree['a'].id}/assignments/{r.json['id']}", headers=contact).status_code == 404
    assert client.delete(f"/api/v1/orgs/{tree['a'].id}/assignments/{r.json['id']}",
                         headers=contact).status_code == 404
    assert client.delete(f"/api/v1/orgs/{tree['fed'].id}/assignments/{r.json['id']}", headers=headers).status_code == 204
    assert db.session.get(RoleAssignment, r.json["id"]) is None
