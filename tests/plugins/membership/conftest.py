"""Fixtures of the membership tests: a federation with two regions, three clubs, types and a season."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from core.db import db
from core.models import AuditLog, ModuleOverride, Person, PersonOrganisation
from plugins.membership.models import Membership, MembershipType, Season

TODAY = dt.date.today()
# Valid national register numbers: a man born 30 July 1985, a woman born 1 February 1990.
NN_1985 = "85073003328"
NN_1990 = "90020100229"


def enable(*orgs, plugin: str = "membership") -> None:
    for org in orgs:
        db.session.add(ModuleOverride(org_id=org.id, plugin=plugin, enabled=True))
    db.session.commit()


def build_world(make) -> SimpleNamespace:
    w = SimpleNamespace()
    w.fed = make.federation("Sportfederatie")
    w.region = make.region(w.fed, "Regio Oost")
    w.club_a = make.club(w.region, "SK Gent")
    w.club_b = make.club(w.region, "SK Brugge")
    w.other_fed = make.federation("Andere federatie")
    w.other_club = make.club(w.other_fed, "Club Elders")
    enable(w.fed, w.region, w.club_a, w.club_b, w.other_fed, w.other_club)
    s = db.session
    w.adult = MembershipType(org_id=w.fed.id, name="Volwassene", price=Decimal("30.00"), min_age=18, sporting=True)
    w.youth = MembershipType(org_id=w.fed.id, name="Jeugd", price=Decimal("15.00"), max_age=17, sporting=True)
    w.supporter = MembershipType(org_id=w.club_a.id, name="Steunend lid", price=Decimal("10.00"), sporting=False)
    w.foreign = MembershipType(org_id=w.other_fed.id, name="Vreemd", price=Decimal("5.00"))
    w.season = Season(org_id=w.fed.id, name="Seizoen", starts_on=TODAY - dt.timedelta(days=100),
                      ends_on=TODAY + dt.timedelta(days=200), cleanup_deadline=TODAY + dt.timedelta(days=30))
    s.add_all([w.adult, w.youth, w.supporter, w.foreign, w.season])
    s.commit()
    w.admin_a_user = make.user("admin-a@example.org", role="club_admin", org=w.club_a)
    w.contact_b_user = make.user("contact-b@example.org", role="club_contact", org=w.club_b)
    w.secretariat_user = make.user("sec@example.org", role="federation_secretariat", org=w.fed)
    w.admin_a = make.headers(w.admin_a_user)
    w.contact_b = make.headers(w.contact_b_user)
    w.secretariat = make.headers(w.secretariat_user)
    w.member_a = make.headers(make.user("lid-a@example.org", role="member", org=w.club_a))
    return w


def add_member(org, type_, first="Jan", last="Peeters", birth=dt.date(1980, 5, 1), starts=None, **person_fields):
    person = Person(first_name=first, last_name=last, birth_date=birth, **person_fields)
    person.search_text = f"{first} {last}".lower()
    db.session.add(person)
    db.session.flush()
    db.session.add(PersonOrganisation(person_id=person.id, org_id=org.id))
    m = Membership(org_id=org.id, person_id=person.id, type_id=type_.id, starts_on=starts or dt.date(2020, 1, 1),
                   status="active")
    db.session.add(m)
    db.session.commit()
    return person, m


def counts() -> dict:
    """Row counts of the tables an import or bulk action could touch."""
    from core.models import CustomFieldValue

    return {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Person, PersonOrganisation, Membership, AuditLog, CustomFieldValue)}


def xlsx(rows, sheet="Leden") -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    data = io.BytesIO()
    wb.save(data)
    data.seek(0)
    return data


@pytest.fixture
def world(make):
    return build_world(make)


def api(org, *parts) -> str:
    return "/".join([f"/api/v1/orgs/{org.id}/membership", *map(str, parts)])
