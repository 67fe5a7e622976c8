"""The member list searches and sorts on copies of the person's name, birth date and search text kept on each
membership (by database triggers). Whoever changes a person, through the people API, a merge, an import or
set-based SQL, the list finds them under their current name at once."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from core.db import db
from core.models import Person
from plugins.membership.models import COPIED, Membership
from tests.plugins.membership.conftest import add_member, api, xlsx


def people_url(org, *parts):
    return "/".join([f"/api/v1/orgs/{org.id}/people", *map(str, parts)])


def listed(client, world, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = client.get(api(world.fed, "members") + f"?status=all&{query}", headers=world.secretariat)
    assert r.status_code == 200, r.json
    return [(i["person"]["first_name"], i["person"]["last_name"]) for i in r.json["items"]]


def copies(membership_id) -> dict:
    columns = [getattr(Membership, f"person_{c}") for c in COPIED]
    return dict(zip(COPIED, db.session.execute(sa.select(*columns).where(Membership.id == membership_id)).one()))


def test_a_new_membership_carries_its_persons_copies(world):
    person, m = add_member(world.club_a, world.adult, "Emma", "Janssens", birth=dt.date(1990, 4, 2))
    assert copies(m.id) == {"last_name": "Janssens", "first_name": "Emma", "birth_date": dt.date(1990, 4, 2),
                            "search_text": "emma janssens"}


def test_a_renamed_person_is_found_and_sorted_under_the_new_name(client, world):
    person, m = add_member(world.club_a, world.adult, "Emma", "Janssens", birth=dt.date(1990, 4, 2))
    add_member(world.club_b, world.adult, "Bart", "Maes")
    url = people_url(world.club_a, person.id)
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag},
                     json={"last_name": "Wouters", "birth_date": "1991-04-02", "national_number": None})
    assert r.status_code == 200, r.json
    assert listed(client, world, q="wouters") == [("Emma", "Wouters")]
    assert listed(client, world, q="janssens") == []
    assert listed(client, world) == [("Bart", "Maes"), ("Emma", "Wouters")]
    assert listed(client, world, birth_year=1991) == [("Emma", "Wouters")]
    assert listed(client, world, birth_year=1990) == []


def test_a_merge_moves_memberships_under_the_kept_persons_name(client, world):
    keep, _ = add_member(world.club_a, world.adult, "Emma", "Janssens")
    remove, moved = add_member(world.club_b, world.adult, "Ema", "Jansens")
    r = client.post(people_url(world.fed, keep.id, "merge"), headers=world.secretariat,
                    json={"other_person_id": remove.id})
    assert r.status_code == 200, r.json
    assert db.session.get(Membership, moved.id).person_id == keep.id
    assert listed(client, world, q="janssens") == [("Emma", "Janssens"), ("Emma", "Janssens")]
    assert listed(client, world, q="jansens") == []
    assert copies(moved.id)["first_name"] == "Emma"


def test_set_based_writes_keep_the_copies_too(client, world):
    person, m = add_member(world.club_a, world.adult, "Emma", "Janssens")
    db.session.execute(sa.update(Person).where(Person.id == person.id)
                       .values(first_name="Emmy", search_text="emmy janssens"))
    db.session.commit()
    assert listed(client, world, q="emmy") == [("Emmy", "Janssens")]
    other, _ = add_member(world.club_b, world.adult, "Bart", "Maes")
    db.session.execute(sa.update(Membership).where(Membership.id == m.id).values(person_id=other.id))
    db.session.commit()
    assert copies(m.id)["last_name"] == "Maes"
    assert listed(client, world, q="emmy") == []


def test_imported_members_are_found_by_name(client, world):
    data = xlsx([["Voornaam", "Naam", "Geboortedatum", "Lidmaatschap", "Begindatum"],
                 ["Lotte", "Verhoeven", dt.date(1995, 3, 12), "Volwassene", dt.date(2024, 1, 1)]])
    r = client.post(api(world.club_a, "imports"), headers=world.admin_a,
                    data={"file": (data, "leden.xlsx")}, content_type="multipart/form-data")
    assert r.status_code in (200, 201), r.json
    assert listed(client, world, q="verhoeven") == [("Lotte", "Verhoeven")]
    assert listed(client, world, age_min=18, birthday_month=3) == [("Lotte", "Verhoeven")]


def test_the_audit_log_leaves_the_copies_out(client, world):
    """The copies are the person's data kept by the database: a membership's change record does not repeat
    them (a GDPR export or erasure finds the person's values on the person's own records)."""
    from core.models import AuditLog

    person, m = add_member(world.club_a, world.adult, "Emma", "Janssens")
    db.session.delete(db.session.get(Membership, m.id))
    db.session.commit()
    entries = db.session.execute(sa.select(AuditLog.action, AuditLog.changes)
                                 .where(AuditLog.entity_type == "membership_membership")
                                 .order_by(AuditLog.id)).all()
    assert [action for action, _ in entries] == ["create", "delete"]
    assert all(not key.startswith("person_") or key == "person_id" for _, changes in entries for key in changes)
    assert entries[1].changes["person_id"] == person.id
