"""Membership admin pages: the member list with filters and bulk actions, outputs (PDF, e-mail list,
birthdays), memberships, corrections, types and seasons, the import with its mapping step, the overview."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from core.db import db
from core.models import Person
from plugins.membership.models import Membership, MembershipType, SavedFilter, Season
from tests.conftest import web_login
from tests.plugins.membership.conftest import TODAY, add_member, counts, xlsx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def page(client, url):
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return r.get_data(as_text=True)


def token(html):
    return CSRF.search(html).group(1)


def test_member_list_filters_and_cross_club_404(client, world):
    add_member(world.club_a, world.adult, "An", "Aerts")
    add_member(world.club_a, world.supporter, "Bert", "Bos")
    add_member(world.club_b, world.adult, "Cas", "Cools")
    web_login(client, "admin-a@example.org")
    base = f"/o/{world.club_a.id}/membership/"
    html = page(client, base)
    assert "Aerts" in html and "Bos" in html and "Cools" not in html
    html = page(client, base + f"?type_id={world.supporter.id}")
    assert "Bos" in html and "Aerts" not in html
    assert client.get(base + "?age_min=abc").status_code == 400
    assert client.get(f"/o/{world.club_b.id}/membership/").status_code == 404
    assert "Members" in page(client, f"/o/{world.club_a.id}/")  # the menu item


def test_bulk_end_from_the_list(client, world):
    _, m1 = add_member(world.club_a, world.adult, "An", "Aerts")
    _, m2 = add_member(world.club_a, world.adult, "Bert", "Bos")
    web_login(client, "admin-a@example.org")
    html = page(client, f"/o/{world.club_a.id}/membership/")
    r = client.post(f"/o/{world.club_a.id}/membership/bulk", data={
        "csrf_token": token(html), "action": "end", "scope": "checked", "ids": [str(m1.id)],
        "end_date": TODAY.isoformat(), "reason": "gestopt"})
    assert r.status_code == 302
    db.session.expire_all()
    assert m1.status == "ended" and m2.ends_on is None
    # All results of the filter: a job with a progress page.
    r = client.post(f"/o/{world.club_a.id}/membership/bulk", data={
        "csrf_token": token(html), "action": "end", "scope": "all", "end_date": TODAY.isoformat(),
        "reason": "opkuis", "idempotency": "abc", "f.status": "current"})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
    client.application.extensions["federa"].jobs.join()
    db.session.expire_all()
    assert m2.status == "ended" and m2.end_reason == "opkuis"


def test_outputs_of_a_list(client, world):
    add_member(world.club_a, world.adult, "An", "Aerts", email="an@example.org", street="Kerkstraat",
               house_number="1", postal_code="9000", city="Gent", birth=TODAY.replace(year=1980))
    web_login(client, "admin-a@example.org")
    base = f"/o/{world.club_a.id}/membership/"
    for path in ("labels.pdf", "addresses.pdf"):
        r = client.get(base + path)
        assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert "An Aerts &lt;an@example.org&gt;" in page(client, base + "emails")
    r = client.get(base + "emails?format=txt")
    assert r.get_data(as_text=True).strip() == "An Aerts <an@example.org>"
    html = page(client, base + "birthdays?period=day")
    assert "Aerts" in html
    assert "Aerts" not in page(client, base + f"birthdays?period=day&date={(TODAY + dt.timedelta(days=2)).isoformat()}")
    r = client.get(base + "export.xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"


def test_saved_filters_from_the_list(client, world):
    web_login(client, "admin-a@example.org")
    html = page(client, f"/o/{world.club_a.id}/membership/")
    r = client.post(f"/o/{world.club_a.id}/membership/saved", data={
        "csrf_token": token(html), "name": "Steunend", "f.type_id": str(world.supporter.id)})
    assert r.status_code == 302
    saved = db.session.execute(sa.select(SavedFilter)).scalar_one()
    r = client.get(f"/o/{world.club_a.id}/membership/?saved={saved.id}")
    assert r.status_code == 302 and f"type_id={world.supporter.id}" in r.headers["Location"]


def test_add_change_and_correct_a_membership(client, world):
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/membership/new"
    html = page(client, url)
    r = client.post(url, data={"csrf_token": token(html), "first_name": "Els", "last_name": "Claes",
                               "birth_date": "1990-02-01", "type_id": str(world.youth.id),
                               "starts_on": TODAY.isoformat()})
    assert r.status_code == 422 and "at most 17" in r.get_data(as_text=True)
    assert db.session.execute(sa.select(Person).where(Person.last_name == "Claes")).first() is None
    r = client.post(url, data={"csrf_token": token(html), "first_name": "Els", "last_name": "Claes",
                               "birth_date": "1990-02-01", "type_id": str(world.adult.id),
                               "starts_on": TODAY.isoformat()})
    assert r.status_code == 302
    m = db.session.execute(sa.select(Membership)).scalar_one()
    detail = f"/o/{world.club_a.id}/membership/m/{m.id}"
    html = page(client, detail)
    assert "Els Claes" in html and "Volwassene" in html
    r = client.post(detail, data={"csrf_token": token(html), "type_id": str(world.adult.id),
                                  "starts_on": TODAY.isoformat(), "ends_on": "2000-01-01", "end_reason": ""})
    assert r.status_code == 422 and "before the start" in r.get_data(as_text=True)
    correct = f"/o/{world.club_a.id}/membership/people/{m.person_id}/correct"
    html = page(client, correct)
    r = client.post(correct, data={"csrf_token": token(html), "first_name": "Elsa", "last_name": "Claes",
                                   "birth_date": "1990-02-02"})
    assert r.status_code == 302
    person = db.session.get(Person, m.person_id)
    db.session.refresh(person)
    assert (person.first_name, person.birth_date) == ("Elsa", dt.date(1990, 2, 2))
    # The person page shows the membership section.
    assert "Memberships" in page(client, f"/o/{world.club_a.id}/people/{m.person_id}")


def test_types_and_seasons_pages(client, world):
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/membership/types"
    html = page(client, url)
    assert "Volwassene" in html
    r = client.post(url, data={"csrf_token": token(html), "name": "Jeugd", "price": "5"})
    assert r.status_code == 409 or r.status_code == 422
    r = client.post(url, data={"csrf_token": token(html), "name": "Recreant", "price": "7,50", "sporting": "on"})
    assert r.status_code == 302
    created = db.session.execute(sa.select(MembershipType).where(MembershipType.name == "Recreant")).scalar_one()
    assert str(created.price) == "7.50" and created.org_id == world.club_a.id
    html = page(client, f"/o/{world.club_a.id}/membership/seasons")
    assert "Seizoen" in html and 'name="starts_on"' not in html  # only the federation adds seasons


def test_secretariat_adds_a_season(client, world):
    web_login(client, "sec@example.org")
    url = f"/o/{world.fed.id}/membership/seasons"
    html = page(client, url)
    r = client.post(url, data={"csrf_token": token(html), "name": "2031", "starts_on": "2031-01-01",
                               "ends_on": "2031-12-31", "cleanup_deadline": "2032-01-01"})
    assert r.status_code == 422 and "within the season" in r.get_data(as_text=True)
    r = client.post(url, data={"csrf_token": token(html), "name": "2031", "starts_on": "2031-01-01",
                               "ends_on": "2031-12-31", "cleanup_deadline": "2031-04-01"})
    assert r.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Season)) == 2


def test_import_with_mapping_step(client, world):
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/membership/import"
    html = page(client, url)
    r = client.post(url, data={"csrf_token": token(html), "file": (xlsx([["x"]]), "x.txt")},
                    content_type="multipart/form-data")
    assert r.status_code == 302  # any workbook is accepted for mapping
    bad = client.post(url, data={"csrf_token": token(html), "file": (__import__("io").BytesIO(b"nope"), "x.xlsx")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422
    data = xlsx([["Familienaam", "Voornaam", "Type"], ["Claes", "Els", "Volwassene"], ["", "Leeg", "Volwassene"]])
    r = client.post(url, data={"csrf_token": token(html), "file": (data, "leden.xlsx")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    map_url = r.headers["Location"]
    html = page(client, map_url)
    assert 'value="first_name" selected' in html  # "Voornaam" recognised
    before = counts()
    form = {"csrf_token": token(html), "map.0": "last_name", "map.1": "first_name", "map.2": "type", "do": "import"}
    r = client.post(map_url, data=form)
    assert r.status_code == 422 and 'data-row="3"' in r.get_data(as_text=True)
    db.session.rollback()
    assert counts() == before
    # The other engineer fixes the file: a new upload; mapping by hand works the same way.
    data = xlsx([["Familienaam", "Voornaam", "Type"], ["Claes", "Els", "Volwassene"]])
    r = client.post(url, data={"csrf_token": token(html), "file": (data, "leden.xlsx")},
                    content_type="multipart/form-data")
    r = client.post(r.headers["Location"], data={**form})
    assert r.status_code == 302
    assert db.session.execute(sa.select(Person).where(Person.last_name == "Claes")).scalar_one()
    # Another club cannot open this club's uploads.
    assert client.get(map_url.replace(f"/o/{world.club_a.id}/", f"/o/{world.club_b.id}/")).status_code == 404


def test_federation_overview_page(client, world):
    add_member(world.club_a, world.adult)
    web_login(client, "sec@example.org")
    html = page(client, f"/o/{world.fed.id}/membership/overview")
    assert "SK Gent" in html and 'data-org-id="%d"' % world.club_b.id in html
    r = client.post(f"/o/{world.fed.id}/membership/reminders", data={"csrf_token": token(html),
                                                                     "season_id": str(world.season.id)})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]


def test_bulk_documents_hands_the_selection_to_the_documents_module(client, world):
    from tests.plugins.membership.conftest import enable

    person, m1 = add_member(world.club_a, world.adult, "An", "Aerts")
    _, theirs = add_member(world.club_b, world.adult, "Bo", "Bos")
    web_login(client, "admin-a@example.org")
    base = f"/o/{world.club_a.id}/membership/"
    html = page(client, base)
    assert 'value="documents"' not in html  # the module is off in this club
    r = client.post(base + "bulk", data={"csrf_token": token(html), "action": "documents", "scope": "checked",
                                         "ids": [str(m1.id)]})
    assert r.status_code == 302 and "/documents/" not in r.headers["Location"]
    enable(world.club_a, plugin="documents")
    html = page(client, base)
    assert 'value="documents"' in html
    r = client.post(base + "bulk", data={"csrf_token": token(html), "action": "documents", "scope": "checked",
                                         "ids": [str(m1.id)]})
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/o/{world.club_a.id}/documents/generate?person_id={person.id}")
    assert "Aerts" in page(client, r.headers["Location"])
    r = client.post(base + "bulk", data={"csrf_token": token(html), "action": "documents", "scope": "all",
                                         "f.status": "current", "f.type_id": str(world.adult.id)})
    assert r.headers["Location"].endswith(f"/documents/generate?status=current&type_id={world.adult.id}")
    # A membership of another club is not found: nothing is handed on.
    r = client.post(base + "bulk", data={"csrf_token": token(html), "action": "documents", "scope": "checked",
                                         "ids": [str(m1.id), str(theirs.id)]})
    assert r.status_code == 302 and "/documents/" not in r.headers["Location"]
