"""Packages, subscriptions and module switches through the API, with the sample plugins loaded.

`sample_extra` requires `sample`; the sample plugin's notes API proves that switching a module
off closes its routes (404) and keeps its data.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from core.db import db
from core.models import ModuleOverride, Package, Subscription


@pytest.fixture
def world(sample_make):
    make = sample_make
    fed = make.federation("Volleybal Vlaanderen")
    club = make.club(fed, "VC Zwevezele")
    other_fed = make.federation("Andere federatie")
    other_club = make.club(other_fed, "Elders VC")
    users = {
        "platform": make.user("root@example.org", role="platform_admin"),
        "secretariat": make.user("sec@example.org", role="federation_secretariat", org=fed),
        "club_admin": make.user("club@example.org", role="club_admin", org=club),
        "member": make.user("lid@example.org", role="member", org=club),
    }
    return {"fed": fed, "club": club, "other_fed": other_fed, "other_club": other_club, "make": make,
            "h": {name: make.headers(user) for name, user in users.items()}}


def modules_of(client, org, headers) -> dict:
    r = client.get(f"/api/v1/orgs/{org.id}/modules", headers=headers)
    assert r.status_code == 200, r.json
    return {m["name"]: m for m in r.json["items"]}


def field_errors(response) -> dict:
    return response.json["errors"]["json"]


# --- packages --------------------------------------------------------------------------------------

def test_platform_admin_manages_packages(sample_client, world):
    client, h = sample_client, world["h"]
    r = client.post("/api/v1/packages", headers=h["platform"],
                    json={"key": "basis", "name": "Basis", "plugins": ["sample"]})
    assert r.status_code == 201, r.json
    package_id = r.json["id"]
    assert r.json["plugins"] == ["sample"]

    r = client.post("/api/v1/packages", headers=h["platform"], json={"key": "basis", "name": "Twee", "plugins": []})
    assert r.status_code == 409
    r = client.post("/api/v1/packages", headers=h["platform"],
                    json={"key": "pro", "name": "Pro", "plugins": ["sample", "billing_nope"]})
    assert r.status_code == 422 and "unknown module" in field_errors(r)["plugins"][0]
    r = client.post("/api/v1/packages", headers=h["platform"], json={"key": "pro", "name": "Pro", "plugins": ["core"]})
    assert r.status_code == 422  # core is always on; it is not a module one subscribes to
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Package)) == 1

    # Not a platform admin: the platform-admin endpoints do not exist for them.
    r = client.post("/api/v1/packages", headers=h["secretariat"], json={"key": "x", "name": "X", "plugins": []})
    assert r.status_code == 404

    # Admins list them; members do not.
    assert [p["key"] for p in client.get("/api/v1/packages", headers=h["secretariat"]).json] == ["basis"]
    assert client.get("/api/v1/packages", headers=h["club_admin"]).status_code == 200
    assert client.get("/api/v1/packages", headers=h["member"]).status_code == 403

    url = f"/api/v1/packages/{package_id}"
    etag = client.get(url, headers=h["platform"]).headers["ETag"]
    assert client.patch(url, headers=h["platform"], json={"name": "Basis+"}).status_code == 428
    r = client.patch(url, headers={**h["platform"], "If-Match": etag}, json={"plugins": ["nope"]})
    assert r.status_code == 422
    r = client.patch(url, headers={**h["platform"], "If-Match": etag},
                     json={"name": "Basis+", "plugins": ["sample", "sample_extra"]})
    assert r.status_code == 200, r.json
    assert r.json["plugins"] == ["sample", "sample_extra"]
    r = client.patch(url, headers={**h["platform"], "If-Match": etag}, json={"name": "Stale"})
    assert r.status_code == 412


# --- subscriptions and the enabled set ----------------------------------------------------------------

def test_a_federation_package_with_include_descendants_reaches_its_clubs(sample_client, world):
    client, h, make = sample_client, world["h"], world["make"]
    package = make.package("notes", ["sample"], name="Notities")
    r = client.post(f"/api/v1/orgs/{world['fed'].id}/subscriptions", headers=h["secretariat"],
                    json={"package_id": package.id, "starts_on": "2024-01-01", "include_descendants": True})
    assert r.status_code == 201, r.json
    assert r.json["active"] is True and r.json["package"]["name"] == "Notities"

    r = client.get(f"/api/v1/orgs/{world['club'].id}", headers=h["club_admin"])
    assert r.json["modules"] == ["sample"]
    club_modules = modules_of(client, world["club"], h["club_admin"])
    assert club_modules["sample"]["enabled"] is True
    assert club_modules["sample"]["sources"] == [{
        "kind": "inherited", "package": "Notities", "package_id": package.id, "org_id": world["fed"].id,
        "org_name": "Volleybal Vlaanderen", "plugin": None, "enabled": None}]
    assert club_modules["sample_extra"]["enabled"] is False
    # The route gate lets the club through now.
    assert client.get(f"/api/v1/orgs/{world['club'].id}/sample/notes", headers=h["club_admin"]).status_code == 200
    # Another federation's club gets nothing.
    assert client.get(f"/api/v1/orgs/{world['other_club'].id}/sample/notes",
                      headers=h["platform"]).status_code == 404


def test_without_include_descendants_only_the_subscriber_has_it(sample_client, world):
    client, h, make = sample_client, world["h"], world["make"]
    package = make.package("notes", ["sample"])
    r = client.post(f"/api/v1/orgs/{world['fed'].id}/subscriptions", headers=h["secretariat"],
                    json={"package_id": package.id})
    assert r.status_code == 201 and r.json["starts_on"] == dt.date.today().isoformat()
    assert modules_of(client, world["fed"], h["secretariat"])["sample"]["sources"][0]["kind"] == "package"
    assert modules_of(client, world["club"], h["secretariat"])["sample"]["enabled"] is False


def test_subscription_validation(sample_client, world):
    client, h, make = sample_client, world["h"], world["make"]
    package = make.package("notes", ["sample"])
    url = f"/api/v1/orgs/{world['club'].id}/subscriptions"
    r = client.post(url, headers=h["secretariat"],
                    json={"package_id": package.id, "starts_on": "2025-06-01", "ends_on": "2025-05-31"})
    assert r.status_code == 422 and "ends_on" in field_errors(r)
    r = client.post(url, headers=h["secretariat"], json={"package_id": 99999})
    assert r.status_code == 422 and "package_id" in field_errors(r)
    r = client.post(url, headers=h["secretariat"], json={"package_id": package.id, "plan": "gold"})
    assert r.status_code == 422 and "plan" in field_errors(r)
    # A club admin may look but not subscribe.
    assert client.post(url, headers=h["club_admin"], json={"package_id": package.id}).status_code == 403
    assert client.get(url, headers=h["club_admin"]).status_code == 200
    assert client.get(url, headers=h["member"]).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscription)) == 0


def test_ending_a_subscription_switches_its_modules_off_and_keeps_it_on_record(sample_client, world):
    client, h, make = sample_client, world["h"], world["make"]
    sub = make.subscribe(world["club"], make.package("notes", ["sample"]))
    notes = f"/api/v1/orgs/{world['club'].id}/sample/notes"
    assert client.post(notes, headers=h["club_admin"], json={"text": "Training om 19u"}).status_code == 201

    r = client.delete(f"/api/v1/orgs/{world['club'].id}/subscriptions/{sub.id}", headers=h["secretariat"])
    assert r.status_code == 204
    listed = client.get(f"/api/v1/orgs/{world['club'].id}/subscriptions", headers=h["secretariat"]).json
    assert listed[0]["active"] is False
    assert listed[0]["ends_on"] == (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert client.get(notes, headers=h["club_admin"]).status_code == 404
    # A subscription of another organisation cannot be ended through this one.
    foreign = make.subscribe(world["other_club"], make.package("other", ["sample"]))
    r = client.delete(f"/api/v1/orgs/{world['club'].id}/subscriptions/{foreign.id}", headers=h["platform"])
    assert r.status_code == 404
    assert db.session.get(Subscription, foreign.id).ends_on is None


# --- overrides ---------------------------------------------------------------------------------------

def test_override_off_beats_the_package_and_keeps_the_data(sample_client, world):
    client, h, make = sample_client, world["h"], world["make"]
    make.subscribe(world["fed"], make.package("notes", ["sample"]), include_descendants=True)
    club = world["club"]
    notes = f"/api/v1/orgs/{club.id}/sample/notes"
    assert client.post(notes, headers=h["club_admin"], json={"text": "Ledenavond"}).status_code == 201

    r = client.put(f"/api/v1/orgs/{club.id}/modules/sample", headers=h["secretariat"], json={"enabled": False})
    assert r.status_code == 200, r.json
    assert r.json["enabled"] is False and r.json["override"] is False
    assert {s["kind"] for s in r.json["sources"]} == {"inherited", "override"}
    assert client.get(notes, headers=h["club_admin"]).status_code == 404
    assert client.get(f"/api/v1/orgs/{club.id}", headers=h["club_admin"]).json["modules"] == []
    # The federation itself keeps it.
    assert modules_of(client, world["fed"], h["secretariat"])["sample"]["enabled"] is True

    r = client.put(f"/api/v1/orgs/{club.id}/modules/sample", headers=h["secretariat"], json={"enabled": None})
    assert r.status_code == 200 and r.json["enabled"] is True and r.json["override"] is None
    r = client.get(notes, headers=h["club_admin"])
    assert [n["text"] for n in r.json] == ["Ledenavond"]  # nothing was lost


def test_enabling_a_module_enables_what_it_requires(sample_client, world):
    client, h = sample_client, world["h"]
    club = world["club"]
    r = client.put(f"/api/v1/orgs/{club.id}/modules/sample_extra", headers=h["secretariat"], json={"enabled": True})
    assert r.status_code == 200 and r.json["enabled"] is True
    modules = modules_of(client, club, h["club_admin"])
    assert modules["sample"]["enabled"] is True
    assert modules["sample"]["sources"] == [{"kind": "required_by", "plugin": "sample_extra", "package": None,
                                             "package_id": None, "org_id": None, "org_name": None,
                                             "enabled": None}]
    assert client.get(f"/api/v1/orgs/{club.id}", headers=h["club_admin"]).json["modules"] == ["sample",
                                                                                            "sample_extra"]
    # Switching off what another module needs switches that one off too.
    client.put(f"/api/v1/orgs/{club.id}/modules/sample", headers=h["secretariat"], json={"enabled": False})
    modules = modules_of(client, club, h["club_admin"])
    assert not modules["sample"]["enabled"] and not modules["sample_extra"]["enabled"]


def test_unknown_module_and_bad_switches(sample_client, world):
    client, h = sample_client, world["h"]
    club = world["club"]
    r = client.put(f"/api/v1/orgs/{club.id}/modules/teleport", headers=h["secretariat"], json={"enabled": True})
    assert r.status_code == 404 and "unknown module" in r.json["message"]
    r = client.put(f"/api/v1/orgs/{club.id}/modules/core", headers=h["secretariat"], json={"enabled": False})
    assert r.status_code == 404
    r = client.put(f"/api/v1/orgs/{club.id}/modules/sample", headers=h["secretariat"], json={"enabled": "maybe"})
    assert r.status_code == 422
    r = client.put(f"/api/v1/orgs/{club.id}/modules/sample", headers=h["secretariat"], json={})
    assert r.status_code == 422
    r = client.put(f"/api/v1/orgs/{club.id}/modules/sample", headers=h["club_admin"], json={"enabled": True})
    assert r.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ModuleOverride)) == 0


def test_modules_routes_are_404_for_other_organisations(sample_client, world):
    client, h, make = sample_client, world["h"]["club_admin"], world["make"]
    sub = make.subscribe(world["other_club"], make.package("notes", ["sample"]))
    for org in (world["other_club"], world["fed"]):
        for method, url, body in [
            ("get", f"/api/v1/orgs/{org.id}/modules", None),
            ("get", f"/api/v1/orgs/{org.id}/modules/sample", None),
            ("put", f"/api/v1/orgs/{org.id}/modules/sample", {"enabled": False}),
            ("get", f"/api/v1/orgs/{org.id}/subscriptions", None),
            ("post", f"/api/v1/orgs/{org.id}/subscriptions", {"package_id": sub.package_id}),
            ("delete", f"/api/v1/orgs/{org.id}/subscriptions/{sub.id}", None),
        ]:
            r = getattr(client, method)(url, headers=h, json=body)
            assert r.status_code == 404, (method, url, r.status_code)
    assert db.session.get(Subscription, sub.id).ends_on is None
