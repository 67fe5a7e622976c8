"""The modules page: what is on and why, switches, subscriptions (with the sample plugins loaded)."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from core.db import db
from core.models import ModuleOverride, Subscription
from tests.conftest import csrf_token, web_login


@pytest.fixture
def world(sample_make):
    make = sample_make
    fed = make.federation("Tennis Vlaanderen")
    club = make.club(fed, "TC Gent")
    other = make.club(make.federation("Andere"), "TC Elders")
    package = make.package("notes", ["sample"], name="Notities")
    make.subscribe(fed, package, include_descendants=True)
    make.user("sec@example.org", role="federation_secretariat", org=fed)
    make.user("admin@example.org", role="club_admin", org=club)
    return {"fed": fed, "club": club, "other": other, "package": package, "make": make}


def login(client, email):
    assert web_login(client, email).status_code == 302


def row(html: str, module: str) -> str:
    start = html.index(f'data-module="{module}"')
    return html[start:html.index("</tr>", start)]


def test_page_shows_modules_with_their_source(sample_client, world):
    login(sample_client, "admin@example.org")
    r = sample_client.get(f"/o/{world['club'].id}/modules")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    sample = row(html, "sample")
    assert "badge-ok" in sample and "Notities" in sample and "Tennis Vlaanderen" in sample
    assert "badge-off" in row(html, "sample_extra")
    assert 'name="enabled"' not in html  # a club admin may look, not switch
    assert "Add a subscription" not in html


def test_switches_turn_modules_on_and_off_and_keep_data(sample_client, world):
    club = world["club"]
    login(sample_client, "sec@example.org")
    token = csrf_token(sample_client, f"/o/{club.id}/modules")
    sample_client.post(f"/o/{club.id}/sample/notes", data={"csrf_token": token, "text": "Clubkampioenschap"})

    r = sample_client.post(f"/o/{club.id}/modules/sample", data={"csrf_token": token, "enabled": "off"})
    assert r.status_code == 302
    html = sample_client.get(f"/o/{club.id}/modules").get_data(as_text=True)
    assert "badge-off" in row(html, "sample") and "Switched off here" in row(html, "sample")
    assert sample_client.get(f"/o/{club.id}/sample/").status_code == 404

    sample_client.post(f"/o/{club.id}/modules/sample_extra", data={"csrf_token": token, "enabled": "on"})
    sample_client.post(f"/o/{club.id}/modules/sample", data={"csrf_token": token, "enabled": ""})
    html = sample_client.get(f"/o/{club.id}/modules").get_data(as_text=True)
    assert "badge-ok" in row(html, "sample_extra") and "badge-ok" in row(html, "sample")
    assert sample_client.get(f"/o/{club.id}/sample/").get_data(as_text=True) == "sample notes: 1"

    r = sample_client.post(f"/o/{club.id}/modules/teleport", data={"csrf_token": token, "enabled": "on"})
    assert r.status_code == 404
    assert db.session.execute(sa.select(ModuleOverride.plugin, ModuleOverride.enabled)).all() == [
        ("sample_extra", True)]


def test_subscriptions_add_and_end(sample_client, world):
    club = world["club"]
    login(sample_client, "sec@example.org")
    token = csrf_token(sample_client, f"/o/{club.id}/modules")
    r = sample_client.post(f"/o/{club.id}/subscriptions", data={
        "csrf_token": token, "package_id": str(world["package"].id), "starts_on": "2025-06-01",
        "ends_on": "2025-05-01"})
    assert r.status_code == 422 and "the end date lies before the start date" in r.get_data(as_text=True)
    r = sample_client.post(f"/o/{club.id}/subscriptions", data={"csrf_token": token, "package_id": ""})
    assert r.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscription)
                             .where(Subscription.org_id == club.id)) == 0

    r = sample_client.post(f"/o/{club.id}/subscriptions", data={
        "csrf_token": token, "package_id": str(world["package"].id), "starts_on": "2024-01-01"})
    assert r.status_code == 302
    sub = db.session.execute(sa.select(Subscription).where(Subscription.org_id == club.id)).scalar_one()
    html = sample_client.get(f"/o/{club.id}/modules").get_data(as_text=True)
    assert f'data-subscription="{sub.id}"' in html

    r = sample_client.post(f"/o/{club.id}/subscriptions/{sub.id}/end", data={"csrf_token": token})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Subscription, sub.id).ends_on == dt.date.today() - dt.timedelta(days=1)


def test_modules_pages_of_another_organisation_are_404(sample_client, world):
    login(sample_client, "admin@example.org")
    token = csrf_token(sample_client, f"/o/{world['club'].id}/modules")
    sub_id = db.session.scalar(sa.select(Subscription.id))
    for org in (world["other"], world["fed"]):
        assert sample_client.get(f"/o/{org.id}/modules").status_code == 404
        for path in ("modules/sample", "subscriptions", f"subscriptions/{sub_id}/end"):
            r = sample_client.post(f"/o/{org.id}/{path}", data={"csrf_token": token, "enabled": "off",
                                                                "package_id": world["package"].id})
            assert r.status_code == 404, path
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ModuleOverride)) == 0
    assert db.session.get(Subscription, sub_id).ends_on is None


def test_club_admin_cannot_switch_through_a_forged_form(sample_client, world):
    club = world["club"]
    login(sample_client, "admin@example.org")
    token = csrf_token(sample_client, f"/o/{club.id}/modules")
    r = sample_client.post(f"/o/{club.id}/modules/sample", data={"csrf_token": token, "enabled": "off"})
    assert r.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ModuleOverride)) == 0
