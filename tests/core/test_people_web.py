"""Admin pages for people: list with search and filters, person page (masked number, custom fields,
plugin sections, audited), new/edit forms with duplicate warnings, linking, merging, custom fields,
and tenant isolation."""
import datetime as dt
import re

import pytest
import sqlalchemy as sa

from core.auth import hash_password
from core.db import db
from core.models import AuditLog, CustomField, CustomFieldValue, ModuleOverride, Person, PersonOrganisation
from tests.conftest import csrf_token, web_login

NN = "85073003328"
_hash = []


def login_user(make, email, role, org):
    """A user who can log in with the factory password; the argon2 hash is computed once for the module
    (hashing is by far the slowest step of these tests)."""
    if not _hash:
        _hash.append(hash_password("secret-pass"))
    user = make.user(email, role=role, org=org, password="")
    user.password_hash = _hash[0]
    db.session.commit()
    return user


@pytest.fixture
def world(make):
    fed = make.federation("Atletiek Vlaanderen")
    club_a = make.club(fed, "AC Gent")
    club_b = make.club(fed, "AC Brugge")
    login_user(make, "admin-a@example.org", "club_admin", club_a)
    login_user(make, "contact-a@example.org", "club_contact", club_a)
    login_user(make, "secretariaat@example.org", "federation_secretariat", fed)
    login_user(make, "lid-a@example.org", "member", club_a)
    w = type("World", (), {})()
    w.fed, w.club_a, w.club_b = fed, club_a, club_b
    w.lotte = make.person("Lotte", "Claes", org=club_a, birth_date=dt.date(2012, 3, 1), city="Gent",
                          postal_code="9000", national_number="12030100177", search_text="lotte claes 9000 gent")
    w.jeroen = make.person("Jeroen", "Wouters", org=club_b, birth_date=dt.date(1980, 3, 9), city="Brugge",
                           search_text="jeroen wouters brugge")
    return w


def html(response) -> str:
    return response.get_data(as_text=True)


def token(client):
    return csrf_token(client, "/login")


def test_list_search_and_open_a_person(client, world):
    web_login(client, "admin-a@example.org")
    r = client.get(f"/o/{world.club_a.id}/people", query_string={"q": "claes"})
    assert r.status_code == 200
    page = html(r)
    assert 'name="q"' in page
    link = f'/o/{world.club_a.id}/people/{world.lotte.id}"'
    assert link in page
    assert "Wouters" not in page  # club B's member
    r = client.get(f"/o/{world.club_a.id}/people/{world.lotte.id}")
    assert r.status_code == 200
    page = html(r)
    assert "Lotte Claes" in page
    assert "••.••.••-•••.77" in page and "12.03.01" not in page  # masked for a club admin
    views = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "view")).scalars().all()
    assert [(v.person_id, v.org_id) for v in views] == [(world.lotte.id, world.club_a.id)]


def test_contact_person_sees_the_full_national_number(client, world):
    web_login(client, "contact-a@example.org")
    page = html(client.get(f"/o/{world.club_a.id}/people/{world.lotte.id}"))
    assert "12.03.01-001.77" in page


def test_list_filters_on_custom_fields_and_sub_organisation(client, world, make):
    field = CustomField(org_id=world.fed.id, key="level", label="Level", field_type="choice", choices=["A", "B"])
    db.session.add(field)
    db.session.flush()
    db.session.add(CustomFieldValue(field_id=field.id, person_id=world.jeroen.id, value="B"))
    db.session.commit()
    web_login(client, "secretariaat@example.org")
    url = f"/o/{world.fed.id}/people"
    page = html(client.get(url))
    assert "Claes" in page and "Wouters" in page
    assert 'name="cf.level"' in page and 'name="within"' in page
    page = html(client.get(url, query_string={"cf.level": "B"}))
    assert "Wouters" in page and "Claes" not in page
    page = html(client.get(url, query_string={"within": world.club_a.id}))
    assert "Claes" in page and "Wouters" not in page
    page = html(client.get(url, query_string={"birthday_month": 3, "age_max": 20}))
    assert "Claes" in page and "Wouters" not in page
    r = client.get(url, query_string={"cf.level": "C"})
    assert r.status_code == 200
    assert "cf.level" in html(r) and "Wouters" not in html(r)


def test_new_person_form_validates_and_creates(client, world):
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/people/new"
    page = html(client.get(url))
    assert 'name="first_name"' in page
    r = client.post(url, data={"csrf_token": csrf_token(client, url), "first_name": "Jan", "last_name": "",
                               "email": "nope", "birth_date": "2999-01-01"})
    assert r.status_code == 422
    page = html(r)
    assert page.count('class="field-error"') == 3
    assert 'value="Jan"' in page  # what the user typed stays
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.first_name == "Jan")) == 0
    r = client.post(url, data={"csrf_token": csrf_token(client, url), "first_name": "Jan", "last_name": "Peeters",
                               "email": "jan@example.org", "mobile": "0470123456", "preferred_language": "nl"})
    assert r.status_code == 302
    jan = db.session.execute(sa.select(Person).where(Person.last_name == "Peeters")).scalar_one()
    assert r.headers["Location"].endswith(f"/o/{world.club_a.id}/people/{jan.id}")
    assert jan.mobile == "+32470123456"


def test_new_person_without_csrf_token_is_refused(client, world):
    web_login(client, "admin-a@example.org")
    r = client.post(f"/o/{world.club_a.id}/people/new", data={"first_name": "Jan", "last_name": "Peeters"})
    assert r.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.last_name == "Peeters")) == 0


def test_probable_duplicate_warns_then_creates_anyway(client, world):
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_b.id}/people/new"
    assert client.get(url).status_code == 404  # not their club
    url = f"/o/{world.club_a.id}/people/new"
    data = {"first_name": "Jeroen", "last_name": "WOUTERS", "birth_date": "1980-03-09"}
    r = client.post(url, data={"csrf_token": csrf_token(client, url), **data})
    assert r.status_code == 409
    page = html(r)
    assert "Jeroen Wouters" in page and 'name="confirm_duplicate"' in page
    assert f'name="person_id" value="{world.jeroen.id}"' in page  # offers linking
    r = client.post(url, data={"csrf_token": csrf_token(client, url), **data, "confirm_duplicate": "1"})
    assert r.status_code == 302
    count = sa.select(sa.func.count()).select_from(Person).where(Person.last_name.ilike("wouters"))
    assert db.session.scalar(count) == 2


def test_same_national_number_offers_linking(client, world):
    web_login(client, "admin-a@example.org")
    db.session.get(Person, world.jeroen.id).national_number = NN
    db.session.commit()
    url = f"/o/{world.club_a.id}/people/new"
    r = client.post(url, data={"csrf_token": csrf_token(client, url), "first_name": "J", "last_name": "W",
                               "national_number": NN})
    assert r.status_code == 409
    page = html(r)
    assert f'action="/o/{world.club_a.id}/people/link"' in page
    assert "Jeroen" not in page  # the number alone does not reveal who it is
    r = client.post(f"/o/{world.club_a.id}/people/link", data={"csrf_token": csrf_token(client, url),
                                                               "national_number": NN})
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/people/{world.jeroen.id}")
    assert client.get(f"/o/{world.club_a.id}/people/{world.jeroen.id}").status_code == 200
    r = client.post(f"/o/{world.club_a.id}/people/link", data={"csrf_token": csrf_token(client, url),
                                                               "national_number": "90020100229"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/people/new")


def test_edit_person_keeps_masked_number_and_detects_concurrent_change(client, world):
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/people/{world.lotte.id}/edit"
    page = html(client.get(url))
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    assert 'value="Claes"' in page and "12.03.01" not in page
    form = {"first_name": "Lotte", "last_name": "Claes", "birth_date": "2012-03-01", "national_number": "",
            "city": "Gentbrugge", "postal_code": "9050", "country": "BE", "preferred_language": "nl"}
    r = client.post(url, data={"csrf_token": csrf_token(client, url), "version": version, **form})
    assert r.status_code == 302, html(r)
    lotte = db.session.get(Person, world.lotte.id)
    assert (lotte.city, lotte.national_number) == ("Gentbrugge", "12030100177")
    # The same (now stale) form again: refused, nothing overwritten.
    r = client.post(url, data={"csrf_token": csrf_token(client, url), "version": version, **form, "city": "Oops"})
    assert r.status_code == 422
    assert "Someone else changed" in html(r)
    assert db.session.get(Person, world.lotte.id).city == "Gentbrugge"


def test_merge_pages(client, world, make):
    dup = make.person("Lotte", "Claes", org=world.club_b, birth_date=dt.date(2012, 3, 1), email="lotte@example.org")
    web_login(client, "secretariaat@example.org")
    url = f"/o/{world.fed.id}/people/{world.lotte.id}/merge"
    page = html(client.get(url))
    assert f"other={dup.id}" in page  # the probable duplicate is proposed
    r = client.get(url, query_string={"other": dup.id})
    assert r.status_code == 200
    assert "email" in html(r) and 'name="other"' in html(r)
    dup_id = dup.id
    r = client.post(url, data={"csrf_token": token(client), "other": dup_id})
    assert r.status_code == 302
    assert db.session.get(Person, dup_id) is None
    assert db.session.get(Person, world.lotte.id).email == "lotte@example.org"
    web_login(client, "admin-a@example.org")
    assert client.get(f"/o/{world.club_a.id}/people/{world.lotte.id}/merge").status_code == 403


def test_unlink_from_the_club(client, world):
    web_login(client, "admin-a@example.org")
    r = client.post(f"/o/{world.club_a.id}/people/{world.lotte.id}/unlink", data={"csrf_token": token(client)})
    assert r.status_code == 302
    assert client.get(f"/o/{world.club_a.id}/people/{world.lotte.id}").status_code == 404
    assert db.session.get(Person, world.lotte.id) is not None


def test_custom_fields_pages(client, world):
    db.session.add(CustomField(org_id=world.fed.id, key="licence", label="Licence", field_type="text"))
    db.session.commit()
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/custom-fields"
    page = html(client.get(url))
    assert "Licence" in page and "Inherited" in page
    r = client.post(url, data={"csrf_token": token(client), "label": "Shirt", "key": "Shirt size",
                               "field_type": "choice", "choices": "S\nM"})
    assert r.status_code == 422 and "field-error" in html(r)
    r = client.post(url, data={"csrf_token": token(client), "label": "Shirt", "key": "licence", "field_type": "text"})
    assert r.status_code == 422 and "already applies" in html(r)
    r = client.post(url, data={"csrf_token": token(client), "label": "Shirt", "key": "shirt",
                               "field_type": "choice", "choices": "S\nM\nL"})
    assert r.status_code == 302
    shirt = db.session.execute(sa.select(CustomField).where(CustomField.key == "shirt")).scalar_one()
    assert shirt.choices == ["S", "M", "L"] and shirt.org_id == world.club_a.id
    r = client.post(f"{url}/{shirt.id}", data={"csrf_token": token(client), "label": "T-shirt", "choices": "S\nM",
                                               "required": "1"})
    assert r.status_code == 302
    db.session.refresh(shirt)
    assert (shirt.label, shirt.choices, shirt.required) == ("T-shirt", ["S", "M"], True)
    # The person form now has both fields; the required one must be filled.
    new = f"/o/{world.club_a.id}/people/new"
    page = html(client.get(new))
    assert 'name="cf.licence"' in page and 'name="cf.shirt"' in page
    r = client.post(new, data={"csrf_token": token(client), "first_name": "Jan", "last_name": "Peeters"})
    assert r.status_code == 422 and "this field is required" in html(r)
    r = client.post(new, data={"csrf_token": token(client), "first_name": "Jan", "last_name": "Peeters",
                               "cf.shirt": "M", "cf.licence": "L-1"})
    assert r.status_code == 302
    page = html(client.get(r.headers["Location"]))
    assert "T-shirt" in page and "L-1" in page
    # The federation's field cannot be changed from the club.
    licence = db.session.execute(sa.select(CustomField).where(CustomField.key == "licence")).scalar_one()
    assert client.get(f"{url}/{licence.id}").status_code == 404
    assert client.post(f"{url}/{licence.id}/delete", data={"csrf_token": token(client)}).status_code == 404
    shirt_id = shirt.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomFieldValue)
                             .where(CustomFieldValue.field_id == shirt_id)) == 1
    r = client.post(f"{url}/{shirt_id}/delete", data={"csrf_token": token(client)})
    assert r.status_code == 302
    assert db.session.get(CustomField, shirt_id) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomFieldValue)
                             .where(CustomFieldValue.field_id == shirt_id)) == 0


def test_tenant_isolation_on_every_people_page(client, world):
    field = CustomField(org_id=world.club_b.id, key="shirt", label="Shirt", field_type="text")
    db.session.add(field)
    db.session.commit()
    web_login(client, "admin-a@example.org")
    a, b, theirs = world.club_a.id, world.club_b.id, world.jeroen.id
    t = token(client)
    gets = [f"/o/{b}/people", f"/o/{b}/people/new", f"/o/{b}/people/{theirs}", f"/o/{a}/people/{theirs}",
            f"/o/{a}/people/{theirs}/edit", f"/o/{b}/custom-fields", f"/o/{a}/custom-fields/{field.id}",
            f"/o/{b}/custom-fields/{field.id}"]
    posts = [f"/o/{b}/people/new", f"/o/{b}/people/link", f"/o/{a}/people/{theirs}/edit",
             f"/o/{a}/people/{theirs}/unlink", f"/o/{b}/people/{theirs}/unlink", f"/o/{b}/custom-fields",
             f"/o/{a}/custom-fields/{field.id}", f"/o/{a}/custom-fields/{field.id}/delete"]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        r = client.post(url, data={"csrf_token": t, "first_name": "X", "last_name": "Y", "label": "X"})
        assert r.status_code == 404, url
    assert db.session.get(Person, theirs).first_name == "Jeroen"
    assert db.session.get(CustomField, field.id).label == "Shirt"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PersonOrganisation)
                             .where(PersonOrganisation.person_id == theirs)) == 1


def test_member_without_people_rights_gets_403(client, world):
    web_login(client, "lid-a@example.org")
    assert client.get(f"/o/{world.club_a.id}/people").status_code == 403
    assert client.get(f"/o/{world.club_a.id}/people/{world.lotte.id}").status_code == 403
    assert client.get(f"/o/{world.club_a.id}/people/new").status_code == 403


def test_anonymous_is_sent_to_login(client, world):
    r = client.get(f"/o/{world.club_a.id}/people")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_person_page_shows_sections_of_enabled_plugins_only(sample_client, sample_make):
    make = sample_make
    fed = make.federation()
    club = make.club(fed)
    login_user(make, "admin@example.org", "club_admin", club)
    person = make.person("Lotte", "Claes", org=club)
    web_login(sample_client, "admin@example.org")
    url = f"/o/{club.id}/people/{person.id}"
    assert "Sample notes" not in html(sample_client.get(url))
    db.session.add(ModuleOverride(org_id=club.id, plugin="sample", enabled=True))
    db.session.commit()
    page = html(sample_client.get(url))
    assert 'data-plugin="sample"' in page and "0 notes" in page
