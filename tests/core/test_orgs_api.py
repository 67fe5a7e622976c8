"""The organisation API: tree, validation, ETags, moves, deletes, kinds, and tenant isolation."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.db import db
from core.models import Organisation, OrganisationKind

VALID_IBAN = "BE71 0961 2345 6769"


@pytest.fixture
def tree(make):
    """Federation > two regions > clubs A (with a team below) and B; logins of the usual roles."""
    fed = make.federation("Atletiek Vlaanderen")
    west = make.region(fed, "Regio West")
    east = make.region(fed, "Regio Oost")
    club_a = make.club(west, "AC Brugge", city="Brugge", iban=VALID_IBAN, kbo_number="0403170701")
    team = make.org("AC Brugge jeugd", "club", parent=club_a)
    club_b = make.club(east, "Daring Gent", city="Gent")
    users = {
        "secretariat": make.user("sec@example.org", role="federation_secretariat", org=fed),
        "club_admin": make.user("admin.a@example.org", role="club_admin", org=club_a),
        "member": make.user("lid.a@example.org", role="member", org=club_a),
        "platform": make.user("root@example.org", role="platform_admin"),
    }
    headers = {name: make.headers(user) for name, user in users.items()}
    return {"fed": fed, "west": west, "east": east, "a": club_a, "team": team, "b": club_b, "h": headers}


def org_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Organisation))


def field_errors(response) -> dict:
    return response.json["errors"]["json"]


# --- listing ------------------------------------------------------------------------------------

def test_list_shows_only_what_the_user_can_see(client, tree):
    r = client.get("/api/v1/orgs", headers=tree["h"]["club_admin"])
    assert r.status_code == 200, r.json
    assert [o["name"] for o in r.json["items"]] == ["AC Brugge", "AC Brugge jeugd"]
    assert r.json["total"] == 2

    r = client.get("/api/v1/orgs", headers=tree["h"]["secretariat"])
    assert r.json["total"] == 6
    assert r.json["items"][0]["name"] == "Atletiek Vlaanderen"  # tree order: root first


def test_list_filters_and_paginates(client, tree):
    h = tree["h"]["secretariat"]
    r = client.get("/api/v1/orgs?q=gent", headers=h)
    assert [o["name"] for o in r.json["items"]] == ["Daring Gent"]
    r = client.get("/api/v1/orgs?q=BRUGGE", headers=h)  # name and city, any case
    assert {o["name"] for o in r.json["items"]} == {"AC Brugge", "AC Brugge jeugd"}
    r = client.get("/api/v1/orgs?kind=region", headers=h)
    assert {o["name"] for o in r.json["items"]} == {"Regio West", "Regio Oost"}
    r = client.get(f"/api/v1/orgs?parent_id={tree['west'].id}", headers=h)
    assert [o["name"] for o in r.json["items"]] == ["AC Brugge"]
    r = client.get("/api/v1/orgs?page=2&page_size=4", headers=h)
    assert (r.json["total"], len(r.json["items"]), r.json["page"]) == (6, 2, 2)
    r = client.get("/api/v1/orgs?page_size=0", headers=h)
    assert r.status_code == 422


def test_list_needs_authentication(client, tree):
    assert client.get("/api/v1/orgs").status_code == 401


# --- creating -------------------------------------------------------------------------------------

def test_secretariat_creates_a_club_with_normalised_identifiers(client, tree):
    r = client.post("/api/v1/orgs", headers=tree["h"]["secretariat"], json={
        "parent_id": tree["east"].id, "name": "KV Aalst", "kind": "club", "short_name": "KVA",
        "kbo_number": "0403.170.701", "v_code": "v0001234", "iban": VALID_IBAN, "bic": "GEBABEBB",
        "email": "info@KVAALST.be", "phone": "053 12 34 56", "website": "www.kvaalst.be",
        "street": "Kerkstraat 1", "postal_code": "9300", "city": "Aalst", "legal_form": "vzw",
    })
    assert r.status_code == 201, r.json
    body = r.json
    assert body["parent_id"] == tree["east"].id and body["depth"] == 2
    assert body["path"] == f"{tree['east'].path}{body['id']}/"
    assert (body["kbo_number"], body["v_code"], body["phone"]) == ("0403170701", "V0001234", "+3253123456")
    assert body["email"] == "info@kvaalst.be" and body["website"] == "https://www.kvaalst.be"
    assert body["iban"] == "BE71096123456769"  # the secretariat may see bank accounts
    assert body["modules"] == []
    assert r.headers["ETag"] and r.headers["Location"].endswith(f"/api/v1/orgs/{body['id']}")


@pytest.mark.parametrize("field, value, message", [
    ("kbo_number", "0123456789", "not a valid KBO number"),
    ("iban", "BE68 5390 0754 7034", "not a valid IBAN"),
    ("v_code", "V123", "V followed by 7 digits"),
    ("phone", "12", "not a valid phone number"),
    ("email", "info@", "not a valid e-mail address"),
    ("bic", "XX", "not a valid BIC"),
])
def test_invalid_identifiers_get_field_errors_and_create_nothing(client, tree, field, value, message):
    before = org_count()
    r = client.post("/api/v1/orgs", headers=tree["h"]["secretariat"],
                    json={"parent_id": tree["east"].id, "name": "Nieuw", "kind": "club", field: value})
    assert r.status_code == 422, r.json
    assert message in field_errors(r)[field][0]
    assert org_count() == before


def test_unknown_field_and_unknown_kind_are_refused(client, tree):
    h = tree["h"]["secretariat"]
    before = org_count()
    r = client.post("/api/v1/orgs", headers=h, json={"parent_id": tree["east"].id, "name": "X", "kind": "club",
                                                     "colour": "red"})
    assert r.status_code == 422 and "colour" in field_errors(r)
    r = client.post("/api/v1/orgs", headers=h, json={"parent_id": tree["east"].id, "name": "X", "kind": "castle"})
    assert r.status_code == 422 and "unknown organisation kind" in field_errors(r)["kind"][0]
    r = client.post("/api/v1/orgs", headers=h, json={"parent_id": tree["east"].id, "kind": "club"})
    assert r.status_code == 422 and "name" in field_errors(r)
    assert org_count() == before


def test_who_may_create_where(client, tree):
    body = {"name": "Nieuw", "kind": "club"}
    before = org_count()
    # A club admin lacks core.organisation.create on their own club ...
    r = client.post("/api/v1/orgs", headers=tree["h"]["club_admin"], json={**body, "parent_id": tree["a"].id})
    assert r.status_code == 403
    # ... and another club does not exist for them.
    r = client.post("/api/v1/orgs", headers=tree["h"]["club_admin"], json={**body, "parent_id": tree["b"].id})
    assert r.status_code == 404 and "parent_id" in field_errors(r)
    r = client.post("/api/v1/orgs", headers=tree["h"]["secretariat"], json={**body, "parent_id": 999999})
    assert r.status_code == 404
    # Only a platform admin makes roots.
    r = client.post("/api/v1/orgs", headers=tree["h"]["secretariat"], json={**body, "kind": "federation"})
    assert r.status_code == 403
    assert org_count() == before
    r = client.post("/api/v1/orgs", headers=tree["h"]["platform"], json={**body, "kind": "federation"})
    assert r.status_code == 201 and r.json["parent_id"] is None and r.json["depth"] == 0


# --- one organisation ------------------------------------------------------------------------------

def test_detail_has_modules_tree_position_and_masked_bank_account(client, tree):
    club = tree["a"]
    r = client.get(f"/api/v1/orgs/{club.id}", headers=tree["h"]["club_admin"])
    assert r.status_code == 200, r.json
    assert r.json["modules"] == [] and r.json["parent_id"] == tree["west"].id
    assert r.json["path"] == club.path and r.json["depth"] == 2
    assert r.json["iban"] == "BE71 •••• •••• 6769"  # a club admin may not see bank accounts
    assert r.headers["ETag"]
    r = client.get(f"/api/v1/orgs/{club.id}", headers=tree["h"]["secretariat"])
    assert r.json["iban"] == "BE71096123456769"


def test_patch_needs_a_fresh_etag(client, tree):
    club, h = tree["a"], tree["h"]["club_admin"]
    url = f"/api/v1/orgs/{club.id}"
    etag = client.get(url, headers=h).headers["ETag"]

    r = client.patch(url, headers=h, json={"name": "AC Brugge 1900"})
    assert r.status_code == 428
    r = client.patch(url, headers={**h, "If-Match": '"stale"'}, json={"name": "AC Brugge 1900"})
    assert r.status_code == 412
    assert db.session.get(Organisation, club.id).name == "AC Brugge"

    r = client.patch(url, headers={**h, "If-Match": etag}, json={"name": "AC Brugge 1900", "phone": "050 12 34 56"})
    assert r.status_code == 200, r.json
    assert r.json["name"] == "AC Brugge 1900" and r.json["phone"] == "+3250123456"
    new_etag = r.headers["ETag"]
    assert new_etag and new_etag != etag
    # The old ETag is now stale: a second admin with the old copy cannot overwrite silently.
    r = client.patch(url, headers={**h, "If-Match": etag}, json={"name": "Overwritten"})
    assert r.status_code == 412
    assert db.session.get(Organisation, club.id).name == "AC Brugge 1900"


def test_patch_with_bad_input_changes_nothing(client, tree):
    club, h = tree["a"], tree["h"]["club_admin"]
    url = f"/api/v1/orgs/{club.id}"
    etag = client.get(url, headers=h).headers["ETag"]
    r = client.patch(url, headers={**h, "If-Match": etag},
                     json={"name": "Nieuwe naam", "kbo_number": "0123456789", "phone": "12"})
    assert r.status_code == 422
    assert set(field_errors(r)) == {"kbo_number", "phone"}
    r = client.patch(url, headers={**h, "If-Match": etag}, json={"parent_id": tree["east"].id})
    assert r.status_code == 422 and "parent_id" in field_errors(r)
    r = client.patch(url, headers={**h, "If-Match": etag}, json={"postal_code": "12"})
    assert r.status_code == 422 and "postal_code" in field_errors(r)
    org = db.session.get(Organisation, club.id)
    assert (org.name, org.kbo_number, org.parent_id) == ("AC Brugge", "0403170701", tree["west"].id)


def test_patch_needs_write_permission(client, tree):
    url = f"/api/v1/orgs/{tree['a'].id}"
    etag = client.get(url, headers=tree["h"]["member"]).headers["ETag"]
    r = client.patch(url, headers={**tree["h"]["member"], "If-Match": etag}, json={"name": "Mine"})
    assert r.status_code == 403


# --- moving and deleting ---------------------------------------------------------------------------

def test_move_keeps_the_subtree_together(client, tree):
    h = tree["h"]["secretariat"]
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/move", headers=h, json={"parent_id": tree["east"].id})
    assert r.status_code == 200, r.json
    assert r.json["parent_id"] == tree["east"].id
    team = db.session.get(Organisation, tree["team"].id)
    assert team.path == f"{tree['east'].path}{tree['a'].id}/{team.id}/" and team.depth == 3


def test_move_into_own_subtree_is_a_conflict_and_changes_nothing(client, tree):
    h = tree["h"]["secretariat"]
    paths = dict(db.session.execute(sa.select(Organisation.id, Organisation.path)).all())
    for target in (tree["team"], tree["a"]):
        r = client.post(f"/api/v1/orgs/{tree['a'].id}/move", headers=h, json={"parent_id": target.id})
        assert r.status_code == 409, r.json
        assert "below itself" in r.json["message"]
    r = client.post(f"/api/v1/orgs/{tree['west'].id}/move", headers=h, json={"parent_id": tree["team"].id})
    assert r.status_code == 409
    assert dict(db.session.execute(sa.select(Organisation.id, Organisation.path)).all()) == paths


def test_move_needs_create_permission_on_both_sides(client, tree):
    # The club admin sees club A, but may not restructure the tree.
    r = client.post(f"/api/v1/orgs/{tree['team'].id}/move", headers=tree["h"]["club_admin"],
                    json={"parent_id": tree["a"].id})
    assert r.status_code == 403
    # Making a root needs a platform admin.
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/move", headers=tree["h"]["secretariat"], json={"parent_id": None})
    assert r.status_code == 403
    r = client.post(f"/api/v1/orgs/{tree['a'].id}/move", headers=tree["h"]["secretariat"], json={})
    assert r.status_code == 422
    assert db.session.get(Organisation, tree["a"].id).parent_id == tree["west"].id


def test_children_one_level_or_the_whole_subtree(client, tree):
    h = tree["h"]["secretariat"]
    r = client.get(f"/api/v1/orgs/{tree['fed'].id}/children", headers=h)
    assert {o["name"] for o in r.json["items"]} == {"Regio West", "Regio Oost"}
    r = client.get(f"/api/v1/orgs/{tree['fed'].id}/children?depth=all", headers=h)
    names = [o["name"] for o in r.json["items"]]
    assert len(names) == 5 and "Atletiek Vlaanderen" not in names
    assert names.index("Regio West") < names.index("AC Brugge") < names.index("AC Brugge jeugd")
    assert client.get(f"/api/v1/orgs/{tree['fed'].id}/children?depth=7", headers=h).status_code == 422


def test_delete_only_an_empty_organisation(client, tree, make):
    h = tree["h"]["secretariat"]
    r = client.delete(f"/api/v1/orgs/{tree['a'].id}", headers=h)
    assert r.status_code == 409 and "below it" in r.json["message"]
    make.person("Piet", org=tree["b"])
    r = client.delete(f"/api/v1/orgs/{tree['b'].id}", headers=h)
    assert r.status_code == 409 and "people" in r.json["message"]
    assert db.session.get(Organisation, tree["b"].id) is not None

    team_id = tree["team"].id
    r = client.delete(f"/api/v1/orgs/{team_id}", headers=tree["h"]["club_admin"])
    assert r.status_code == 403
    r = client.delete(f"/api/v1/orgs/{team_id}", headers=h)
    assert r.status_code == 204
    db.session.expunge_all()
    assert db.session.get(Organisation, team_id) is None


# --- kinds -----------------------------------------------------------------------------------------

@pytest.fixture
def no_youth_kind(ctx):
    """Kinds are kept between tests: remove the one this test adds, also when it fails."""
    def remove():
        db.session.rollback()
        db.session.execute(sa.delete(Organisation).where(Organisation.kind == "youth_team"))
        db.session.execute(sa.delete(OrganisationKind).where(OrganisationKind.key == "youth_team"))
        db.session.commit()

    remove()
    yield
    remove()


def test_kinds_are_data_platform_admins_add_them(client, tree, no_youth_kind):
    r = client.get("/api/v1/organisation-kinds", headers=tree["h"]["club_admin"])
    assert r.status_code == 200
    kinds = {k["key"]: k for k in r.json}
    assert {"federation", "region", "club", "government"} <= set(kinds)
    assert kinds["federation"]["labels"]["nl"] == "Federatie"

    new = {"key": "youth_team", "labels": {"nl": "Jeugdploeg", "fr": "Équipe de jeunes", "en": "Youth team"}}
    r = client.post("/api/v1/organisation-kinds", headers=tree["h"]["secretariat"], json=new)
    assert r.status_code == 404  # platform-admin only
    r = client.post("/api/v1/organisation-kinds", headers=tree["h"]["platform"], json=new)
    assert r.status_code == 201, r.json
    r = client.post("/api/v1/organisation-kinds", headers=tree["h"]["platform"], json=new)
    assert r.status_code == 409
    r = client.post("/api/v1/organisation-kinds", headers=tree["h"]["platform"],
                    json={"key": "Bad Key", "labels": {"nl": "x"}})
    assert r.status_code == 422 and "key" in field_errors(r)

    r = client.post("/api/v1/orgs", headers=tree["h"]["secretariat"],
                    json={"parent_id": tree["a"].id, "name": "U12", "kind": "youth_team"})
    assert r.status_code == 201 and r.json["kind"] == "youth_team"


# --- tenant isolation ----------------------------------------------------------------------------------

def test_a_club_admin_gets_404_for_another_club_and_the_federation_on_every_route(client, tree):
    h = tree["h"]["club_admin"]
    for org in (tree["b"], tree["fed"], tree["east"]):
        before = db.session.get(Organisation, org.id).name
        calls = [
            ("get", f"/api/v1/orgs/{org.id}", None),
            ("patch", f"/api/v1/orgs/{org.id}", {"name": "Hacked"}),
            ("delete", f"/api/v1/orgs/{org.id}", None),
            ("post", f"/api/v1/orgs/{org.id}/move", {"parent_id": tree["a"].id}),
            ("get", f"/api/v1/orgs/{org.id}/children", None),
            ("get", f"/api/v1/orgs/{org.id}/settings", None),
            ("put", f"/api/v1/orgs/{org.id}/settings", {"values": {"core.max_club_admins": 50}}),
        ]
        for method, url, body in calls:
            r = getattr(client, method)(url, headers={**h, "If-Match": "*"}, json=body)
            assert r.status_code == 404, (method, url, r.status_code)
        assert db.session.get(Organisation, org.id).name == before
    # Moving one's own club below a foreign organisation: the target does not exist either.
    r = client.post(f"/api/v1/orgs/{tree['team'].id}/move", headers=h, json={"parent_id": tree["b"].id})
    assert r.status_code == 404
