"""Admin pages of the organisation tree: tree, detail with settings, edit and new forms."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.db import db
from core.models import Organisation, OrganisationSetting
from tests.conftest import csrf_token, web_login

VALID_IBAN = "BE71 0961 2345 6769"


@pytest.fixture
def tree(make):
    fed = make.federation("Hockey Vlaanderen")
    region = make.region(fed, "Regio Antwerpen")
    club = make.club(region, "Royal Antwerp HC", city="Antwerpen", kbo_number="0403170701", iban=VALID_IBAN)
    other = make.club(region, "Dragons HC", city="Brasschaat")
    make.user("sec@example.org", role="federation_secretariat", org=fed)
    make.user("admin@example.org", role="club_admin", org=club)
    make.user("contact@example.org", role="club_contact", org=club)
    make.user("lid@example.org", role="member", org=club)
    return {"fed": fed, "region": region, "club": club, "other": other}


def login(client, email):
    r = web_login(client, email)
    assert r.status_code == 302, r.get_data(as_text=True)[:500]


def test_tree_shows_the_subtree_with_kinds_and_links(client, tree):
    login(client, "sec@example.org")
    r = client.get(f"/o/{tree['fed'].id}/organisations")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for name in ("Hockey Vlaanderen", "Regio Antwerpen", "Royal Antwerp HC", "Dragons HC"):
        assert name in html
    assert html.index("Regio Antwerpen") < html.index("Dragons HC") < html.index("Royal Antwerp HC")
    assert f'href="/o/{tree["club"].id}/"' in html or f"/o/{tree['club'].id}" in html
    assert f"/o/{tree['region'].id}/organisations/new" in html  # "new organisation below" for the secretariat

    r = client.get(f"/o/{tree['fed'].id}/organisations?q=dragons")
    html = r.get_data(as_text=True)
    assert "Dragons HC" in html and "Royal Antwerp HC" not in html


def test_club_admin_sees_only_their_club_and_no_create_links(client, tree):
    login(client, "admin@example.org")
    r = client.get(f"/o/{tree['club'].id}/organisations")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Royal Antwerp HC" in html and "Dragons HC" not in html and "Regio Antwerpen" not in html
    assert "/organisations/new" not in html


def test_detail_formats_kbo_and_masks_the_bank_account_unless_allowed(client, tree):
    club = tree["club"]
    login(client, "admin@example.org")
    html = client.get(f"/o/{club.id}/organisation").get_data(as_text=True)
    assert "0403.170.701" in html
    assert "BE71 •••• •••• 6769" in html and "BE71096123456769" not in html
    assert "Maximum number of club admins" in html
    client.post("/logout", data={"csrf_token": csrf_token(client, f"/o/{club.id}/organisation")})

    login(client, "contact@example.org")  # the contact person may see bank accounts
    html = client.get(f"/o/{club.id}/organisation").get_data(as_text=True)
    assert "BE71 0961 2345 6769" in html


def test_edit_saves_valid_input(client, tree):
    club = tree["club"]
    login(client, "admin@example.org")
    r = client.get(f"/o/{club.id}/organisation/edit")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "BE71096123456769" not in html  # a club admin does not get the account in the form either
    token = csrf_token(client, f"/o/{club.id}/organisation/edit")
    r = client.post(f"/o/{club.id}/organisation/edit", data={
        "csrf_token": token, "name": "Royal Antwerp Hockey Club", "kind": "club", "short_name": "RAHC",
        "street": "Sportlaan 1", "postal_code": "2000", "city": "Antwerpen", "country": "BE",
        "email": "info@rahc.be", "phone": "03 233 45 67", "website": "rahc.be", "kbo_number": "0403.170.701",
        "v_code": "V0001234", "iban": "", "bic": "", "legal_form": "vzw",
    })
    assert r.status_code == 302, r.get_data(as_text=True)[:1000]
    org = db.session.get(Organisation, club.id)
    assert (org.name, org.phone, org.website, org.v_code) == ("Royal Antwerp Hockey Club", "+3232334567",
                                                              "https://rahc.be", "V0001234")
    assert org.iban == "BE71096123456769"  # left empty by someone who cannot see it: kept


def test_edit_shows_errors_next_to_fields_and_saves_nothing(client, tree):
    club = tree["club"]
    login(client, "admin@example.org")
    token = csrf_token(client, f"/o/{club.id}/organisation/edit")
    r = client.post(f"/o/{club.id}/organisation/edit", data={
        "csrf_token": token, "name": "Nieuwe naam", "kind": "club", "kbo_number": "0123456789",
        "iban": "BE68 5390 0754 7034", "v_code": "V12", "phone": "12", "country": "BE",
    })
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert html.count('class="field-error"') == 4
    assert "not a valid KBO number" in html and "not a valid IBAN" in html and "not a valid phone number" in html
    assert 'value="Nieuwe naam"' in html  # what was typed stays in the form
    org = db.session.get(Organisation, club.id)
    assert (org.name, org.kbo_number) == ("Royal Antwerp HC", "0403170701")


def test_edit_needs_write_permission_and_csrf(client, tree):
    club = tree["club"]
    login(client, "lid@example.org")
    assert client.get(f"/o/{club.id}/organisation/edit").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/login")})
    login(client, "admin@example.org")
    r = client.post(f"/o/{club.id}/organisation/edit", data={"name": "Zonder token", "kind": "club"})
    assert r.status_code == 400
    assert db.session.get(Organisation, club.id).name == "Royal Antwerp HC"


def test_new_child_organisation(client, tree):
    region = tree["region"]
    login(client, "sec@example.org")
    assert client.get(f"/o/{region.id}/organisations/new").status_code == 200
    token = csrf_token(client, f"/o/{region.id}/organisations/new")
    r = client.post(f"/o/{region.id}/organisations/new", data={"csrf_token": token, "name": "", "kind": "club"})
    assert r.status_code == 422 and "a name is required" in r.get_data(as_text=True)
    r = client.post(f"/o/{region.id}/organisations/new", data={
        "csrf_token": token, "name": "Braxgata", "kind": "club", "city": "Boom", "postal_code": "2850",
        "country": "BE"})
    assert r.status_code == 302
    child = db.session.execute(sa.select(Organisation).where(Organisation.name == "Braxgata")).scalar_one()
    assert child.parent_id == region.id and child.path == f"{region.path}{child.id}/"
    assert r.headers["Location"].endswith(f"/o/{child.id}/organisation")


def test_club_admin_cannot_create_below_their_club(client, tree):
    login(client, "admin@example.org")
    assert client.get(f"/o/{tree['club'].id}/organisations/new").status_code == 403


def test_settings_form(client, tree):
    fed, club = tree["fed"], tree["club"]
    login(client, "sec@example.org")
    token = csrf_token(client, f"/o/{fed.id}/organisation")
    r = client.post(f"/o/{fed.id}/organisation/settings",
                    data={"csrf_token": token, "setting:core.max_club_admins": "many"})
    assert r.status_code == 422 and "expected a whole number" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrganisationSetting)) == 0
    r = client.post(f"/o/{fed.id}/organisation/settings",
                    data={"csrf_token": token, "setting:core.max_club_admins": "3"})
    assert r.status_code == 302
    html = client.get(f"/o/{club.id}/organisation").get_data(as_text=True)
    assert "From Hockey Vlaanderen" in html

    # The club admin sees the value but cannot change it.
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin@example.org")
    html = client.get(f"/o/{club.id}/organisation").get_data(as_text=True)
    assert 'name="setting:core.max_club_admins"' not in html
    token = csrf_token(client, f"/o/{club.id}/organisation")
    r = client.post(f"/o/{club.id}/organisation/settings",
                    data={"csrf_token": token, "setting:core.max_club_admins": "40"})
    assert r.status_code == 403
    assert db.session.execute(sa.select(OrganisationSetting.org_id, OrganisationSetting.value)).all() == [(fed.id, 3)]


def test_pages_of_another_club_are_404(client, tree):
    login(client, "admin@example.org")
    token = csrf_token(client, f"/o/{tree['club'].id}/organisation")
    for org in (tree["other"], tree["fed"], tree["region"]):
        for path in ("organisations", "organisation", "organisation/edit", "organisations/new"):
            assert client.get(f"/o/{org.id}/{path}").status_code == 404, path
        for path in ("organisation/edit", "organisations/new", "organisation/settings"):
            r = client.post(f"/o/{org.id}/{path}", data={"csrf_token": token, "name": "X", "kind": "club"})
            assert r.status_code == 404, path
    assert db.session.get(Organisation, tree["other"].id).name == "Dragons HC"
