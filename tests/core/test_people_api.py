"""People API: create with duplicate checks, link, read (masked, audited), update with ETags, unlink,
list filters and search, tenant isolation and permissions."""
import datetime as dt

import pytest
import sqlalchemy as sa

from core.db import db
from core.hookspecs import hookimpl
from core.models import AuditLog, CustomField, CustomFieldValue, ModuleOverride, Person, PersonOrganisation
from core.plugins import Plugin
from core.services.people import SearchField
from tests.conftest import _clean
from tests.factories import Factory

# A valid national register number of a man born 30 July 1985, and one of a woman born 1 February 1990.
NN_1985 = "85073003328"
NN_1990 = "90020100229"


@pytest.fixture
def world(make):
    fed = make.federation("Atletiek Vlaanderen")
    club_a = make.club(fed, "AC Gent")
    club_b = make.club(fed, "AC Brugge")
    w = type("World", (), {})()
    w.fed, w.club_a, w.club_b = fed, club_a, club_b
    w.admin_a = make.headers(make.user("admin-a@example.org", role="club_admin", org=club_a, password=""))
    w.admin_b = make.headers(make.user("admin-b@example.org", role="club_admin", org=club_b, password=""))
    w.contact_a = make.headers(make.user("contact-a@example.org", role="club_contact", org=club_a, password=""))
    w.secretariat = make.headers(
        make.user("secretariaat@example.org", role="federation_secretariat", org=fed, password="")
    )
    w.member_a = make.headers(make.user("lid-a@example.org", role="member", org=club_a, password=""))
    return w


def people_url(org, *parts):
    return "/".join([f"/api/v1/orgs/{org.id}/people", *map(str, parts)])


def test_create_person_validates_normalises_and_links(client, world):
    r = client.post(people_url(world.club_a), headers=world.admin_a, json={
        "first_name": " Émile ", "last_name": "Peeters", "national_number": "85.07.30-033.28",
        "gender": "m", "email": "Emile@Example.ORG", "mobile": "0470 12 34 56", "postal_code": "9000",
        "city": "Gent", "preferred_language": "fr"})
    assert r.status_code == 201, r.json
    body = r.json
    assert body["first_name"] == "Émile"
    assert body["birth_date"] == "1985-07-30"  # taken from the national number
    assert body["gender"] == "M"
    assert body["mobile"] == "+32470123456"
    assert body["email"] == "Emile@example.org"
    assert body["national_number"] == "••.••.••-•••.28"  # a club admin sees it masked
    assert body["organisations"] == [{"id": world.club_a.id, "name": "AC Gent"}]
    person = db.session.get(Person, body["id"])
    assert person.national_number == NN_1985
    assert person.search_text == "emile peeters emile@example.org 9000 gent"


def test_create_person_bad_input_names_each_field_and_changes_nothing(client, world):
    r = client.post(people_url(world.club_a), headers=world.admin_a, json={
        "first_name": "Jan", "last_name": "", "national_number": "12345678901", "gender": "Q",
        "birth_date": (dt.date.today() + dt.timedelta(days=1)).isoformat(), "email": "not-an-address",
        "phone": "123", "preferred_language": "de", "postal_code": "90000"})
    assert r.status_code == 422, r.json
    errors = r.json["errors"]["json"]
    assert set(errors) == {"last_name", "national_number", "gender", "birth_date", "email", "phone",
                           "preferred_language", "postal_code"}
    assert "future" in errors["birth_date"][0]
    r = client.post(people_url(world.club_a), headers=world.admin_a,
                    json={"first_name": "Jan", "last_name": "Peeters", "shoe_size": 44})
    assert r.status_code == 422
    assert "shoe_size" in r.json["errors"]["json"]
    r = client.post(people_url(world.club_a), headers=world.admin_a,
                    json={"first_name": "Jan", "last_name": "Peeters", "postal_code": "90000", "country": "NL"})
    assert r.status_code == 201  # only Belgian postal codes have 4 digits
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == 6  # the users' and the Dutch one


def test_national_number_must_match_birth_date(client, world):
    r = client.post(people_url(world.club_a), headers=world.admin_a, json={
        "first_name": "Jan", "last_name": "Peeters", "national_number": NN_1985, "birth_date": "1985-07-31"})
    assert r.status_code == 422
    assert r.json["errors"]["json"]["national_number"] == ["does not match the birth date"]


def test_same_national_number_is_refused_with_pointer_and_can_be_linked(client, world, make):
    existing = make.person("Emma", "Janssens", org=world.club_b, national_number=NN_1990,
                           birth_date=dt.date(1990, 2, 1))
    r = client.post(people_url(world.club_a), headers=world.admin_a, json={
        "first_name": "Emma", "last_name": "Jansen", "national_number": "90.02.01-002.29",
        "confirm_duplicate": True})
    assert r.status_code == 409, r.json
    assert r.json["existing_person_id"] == existing.id
    assert "national_number" in r.json["errors"]["json"]
    # Not visible yet in club A.
    assert client.get(people_url(world.club_a, existing.id), headers=world.admin_a).status_code == 404
    # A wrong number does not reveal anything.
    r = client.post(people_url(world.club_a, "link"), headers=world.admin_a, json={"national_number": NN_1985})
    assert r.status_code == 404
    r = client.post(people_url(world.club_a, "link"), headers=world.admin_a, json={"national_number": NN_1990})
    assert r.status_code == 200, r.json
    assert r.json["id"] == existing.id
    assert client.get(people_url(world.club_a, existing.id), headers=world.admin_a).status_code == 200
    # Still one record, now linked twice.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PersonOrganisation)
                             .where(PersonOrganisation.person_id == existing.id)) == 2


def test_same_name_and_birth_date_needs_confirmation(client, world, make):
    existing = make.person("Zoë", "Van den Broeck", org=world.club_b, birth_date=dt.date(2010, 5, 4))
    data = {"first_name": "zoe", "last_name": "VAN DEN  BROECK", "birth_date": "2010-05-04"}
    r = client.post(people_url(world.club_a), headers=world.admin_a, json=data)
    assert r.status_code == 409, r.json
    assert r.json["existing_person_id"] == existing.id
    assert "confirm_duplicate" in r.json["errors"]["json"]
    # Link by name and birth date instead ...
    r = client.post(people_url(world.club_a, "link"), headers=world.admin_a,
                    json={"person_id": existing.id, "first_name": "Zoe", "last_name": "van den broeck",
                          "birth_date": "2010-05-05"})
    assert r.status_code == 404  # wrong birth date
    r = client.post(people_url(world.club_a, "link"), headers=world.admin_a,
                    json={"person_id": existing.id, "first_name": "Zoe", "last_name": "van den broeck",
                          "birth_date": "2010-05-04"})
    assert r.status_code == 200
    # ... or create another one when it really is someone else.
    r = client.post(people_url(world.club_a), headers=world.admin_a, json={**data, "confirm_duplicate": True})
    assert r.status_code == 201
    assert r.json["id"] != existing.id


def test_link_needs_proof(client, world, make):
    make.person("Emma", "Janssens", org=world.club_b)
    r = client.post(people_url(world.club_a, "link"), headers=world.admin_a, json={"first_name": "Emma"})
    assert r.status_code == 422
    r = client.post(people_url(world.club_a, "link"), headers=world.admin_a, json={"national_number": "123"})
    assert r.status_code == 422
    assert "national_number" in r.json["errors"]["json"]


def test_national_number_is_shown_with_the_permission(client, world, make):
    person = make.person("Emma", "Janssens", org=world.club_a, national_number=NN_1990)
    r = client.get(people_url(world.club_a, person.id), headers=world.admin_a)
    assert r.json["national_number"] == "••.••.••-•••.29"
    r = client.get(people_url(world.club_a, person.id), headers=world.contact_a)
    assert r.json["national_number"] == "90.02.01-002.29"
    r = client.get(people_url(world.fed, person.id), headers=world.secretariat)
    assert r.json["national_number"] == "90.02.01-002.29"


def test_every_read_of_a_person_is_audited(client, world, make):
    person = make.person("Emma", "Janssens", org=world.club_a)
    client.get(people_url(world.club_a, person.id), headers=world.admin_a)
    client.get(people_url(world.club_a, person.id), headers=world.admin_a)
    views = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "view")).scalars().all()
    assert len(views) == 2
    assert {(v.person_id, v.org_id, v.entity_type) for v in views} == {(person.id, world.club_a.id, "person")}
    assert views[0].user_id is not None


def test_update_needs_current_etag(client, world, make):
    person = make.person("Emma", "Janssens", org=world.club_a)
    url = people_url(world.club_a, person.id)
    r = client.patch(url, headers=world.admin_a, json={"city": "Gent"})
    assert r.status_code == 428
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"city": "Gent", "postal_code": "9000"})
    assert r.status_code == 200, r.json
    assert r.json["city"] == "Gent"
    # The old ETag is stale now.
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"city": "Brugge"})
    assert r.status_code == 412
    db.session.refresh(person)
    assert person.city == "Gent"
    assert "gent" in person.search_text
    # Bad input with a fresh ETag: field error, nothing changed.
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"first_name": "", "email": "x@"})
    assert r.status_code == 422
    assert set(r.json["errors"]["json"]) == {"first_name", "email"}
    db.session.refresh(person)
    assert person.first_name == "Emma"


def test_update_refuses_national_number_of_someone_else(client, world, make):
    make.person("Emma", "Janssens", org=world.club_b, national_number=NN_1990)
    person = make.person("Emma", "Jansen", org=world.club_a)
    url = people_url(world.club_a, person.id)
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"national_number": NN_1990})
    assert r.status_code == 409
    db.session.refresh(person)
    assert person.national_number is None


def test_unlink_keeps_the_person(client, world, make):
    person = make.person("Emma", "Janssens", org=world.club_a)
    db.session.add(PersonOrganisation(person_id=person.id, org_id=world.club_b.id))
    db.session.commit()
    r = client.delete(people_url(world.club_a, person.id), headers=world.admin_a)
    assert r.status_code == 204
    assert client.get(people_url(world.club_a, person.id), headers=world.admin_a).status_code == 404
    assert client.get(people_url(world.club_b, person.id), headers=world.admin_b).status_code == 200
    # From the federation: the person is linked below it, not to it.
    r = client.delete(people_url(world.fed, person.id), headers=world.secretariat)
    assert r.status_code == 409
    assert db.session.get(Person, person.id) is not None


def test_list_filters_search_and_pagination(client, world, make):
    today = dt.date.today()
    make.person("Lotte", "Claes", org=world.club_a, gender="F", birth_date=dt.date(today.year - 10, 3, 1),
                postal_code="9000", city="Gent", search_text="lotte claes 9000 gent")
    make.person("Lars", "Maes", org=world.club_a, gender="M", birth_date=dt.date(today.year - 30, 7, 12),
                postal_code="9050", city="Gentbrugge", search_text="lars maes 9050 gentbrugge")
    make.person("Jeroen", "Wouters", org=world.club_b, gender="M", birth_date=dt.date(1980, 3, 9),
                postal_code="8000", city="Brugge", search_text="jeroen wouters 8000 brugge")

    def names(org, headers, **params):
        r = client.get(people_url(org), headers=headers, query_string=params)
        assert r.status_code == 200, r.json
        return [item["last_name"] for item in r.json["items"]]

    assert names(world.club_a, world.admin_a, q="claes") == ["Claes"]
    assert sorted(names(world.club_a, world.admin_a)) == ["Claes", "Maes", "admin-a", "contact-a", "lid-a"]
    assert names(world.club_a, world.admin_a, gender="M") == ["Maes"]
    assert names(world.club_a, world.admin_a, q="gent") == ["Claes", "Maes"]
    assert names(world.club_a, world.admin_a, city="GENT") == ["Claes"]
    assert names(world.club_a, world.admin_a, postal_code="9050") == ["Maes"]
    assert names(world.club_a, world.admin_a, age_max=12) == ["Claes"]
    assert names(world.club_a, world.admin_a, age_min=12) == ["Maes"]
    assert names(world.club_a, world.admin_a, birth_year=today.year - 30) == ["Maes"]
    assert names(world.club_a, world.admin_a, birthday_month=3) == ["Claes"]
    assert names(world.club_a, world.admin_a, q="gent", sort="-name") == ["Maes", "Claes"]
    # Federation-wide, and narrowed to a club below it.
    assert names(world.fed, world.secretariat, birthday_month=3) == ["Claes", "Wouters"]
    assert names(world.fed, world.secretariat, birthday_month=3, org_id=world.club_b.id) == ["Wouters"]
    r = client.get(people_url(world.fed), headers=world.secretariat, query_string={"page_size": 2, "page": 2})
    assert r.json["total"] == 8 and r.json["page"] == 2 and len(r.json["items"]) == 2
    item = client.get(people_url(world.club_a), headers=world.admin_a, query_string={"q": "claes"}).json["items"][0]
    assert item["organisations"] == [{"id": world.club_a.id, "name": "AC Gent"}]
    assert "national_number" not in item


@pytest.mark.parametrize("params, field", [
    ({"gender": "Q"}, "gender"),
    ({"birthday_month": 13}, "birthday_month"),
    ({"sort": "shoe_size"}, "sort"),
    ({"shoe_size": "44"}, "shoe_size"),
    ({"cf.unknown": "x"}, "cf.unknown"),
])
def test_list_rejects_bad_filters(client, world, params, field):
    r = client.get(people_url(world.club_a), headers=world.admin_a, query_string=params)
    assert r.status_code == 422, r.json
    assert field in str(r.json["errors"])


def test_list_sub_organisation_filter_stays_in_the_subtree(client, world):
    r = client.get(people_url(world.club_a), headers=world.admin_a, query_string={"org_id": world.club_b.id})
    assert r.status_code == 422
    assert "org_id" in r.json["errors"]["json"]


def test_tenant_isolation_on_every_people_route(client, world, make):
    """Club A's admin gets 404 for club B and for a person only linked to club B, on every route."""
    theirs = make.person("Emma", "Janssens", org=world.club_b, national_number=NN_1990)
    mine = make.person("Jan", "Peeters", org=world.club_a)
    field = CustomField(org_id=world.club_b.id, key="shirt", label="Shirt", field_type="text")
    db.session.add(field)
    db.session.commit()
    h = world.admin_a
    b = world.club_b
    calls = [
        ("get", people_url(b), None), ("post", people_url(b), {"first_name": "X", "last_name": "Y"}),
        ("post", people_url(b, "link"), {"national_number": NN_1990}),
        ("get", people_url(b, theirs.id), None), ("patch", people_url(b, theirs.id), {"city": "X"}),
        ("delete", people_url(b, theirs.id), None),
        ("post", people_url(b, theirs.id, "merge"), {"other_person_id": mine.id}),
        ("get", f"/api/v1/orgs/{b.id}/custom-fields", None),
        ("post", f"/api/v1/orgs/{b.id}/custom-fields", {"key": "x", "label": "X", "field_type": "text"}),
        ("get", f"/api/v1/orgs/{b.id}/custom-fields/{field.id}", None),
        ("patch", f"/api/v1/orgs/{b.id}/custom-fields/{field.id}", {"label": "X"}),
        ("delete", f"/api/v1/orgs/{b.id}/custom-fields/{field.id}", None),
        # Through their own organisation's URL: the person and field of club B stay invisible.
        ("get", people_url(world.club_a, theirs.id), None),
        ("patch", people_url(world.club_a, theirs.id), {"city": "X"}),
        ("delete", people_url(world.club_a, theirs.id), None),
        ("patch", f"/api/v1/orgs/{world.club_a.id}/custom-fields/{field.id}", {"label": "X"}),
        ("delete", f"/api/v1/orgs/{world.club_a.id}/custom-fields/{field.id}", None),
        ("get", f"/api/v1/orgs/{world.club_a.id}/custom-fields/{field.id}", None),
    ]
    for method, url, body in calls:
        headers = {**h, "If-Match": "*"} if method == "patch" else h
        r = getattr(client, method)(url, headers=headers, json=body)
        assert r.status_code == 404, (method, url, r.status_code, r.json)
    # Merging needs a secretariat; one of another federation cannot reach these people either.
    other_fed = make.federation("Zwemfederatie")
    other_club = make.club(other_fed)
    outsider = make.headers(
        make.user("secretariaat@zwemmen.example.org", role="federation_secretariat", org=other_fed, password="")
    )
    make.person("Jan", "Zwemmer", org=other_club)
    mine_there = db.session.execute(sa.select(Person).where(Person.last_name == "Zwemmer")).scalar_one()
    for keep, remove in ((mine_there.id, theirs.id), (theirs.id, mine_there.id)):
        r = client.post(people_url(other_fed, keep, "merge"), headers=outsider, json={"other_person_id": remove})
        assert r.status_code == 404, r.json
    names = [i["id"] for i in client.get(people_url(world.club_a), headers=h).json["items"]]
    assert theirs.id not in names
    assert db.session.get(Person, theirs.id).city is None
    assert db.session.get(CustomField, field.id).label == "Shirt"


def test_permissions(client, world, make):
    person = make.person("Emma", "Janssens", org=world.club_a)
    m = world.member_a
    assert client.get(people_url(world.club_a), headers=m).status_code == 403
    assert client.get(people_url(world.club_a, person.id), headers=m).status_code == 403
    r = client.post(people_url(world.club_a), headers=m, json={"first_name": "A", "last_name": "B"})
    assert r.status_code == 403
    other = make.person("Emma", "Janssens", org=world.club_a)
    # Merging is for the federation secretariat.
    r = client.post(people_url(world.club_a, person.id, "merge"), headers=world.admin_a,
                    json={"other_person_id": other.id})
    assert r.status_code == 403
    assert client.get(people_url(world.club_a)).status_code == 401


def test_expired_or_unknown_token_is_refused(client, world):
    r = client.get(people_url(world.club_a), headers={"Authorization": "Bearer fed_nonsense"})
    assert r.status_code == 401


def test_custom_fields_travel_in_the_person_payload(client, world, make):
    db.session.add_all([
        CustomField(org_id=world.fed.id, key="licence", label="Licence", field_type="text", required=True),
        CustomField(org_id=world.club_a.id, key="locker", label="Locker", field_type="bool"),
        CustomField(org_id=world.club_b.id, key="shirt", label="Shirt", field_type="choice", choices=["S", "M"]),
    ])
    db.session.commit()
    r = client.post(people_url(world.club_a), headers=world.admin_a,
                    json={"first_name": "Jan", "last_name": "Peeters", "custom_fields": {"locker": "yes"}})
    assert r.status_code == 422
    assert r.json["errors"]["json"] == {"custom_fields.licence": ["this field is required"]}
    r = client.post(people_url(world.club_a), headers=world.admin_a,
                    json={"first_name": "Jan", "last_name": "Peeters",
                          "custom_fields": {"locker": "yes", "licence": "A-123", "shirt": "M"}})
    assert r.status_code == 422
    assert r.json["errors"]["json"] == {"custom_fields.shirt": ["unknown custom field"]}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CustomFieldValue)) == 0
    r = client.post(people_url(world.club_a), headers=world.admin_a,
                    json={"first_name": "Jan", "last_name": "Peeters",
                          "custom_fields": {"locker": "yes", "licence": "A-123"}})
    assert r.status_code == 201, r.json
    assert r.json["custom_fields"] == {"licence": "A-123", "locker": True}
    url = people_url(world.club_a, r.json["id"])
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"custom_fields": {"locker": False}})
    assert r.status_code == 200
    assert r.json["custom_fields"] == {"licence": "A-123", "locker": False}
    # A change of a custom value alone makes the old ETag stale.
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"custom_fields": {"locker": True}})
    assert r.status_code == 412
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"custom_fields": {"licence": ""}})
    assert r.status_code == 422
    assert r.json["errors"]["json"] == {"custom_fields.licence": ["this field is required"]}
    # Filter the list on custom values.
    r = client.get(people_url(world.club_a), headers=world.admin_a, query_string={"cf.locker": "no"})
    assert [i["last_name"] for i in r.json["items"]] == ["Peeters"]
    r = client.get(people_url(world.club_a), headers=world.admin_a, query_string={"cf.licence": "a-1"})
    assert [i["last_name"] for i in r.json["items"]] == ["Peeters"]
    r = client.get(people_url(world.club_a), headers=world.admin_a, query_string={"cf.locker": "yes"})
    assert r.json["items"] == []
    r = client.get(people_url(world.club_a), headers=world.admin_a, query_string={"cf.locker": "maybe"})
    assert r.status_code == 422


class SearchPlugin(Plugin):
    """Declares a people-list filter, as a membership plugin would."""

    name = "searchtest"
    label = "Search test"

    @hookimpl
    def register_search_fields(self):
        def condition(value, org):
            if not value.isdigit():
                raise ValueError("give a number of letters")
            return sa.func.length(Person.last_name) == int(value)

        return [SearchField("searchtest.name_length", "Length of the last name", condition, type="int")]


@pytest.fixture
def search_app(make_app):
    app = make_app(plugins=[SearchPlugin])
    _clean(app)
    with app.app_context():
        yield app
        db.session.remove()


def test_plugin_search_fields_filter_when_the_plugin_is_enabled(search_app):
    make = Factory(db.session)
    client = search_app.test_client()
    fed = make.federation()
    club = make.club(fed)
    headers = make.headers(make.user("admin@example.org", role="club_admin", org=club, password=""))
    make.person("Jan", "Maes", org=club)
    make.person("Jan", "Peeters", org=club)
    url = people_url(club)
    r = client.get(url, headers=headers, query_string={"searchtest.name_length": "4"})
    assert r.status_code == 422  # the module is off here: its filter does not exist
    assert "searchtest.name_length" in r.json["errors"]["json"]
    db.session.add(ModuleOverride(org_id=club.id, plugin="searchtest", enabled=True))
    db.session.commit()
    r = client.get(url, headers=headers, query_string={"searchtest.name_length": "4"})
    assert r.status_code == 200, r.json
    assert [p["last_name"] for p in r.json["items"]] == ["Maes"]
    r = client.get(url, headers=headers, query_string={"searchtest.name_length": "four"})
    assert r.status_code == 422
    assert r.json["errors"]["json"]["searchtest.name_length"] == ["give a number of letters"]
