"""Demo data: loads, is idempotent, every identifier validates, the four demo logins work."""
from __future__ import annotations

import sqlalchemy as sa
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.be import nn as stdnum_nn
from stdnum.be import vat as stdnum_vat

from core import validation
from core.db import db
from core.demo import LOGINS, load_demo_data
from core.services.people import search_text_for
from core.models import (AuditLog, CustomField, CustomFieldValue, Organisation, Package, Person, PersonOrganisation,
                         RoleAssignment, Subscription, User)

PEOPLE = 300
COUNTED = (Organisation, Person, PersonOrganisation, User, RoleAssignment, Package, Subscription, CustomField,
           CustomFieldValue, AuditLog)


def _counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in COUNTED}


def _token(client, email: str, password: str = "demo"):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def test_demo_data_loads_the_tree_people_packages_and_fields(ctx):
    summary = load_demo_data(people=PEOPLE)
    assert "30 clubs" in summary

    orgs = db.session.execute(sa.select(Organisation)).scalars().all()
    by_kind = {kind: [o for o in orgs if o.kind == kind] for kind in ("federation", "region", "club")}
    assert [len(by_kind[k]) for k in ("federation", "region", "club")] == [1, 3, 30]
    federation = by_kind["federation"][0]
    for region in by_kind["region"]:
        assert region.parent_id == federation.id
        assert sum(1 for club in by_kind["club"] if club.parent_id == region.id) == 10

    # Every generated person plus the four logins' own person records.
    persons = db.session.execute(sa.select(Person)).scalars().all()
    assert len(persons) == PEOPLE + 4
    clubs_with_people = db.session.scalar(sa.select(sa.func.count(sa.distinct(PersonOrganisation.org_id))))
    assert clubs_with_people >= 30
    in_two_clubs = db.session.execute(
        sa.select(PersonOrganisation.person_id).group_by(PersonOrganisation.person_id)
        .having(sa.func.count() > 1)).all()
    assert in_two_clubs, "a few people belong to two clubs"
    assert any(p.preferred_language == "fr" for p in persons) and any(p.preferred_language == "nl" for p in persons)

    packages = {p.key: p for p in db.session.execute(sa.select(Package)).scalars()}
    assert packages["basis"].plugins == ["membership"]
    assert packages["compleet"].plugins == ["membership", "billing", "documents", "news"]
    subs = db.session.execute(sa.select(Subscription)).scalars().all()
    granted = [s for s in subs if s.org_id == federation.id]
    assert len(granted) == 1 and granted[0].include_descendants and granted[0].package_id == packages["basis"].id
    assert 3 <= sum(1 for s in subs if s.package_id == packages["compleet"].id) <= 10

    fields = {f.key: f for f in db.session.execute(sa.select(CustomField)).scalars()}
    tshirt = fields["tshirt_size"]
    assert tshirt.org_id == federation.id and tshirt.field_type == "choice"
    assert db.session.get(Organisation, fields["medical_certificate_until"].org_id).kind == "club"
    values = db.session.execute(sa.select(CustomFieldValue)).scalars().all()
    assert {v.field_id for v in values} == {tshirt.id, fields["medical_certificate_until"].id}
    assert all(v.value in tshirt.choices for v in values if v.field_id == tshirt.id)

    # Every identifier passes python-stdnum / the project's validators.
    for org in orgs:
        assert stdnum_vat.is_valid(org.kbo_number), org.kbo_number
        assert stdnum_iban.is_valid(org.iban), org.iban
        assert stdnum_bic.is_valid(org.bic), org.bic
        assert validation.v_code(org.v_code) == org.v_code
        assert validation.phone(org.phone) == org.phone
        assert validation.email(org.email) == org.email
        assert org.postal_code and org.city
    assert len({o.kbo_number for o in orgs}) == len(orgs) == len({o.iban for o in orgs})
    numbers = set()
    for person in persons:
        number = person.national_number
        if number is None:  # only the platform admin
            assert person.email == "admin@demo.federa.be"
            continue
        assert stdnum_nn.is_valid(number), number
        assert stdnum_nn.get_birth_date(number) == person.birth_date
        assert stdnum_nn.get_gender(number) == person.gender
        numbers.add(number)
        assert validation.email(person.email) == person.email
        assert person.email.endswith(("@example.be", "@demo.federa.be"))
        if person.mobile:
            assert validation.phone(person.mobile) == person.mobile
        assert person.search_text == search_text_for(person)
    assert len(numbers) == len(persons) - 1


def test_demo_data_is_idempotent(ctx):
    load_demo_data(people=PEOPLE)
    before = _counts()
    summary = load_demo_data(people=PEOPLE)
    assert _counts() == before
    assert "created now: 0 organisations, 0 people, 0 club links, 0 field values, 0 subscriptions, 0 logins" in summary
    # A larger run only adds what is missing: the first 300 people are the same people.
    load_demo_data(people=PEOPLE + 20)
    after = _counts()
    assert after["Person"] == before["Person"] + 20
    assert after["Organisation"] == before["Organisation"] and after["User"] == before["User"]


def test_the_four_demo_logins_work(ctx):
    load_demo_data(people=PEOPLE)
    client = ctx.test_client()
    assert _token(client, "lid@demo.federa.be", "wrong").status_code == 401
    me, headers = {}, {}
    for key, login in LOGINS.items():
        response = _token(client, login.email)
        assert response.status_code == 201, login.email
        headers[key] = {"Authorization": f"Bearer {response.json['access_token']}"}
        me[key] = client.get("/api/v1/me", headers=headers[key]).json

    assert me["admin"]["is_platform_admin"] is True
    secretariat = me["secretariat"]["assignments"]
    assert [(a["role"], db.session.get(Organisation, a["org_id"]).kind) for a in secretariat] == [
        ("federation_secretariat", "federation")]
    roles = sorted((a["role"], a["org_id"]) for a in me["clubadmin"]["assignments"])
    assert [r for r, _ in roles] == ["club_admin", "club_contact"]
    assert len({org_id for _, org_id in roles}) == 2, "the organisation switcher shows two clubs"
    assert all(db.session.get(Organisation, org_id).kind == "club" for _, org_id in roles)
    assert me["clubadmin"]["person"]["first_name"] == "Koen"
    contact_club = dict(roles)["club_contact"]
    assert [(a["role"], a["org_id"]) for a in me["member"]["assignments"]] == [("member", contact_club)]
    assert me["member"]["person"]["last_name"] == "Peeters"
    assert not me["member"]["is_platform_admin"] and not me["clubadmin"]["is_platform_admin"]

    # What they see: the secretariat searches the whole federation, the club admin only their clubs.
    federation = secretariat[0]["org_id"]
    found = client.get(f"/api/v1/orgs/{federation}/people?q=lotte peeters", headers=headers["secretariat"]).json
    assert "lid@demo.federa.be" in [p["email"] for p in found["items"]]
    club_people = client.get(f"/api/v1/orgs/{contact_club}/people?page_size=5", headers=headers["clubadmin"])
    assert club_people.status_code == 200 and club_people.json["total"] > 3
    other_club = db.session.scalar(sa.select(Organisation.id).where(
        Organisation.kind == "club", Organisation.id.not_in([org_id for _, org_id in roles])))
    assert client.get(f"/api/v1/orgs/{other_club}/people", headers=headers["clubadmin"]).status_code == 404
    assert client.get(f"/api/v1/orgs/{contact_club}/people", headers=headers["member"]).status_code == 403
