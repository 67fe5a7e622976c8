"""An import writes new people, links, custom values and memberships set-based: each still gets the audit
entry the ORM would have written (the data subject's trail), the people are searchable, and every new
membership reaches listeners with its id."""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa
from openpyxl import Workbook

from core.audit import audit_for_person
from core.db import db
from core.models import AuditLog, CustomFieldValue, Person, PersonOrganisation
from core.services import custom_fields as cf
from plugins.membership.models import Membership
from tests.plugins.membership.conftest import NN_1985, add_member, api, build_world, enable
from tests.plugins.membership.test_jobs_events import events


def sheet(rows) -> io.BytesIO:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    data = io.BytesIO()
    wb.save(data)
    data.seek(0)
    return data


def test_imported_people_have_their_audit_trail_custom_values_and_events(sample_ctx, sample_client, sample_make):
    w = build_world(sample_make)
    enable(w.club_a, plugin="sample")
    cf.create_field(db.session, w.fed, "shirt", "T-shirtmaat", "choice", choices=["S", "M", "L"])
    db.session.commit()
    known, _ = add_member(w.club_b, w.adult, "Jan", "Peeters", birth=dt.date(1985, 7, 30), national_number=NN_1985)
    data = sheet([["Naam", "Voornaam", "Geboortedatum", "E-mail", "Lidmaatschap", "T-shirtmaat", "Rijksregisternummer"],
                  ["Claes", "Éls", dt.date(1990, 2, 1), "els@example.org", "Volwassene", "M", None],
                  ["Maes", "Tom", dt.date(1985, 3, 12), None, "Volwassene", None, None],
                  ["Peeters", "Jan", dt.date(1985, 7, 30), None, "Volwassene", "L", NN_1985]])
    r = sample_client.post(api(w.club_a, "imports"), headers=w.admin_a, data={"file": (data, "leden.xlsx")},
                           content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    assert (r.json["created_people"], r.json["linked_people"], r.json["created_memberships"]) == (2, 1, 3)

    els = db.session.execute(sa.select(Person).where(Person.email == "els@example.org")).scalar_one()
    assert els.search_text == "els claes els@example.org" and els.country == "BE" and els.preferred_language == "nl"
    found = sample_client.get(api(w.club_a, "members") + "?q=claes", headers=w.admin_a).json
    assert [i["person"]["id"] for i in found["items"]] == [els.id]

    # The data subject's trail: who created their record, their link and their membership.
    trail = {(e.action, e.entity_type): e for e in audit_for_person(db.session, els.id)}
    assert set(trail) >= {("create", "person"), ("create", "person_organisation"), ("create", "membership_membership"),
                          ("create", "custom_field_value")}
    created = trail[("create", "person")]
    assert created.user_id == w.admin_a_user.id and created.entity_id == str(els.id) and created.org_id == w.club_a.id
    assert created.changes["first_name"] == "Éls" and created.changes["id"] == els.id
    assert "search_text" not in created.changes and "created_at" not in created.changes
    membership = db.session.execute(sa.select(Membership).where(Membership.person_id == els.id)).scalar_one()
    assert trail[("create", "membership_membership")].entity_id == str(membership.id)
    assert trail[("create", "membership_membership")].org_id == w.club_a.id
    # The known person: linked to club A, custom value stored, no second person record.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.last_name == "Peeters")) == 1
    assert db.session.scalar(sa.select(PersonOrganisation.id).where(
        PersonOrganisation.person_id == known.id, PersonOrganisation.org_id == w.club_a.id)) is not None
    values = dict(db.session.execute(sa.select(CustomFieldValue.person_id, CustomFieldValue.value)).all())
    assert values == {els.id: "M", known.id: "L"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "import", AuditLog.org_id == w.club_a.id)) == 1

    started = events(sample_ctx, "membership.started")
    in_db = {m.id: m.person_id for m in db.session.execute(
        sa.select(Membership).where(Membership.org_id == w.club_a.id)).scalars()}
    assert {p["membership_id"]: p["person_id"] for _, p in started} == in_db
    assert all(p["status"] == "active" and p["type_id"] == w.adult.id for _, p in started)
