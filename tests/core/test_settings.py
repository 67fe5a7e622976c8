"""Per-organisation settings: inheritance down the tree, type checks, who may change what, and the
federation's club admin limit that follows from `core.max_club_admins`."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.db import db
from core.models import OrganisationSetting
from core.services import Conflict
from core.services.users import assign_role, builtin_role
from core.settings import SettingError, SettingSpec, coerce


@pytest.fixture
def tree(make):
    fed = make.federation("Judo Vlaanderen")
    club = make.club(fed, "Judoclub Lier")
    other = make.club(make.federation("Andere"), "Elders")
    users = {
        "secretariat": make.user("sec@example.org", role="federation_secretariat", org=fed),
        "contact": make.user("contact@example.org", role="club_contact", org=club),
        "club_admin": make.user("admin@example.org", role="club_admin", org=club),
        "member": make.user("lid@example.org", role="member", org=club),
    }
    return {"fed": fed, "club": club, "other": other, "users": users,
            "h": {name: make.headers(user) for name, user in users.items()}}


def settings_of(client, org, headers):
    r = client.get(f"/api/v1/orgs/{org.id}/settings", headers=headers)
    assert r.status_code == 200, r.json
    return {s["key"]: s for s in r.json["items"]}, r.headers["ETag"]


def put(client, org, headers, etag, values):
    return client.put(f"/api/v1/orgs/{org.id}/settings", headers={**headers, "If-Match": etag},
                      json={"values": values})


def test_default_then_inherited_from_the_federation_then_own(client, tree):
    fed, club, h = tree["fed"], tree["club"], tree["h"]
    items, _ = settings_of(client, club, h["club_admin"])
    limit = items["core.max_club_admins"]
    assert (limit["value"], limit["source"], limit["default"], limit["type"]) == (5, "default", 5, "integer")

    _, etag = settings_of(client, fed, h["secretariat"])
    r = put(client, fed, h["secretariat"], etag, {"core.max_club_admins": 2})
    assert r.status_code == 200, r.json
    items, _ = settings_of(client, club, h["club_admin"])
    assert (items["core.max_club_admins"]["value"], items["core.max_club_admins"]["source"],
            items["core.max_club_admins"]["source_org_id"]) == (2, "inherited", fed.id)

    # The secretariat can set a club's own value; null makes it inherit again.
    _, etag = settings_of(client, club, h["secretariat"])
    r = put(client, club, h["secretariat"], etag, {"core.max_club_admins": 3})
    assert r.status_code == 200
    assert {s["key"]: s for s in r.json["items"]}["core.max_club_admins"]["source"] == "own"
    r = put(client, club, h["secretariat"], r.headers["ETag"], {"core.max_club_admins": None})
    assert {s["key"]: s for s in r.json["items"]}["core.max_club_admins"]["value"] == 2


def test_bad_values_are_refused_and_nothing_changes(client, tree):
    fed, h = tree["fed"], tree["h"]["secretariat"]
    _, etag = settings_of(client, fed, h)
    for values, key in [({"core.max_club_admins": "many"}, "core.max_club_admins"),
                        ({"core.max_club_admins": True}, "core.max_club_admins"),
                        ({"core.max_club_admins": -1}, "core.max_club_admins"),
                        ({"core.no_such_setting": 1}, "core.no_such_setting")]:
        r = put(client, fed, h, etag, values)
        assert r.status_code == 422, (values, r.json)
        assert key in r.json["errors"]["json"]["values"]
    r = client.put(f"/api/v1/orgs/{fed.id}/settings", headers={**h, "If-Match": etag}, json={"core.max_club_admins": 3})
    assert r.status_code == 422  # values go under "values"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrganisationSetting)) == 0


def test_settings_updates_need_a_fresh_etag(client, tree):
    fed, h = tree["fed"], tree["h"]["secretariat"]
    _, etag = settings_of(client, fed, h)
    r = client.put(f"/api/v1/orgs/{fed.id}/settings", headers=h, json={"values": {"core.max_club_admins": 3}})
    assert r.status_code == 428
    assert put(client, fed, h, etag, {"core.max_club_admins": 3}).status_code == 200
    assert put(client, fed, h, etag, {"core.max_club_admins": 4}).status_code == 412
    items, _ = settings_of(client, fed, h)
    assert items["core.max_club_admins"]["value"] == 3


def test_a_club_cannot_raise_the_limit_its_federation_sets(client, tree):
    club, h = tree["club"], tree["h"]
    items, etag = settings_of(client, club, h["contact"])
    assert items["core.max_club_admins"]["write_permission"] == "core.organisation.create"
    r = put(client, club, h["contact"], etag, {"core.max_club_admins": 50})
    assert r.status_code == 403
    r = put(client, club, h["member"], etag, {"core.max_club_admins": 50})
    assert r.status_code == 403
    assert client.get(f"/api/v1/orgs/{club.id}/settings", headers=h["member"]).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrganisationSetting)) == 0


def test_the_federation_limit_applies_to_its_clubs(client, tree, make):
    fed, club = tree["fed"], tree["club"]
    _, etag = settings_of(client, fed, tree["h"]["secretariat"])
    assert put(client, fed, tree["h"]["secretariat"], etag, {"core.max_club_admins": 2}).status_code == 200
    # The fixture's club already has one club admin; one more is allowed, the third is not.
    make.user("tweede@example.org", role="club_admin", org=club)
    third = make.user("derde@example.org")
    with pytest.raises(Conflict) as refused:
        assign_role(db.session, third, builtin_role(db.session, "club_admin"), club)
    assert "2 admins" in refused.value.message
    db.session.rollback()
    # Another federation's clubs keep the default of 5.
    other = tree["other"]
    for i in range(5):
        make.user(f"elders{i}@example.org", role="club_admin", org=other)


def test_settings_are_404_for_other_organisations(client, tree):
    other = tree["other"]
    r = client.get(f"/api/v1/orgs/{other.id}/settings", headers=tree["h"]["secretariat"])
    assert r.status_code == 404
    r = client.put(f"/api/v1/orgs/{other.id}/settings", headers={**tree["h"]["secretariat"], "If-Match": "*"},
                   json={"values": {"core.max_club_admins": 1}})
    assert r.status_code == 404


@pytest.mark.parametrize("spec, given, expected", [
    (SettingSpec("x.flag", "Flag", False, bool), "yes", True),
    (SettingSpec("x.flag", "Flag", False, bool), False, False),
    (SettingSpec("x.count", "Count", 1, int), "7", 7),
    (SettingSpec("x.name", "Name", "", str), "  Jan ", "Jan"),
    (SettingSpec("x.colour", "Colour", "red", str, choices=("red", "blue")), "blue", "blue"),
])
def test_values_from_forms_and_json_are_coerced(spec, given, expected):
    assert coerce(spec, given) == expected


@pytest.mark.parametrize("spec, given", [
    (SettingSpec("x.flag", "Flag", False, bool), "perhaps"),
    (SettingSpec("x.count", "Count", 1, int), 1.5),
    (SettingSpec("x.count", "Count", 1, int, max_value=10), 11),
    (SettingSpec("x.name", "Name", "", str), 12),
    (SettingSpec("x.colour", "Colour", "red", str, choices=("red", "blue")), "green"),
])
def test_values_that_do_not_fit_are_refused(spec, given):
    with pytest.raises(SettingError):
        coerce(spec, given)
