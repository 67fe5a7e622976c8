"""Custom fields API: definitions per organisation, inherited down the tree, values validated by type,
changes only by the owner, ETags, and filtering."""
import pytest
import sqlalchemy as sa

from core.db import db
from core.models import CustomField, CustomFieldValue


@pytest.fixture
def world(make):
    fed = make.federation()
    region = make.region(fed, "Oost-Vlaanderen")
    club = make.club(region, "AC Gent")
    other = make.club(fed, "AC Brugge")
    w = type("World", (), {})()
    w.fed, w.region, w.club, w.other = fed, region, club, other
    w.secretariat = make.headers(
        make.user("secretariaat@example.org", role="federation_secretariat", org=fed, password="")
    )
    w.club_admin = make.headers(make.user("admin@example.org", role="club_admin", org=club, password=""))
    w.member = make.headers(make.user("lid@example.org", role="member", org=club, password=""))
    return w


def fields_url(org, field_id=None):
    return f"/api/v1/orgs/{org.id}/custom-fields" + (f"/{field_id}" if field_id else "")


def define(client, org, headers, **body):
    r = client.post(fields_url(org), headers=headers, json=body)
    assert r.status_code == 201, r.json
    return r.json


def test_federation_fields_apply_to_the_whole_subtree(client, world):
    define(client, world.fed, world.secretariat, key="licence", label="Licence", field_type="text", position=1)
    define(client, world.club, world.club_admin, key="locker", label="Locker", field_type="bool")
    r = client.get(fields_url(world.club), headers=world.club_admin)
    assert [(f["key"], f["inherited"]) for f in r.json] == [("licence", True), ("locker", False)]
    r = client.get(fields_url(world.region), headers=world.secretariat)
    assert [f["key"] for f in r.json] == ["licence"]  # the club's field does not go up
    r = client.get(fields_url(world.other), headers=world.secretariat)
    assert [f["key"] for f in r.json] == ["licence"]  # nor sideways


def test_definition_is_validated(client, world):
    h, url = world.club_admin, fields_url(world.club)
    cases = [
        ({"key": "Shirt Size", "label": "Shirt", "field_type": "text"}, "key"),
        ({"key": "shirt", "label": " ", "field_type": "text"}, "label"),
        ({"key": "shirt", "label": "Shirt", "field_type": "colour"}, "field_type"),
        ({"key": "shirt", "label": "Shirt", "field_type": "choice"}, "choices"),
        ({"key": "shirt", "label": "Shirt", "field_type": "choice", "choices": ["S", "S"]}, "choices"),
        ({"key": "shirt", "label": "Shirt", "field_type": "text", "choices": ["S"]}, "choices"),
        ({"key": "shirt", "label": "Shirt", "field_type": "text", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = client.post(url, headers=h, json=body)
        assert r.status_code == 422, (body, r.json)
        assert field in r.json["errors"]["json"], (body, r.json)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomField)) == 0


def test_keys_are_unique_along_the_tree(client, world):
    define(client, world.fed, world.secretariat, key="licence", label="Licence", field_type="text")
    define(client, world.club, world.club_admin, key="locker", label="Locker", field_type="bool")
    r = client.post(fields_url(world.club), headers=world.club_admin,
                    json={"key": "licence", "label": "Own licence", "field_type": "text"})
    assert r.status_code == 409 and "key" in r.json["errors"]["json"]
    r = client.post(fields_url(world.fed), headers=world.secretariat,
                    json={"key": "locker", "label": "Locker", "field_type": "bool"})
    assert r.status_code == 409  # a club below already uses it
    # A sibling club may use the same key as another club.
    r = client.post(fields_url(world.other), headers=world.secretariat,
                    json={"key": "locker", "label": "Kastje", "field_type": "bool"})
    assert r.status_code == 201


def test_only_the_owner_changes_a_field_with_etag(client, world, make):
    licence = define(client, world.fed, world.secretariat, key="licence", label="Licence", field_type="choice",
                     choices=["A", "B"])
    # The club sees the federation's field but cannot change or delete it: 404.
    r = client.get(fields_url(world.club, licence["id"]), headers=world.club_admin)
    assert r.status_code == 200 and r.json["inherited"] is True
    r = client.patch(fields_url(world.club, licence["id"]), headers={**world.club_admin, "If-Match": r.headers["ETag"]},
                     json={"label": "Mine"})
    assert r.status_code == 404
    assert client.delete(fields_url(world.club, licence["id"]), headers=world.club_admin).status_code == 404
    url = fields_url(world.fed, licence["id"])
    assert client.patch(url, headers=world.secretariat, json={"label": "Licence type"}).status_code == 428
    etag = client.get(url, headers=world.secretariat).headers["ETag"]
    r = client.patch(url, headers={**world.secretariat, "If-Match": etag},
                     json={"label": "Licence type", "choices": ["A", "B", "C"], "required": True})
    assert r.status_code == 200, r.json
    assert (r.json["label"], r.json["choices"], r.json["required"]) == ("Licence type", ["A", "B", "C"], True)
    r = client.patch(url, headers={**world.secretariat, "If-Match": etag}, json={"label": "Stale"})
    assert r.status_code == 412
    # A choice that people have cannot be dropped.
    person = make.person("Jan", "Peeters", org=world.club)
    db.session.add(CustomFieldValue(field_id=licence["id"], person_id=person.id, value="B"))
    db.session.commit()
    etag = client.get(url, headers=world.secretariat).headers["ETag"]
    r = client.patch(url, headers={**world.secretariat, "If-Match": etag}, json={"choices": ["A", "C"]})
    assert r.status_code == 409 and "choices" in r.json["errors"]["json"]
    assert db.session.get(CustomField, licence["id"]).choices == ["A", "B", "C"]
    # Deleting takes the values with it.
    assert client.delete(url, headers=world.secretariat).status_code == 204
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomFieldValue)) == 0


def test_permissions(client, world):
    r = client.post(fields_url(world.club), headers=world.member,
                    json={"key": "shirt", "label": "Shirt", "field_type": "text"})
    assert r.status_code == 403
    assert client.get(fields_url(world.club), headers=world.member).status_code == 403
    # The club admin cannot define fields for the federation above (it does not even see it).
    r = client.post(fields_url(world.fed), headers=world.club_admin,
                    json={"key": "shirt", "label": "Shirt", "field_type": "text"})
    assert r.status_code == 404


@pytest.mark.parametrize("field_type, choices, good, stored, bad", [
    ("text", [], "  Blue  ", "Blue", {"a": 1}),
    ("memo", [], "line 1\nline 2", "line 1\nline 2", "x" * 5001),
    ("choice", ["S", "M"], "M", "M", "XL"),
    ("date", [], "2024-02-29", "2024-02-29", "29/02/2024"),
    ("bool", [], "ja", "true", "maybe"),
])
def test_values_are_validated_by_type(client, world, field_type, choices, good, stored, bad):
    define(client, world.club, world.club_admin, key="extra", label="Extra", field_type=field_type, choices=choices)
    url = f"/api/v1/orgs/{world.club.id}/people"
    r = client.post(url, headers=world.club_admin,
                    json={"first_name": "Jan", "last_name": "Peeters", "custom_fields": {"extra": bad}})
    assert r.status_code == 422
    assert list(r.json["errors"]["json"]) == ["custom_fields.extra"]
    r = client.post(url, headers=world.club_admin,
                    json={"first_name": "Jan", "last_name": "Peeters", "custom_fields": {"extra": good}})
    assert r.status_code == 201, r.json
    assert db.session.execute(sa.select(CustomFieldValue.value)).scalar_one() == stored
    expected = True if field_type == "bool" else stored
    assert r.json["custom_fields"] == {"extra": expected}
    # The stored value is what the filter finds.
    r = client.get(url, headers=world.club_admin, query_string={"cf.extra": good})
    assert [p["last_name"] for p in r.json["items"]] == ["Peeters"]


def test_club_sees_federation_values_and_filters_on_them(client, world, make):
    define(client, world.fed, world.secretariat, key="level", label="Level", field_type="choice", choices=["A", "B"])
    url = f"/api/v1/orgs/{world.club.id}/people"
    for name, level in (("Claes", "A"), ("Maes", "B")):
        r = client.post(url, headers=world.club_admin,
                        json={"first_name": "Jan", "last_name": name, "custom_fields": {"level": level}})
        assert r.status_code == 201
    r = client.get(url, headers=world.club_admin, query_string={"cf.level": "B"})
    assert [p["last_name"] for p in r.json["items"]] == ["Maes"]
    r = client.get(f"/api/v1/orgs/{world.fed.id}/people", headers=world.secretariat, query_string={"cf.level": "A"})
    assert [p["last_name"] for p in r.json["items"]] == ["Claes"]
    r = client.get(url, headers=world.club_admin, query_string={"cf.level": "C"})
    assert r.status_code == 422
