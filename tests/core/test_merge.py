"""Merging two records of the same person: every reference moves (core tables and plugin tables),
empty fields are filled, an audit entry is written, plugins hear `person.merged`; refusals change nothing."""
import datetime as dt

import pytest
import sqlalchemy as sa

from core.db import db
from core.models import AuditLog, CustomField, CustomFieldValue, ModuleOverride, Person, PersonOrganisation, User
from tests.sample_plugin.models import SampleNote

NN = "85073003328"


def merge_url(org, keep_id):
    return f"/api/v1/orgs/{org.id}/people/{keep_id}/merge"


@pytest.fixture
def fed_world(sample_make):
    make = sample_make
    fed = make.federation()
    club_a, club_b = make.club(fed, "Club A"), make.club(fed, "Club B")
    for org in (club_a, club_b):
        db.session.add(ModuleOverride(org_id=org.id, plugin="sample", enabled=True))
    db.session.commit()
    headers = make.headers(make.user("secretariaat@example.org", role="federation_secretariat", org=fed, password=""))
    return make, fed, club_a, club_b, headers


def test_merge_moves_every_reference_and_fills_empty_fields(sample_client, sample_app, fed_world):
    make, fed, club_a, club_b, headers = fed_world
    keep = make.person("Jan", "Peeters", org=club_a, birth_date=dt.date(1985, 7, 30))
    remove = make.person("Jan", "Peeters", org=club_b, birth_date=dt.date(1985, 7, 30), national_number=NN,
                         email="jan@example.org", city="Gent", search_text="jan peeters")
    db.session.add(PersonOrganisation(person_id=remove.id, org_id=club_a.id, relation="volunteer"))
    licence = CustomField(org_id=fed.id, key="licence", label="Licence", field_type="text")
    locker = CustomField(org_id=fed.id, key="locker", label="Locker", field_type="bool")
    db.session.add_all([licence, locker])
    db.session.flush()
    db.session.add_all([
        CustomFieldValue(field_id=licence.id, person_id=keep.id, value="KEEP-1"),
        CustomFieldValue(field_id=licence.id, person_id=remove.id, value="REMOVE-1"),
        CustomFieldValue(field_id=locker.id, person_id=remove.id, value="true"),
        SampleNote(org_id=club_b.id, person_id=remove.id, text="paid in cash"),
    ])
    login = make.user("jan@example.org", person=remove, password="")
    db.session.commit()
    keep_id, remove_id = keep.id, remove.id

    r = sample_client.post(merge_url(fed, keep_id), headers=headers, json={"other_person_id": remove_id})
    assert r.status_code == 200, r.json
    assert r.json["id"] == keep_id
    assert r.json["custom_fields"] == {"licence": "KEEP-1", "locker": True}
    assert {o["name"] for o in r.json["organisations"]} == {"Club A", "Club B"}

    assert db.session.get(Person, remove_id) is None
    kept = db.session.get(Person, keep_id)
    assert (kept.national_number, kept.email, kept.city) == (NN, "jan@example.org", "Gent")
    assert "gent" in kept.search_text
    links = db.session.execute(sa.select(PersonOrganisation.org_id).where(PersonOrganisation.person_id == keep_id)
                               .execution_options(federa_unscoped=True)).scalars().all()
    assert sorted(links) == sorted([club_a.id, club_b.id])
    values = dict(db.session.execute(sa.select(CustomFieldValue.field_id, CustomFieldValue.value)
                                     .where(CustomFieldValue.person_id == keep_id)).all())
    assert values == {licence.id: "KEEP-1", locker.id: "true"}
    assert db.session.get(User, login.id).person_id == keep_id
    notes = db.session.execute(sa.select(SampleNote.person_id).execution_options(federa_unscoped=True)).scalars()
    assert list(notes) == [keep_id]  # the plugin's row moved, found through the foreign key

    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "merge")).scalar_one()
    assert entry.person_id == keep_id
    assert entry.changes["removed_person_id"] == remove_id
    assert entry.changes["moved"] == {"sample_note": 1}
    assert set(entry.changes["filled"]) >= {"national_number", "email", "city"}
    events = sample_app.extensions["federa"].plugins["sample"].events
    assert sorted(org_id for org_id, event, _ in events if event == "person.merged") == sorted([club_a.id, club_b.id])
    assert events[0][2] == {"kept_person_id": keep_id, "removed_person_id": remove_id}


def test_merge_event_reaches_only_enabled_plugins(sample_client, sample_app, fed_world):
    make, fed, club_a, club_b, headers = fed_world
    db.session.execute(sa.update(ModuleOverride).where(ModuleOverride.org_id == club_b.id).values(enabled=False))
    db.session.commit()
    keep = make.person("Jan", "Peeters", org=club_b)
    remove = make.person("Jan", "Peeters", org=club_b)
    r = sample_client.post(merge_url(club_b, keep.id), headers=headers, json={"other_person_id": remove.id})
    assert r.status_code == 200, r.json
    assert sample_app.extensions["federa"].plugins["sample"].events == []


def _counts():
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(t))
                 for t in (Person, PersonOrganisation, User, AuditLog))


def test_merge_refusals_change_nothing(client, make):
    fed = make.federation()
    club = make.club(fed)
    headers = make.headers(make.user("secretariaat@example.org", role="federation_secretariat", org=fed, password=""))
    with_login = make.user("a@example.org", org=club, password="").person
    other_login = make.user("b@example.org", org=club, password="").person
    numbered = make.person("Emma", "Janssens", org=club, national_number=NN)
    other_number = make.person("Emma", "Janssens", org=club, national_number="90020100229")
    before = _counts()

    r = client.post(merge_url(club, with_login.id), headers=headers, json={"other_person_id": other_login.id})
    assert r.status_code == 409
    assert "login" in r.json["message"]
    r = client.post(merge_url(club, numbered.id), headers=headers, json={"other_person_id": other_number.id})
    assert r.status_code == 409
    assert "national numbers" in r.json["message"]
    r = client.post(merge_url(club, numbered.id), headers=headers, json={"other_person_id": numbered.id})
    assert r.status_code == 422
    assert "other_person_id" in r.json["errors"]["json"]
    r = client.post(merge_url(club, numbered.id), headers=headers, json={})
    assert r.status_code == 422
    r = client.post(merge_url(club, numbered.id), headers=headers, json={"other_person_id": 999999})
    assert r.status_code == 404
    assert _counts()[:3] == before[:3]
    assert db.session.get(Person, other_number.id).national_number == "90020100229"


@pytest.fixture
def badge_table(ctx):
    """A plugin-like table with a unique key on (person, season), present only for this test."""
    table = sa.Table("mergetest_badge", db.metadata,
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("person_id", sa.ForeignKey("person.id", ondelete="CASCADE")),
                     sa.Column("season", sa.Integer),
                     sa.UniqueConstraint("person_id", "season"))
    table.create(db.engine)
    try:
        yield table
    finally:
        db.session.remove()  # its open transaction has read the table; DROP would wait for it
        table.drop(db.engine)
        db.metadata.remove(table)


def test_merge_refuses_rows_a_unique_key_cannot_combine(client, make, badge_table):
    fed = make.federation()
    club = make.club(fed)
    headers = make.headers(make.user("secretariaat@example.org", role="federation_secretariat", org=fed, password=""))
    keep = make.person("Jan", "Peeters", org=club)
    remove = make.person("Jan", "Peeters", org=club, email="jan@example.org")
    db.session.execute(badge_table.insert(), [{"person_id": keep.id, "season": 2024},
                                              {"person_id": remove.id, "season": 2024},
                                              {"person_id": remove.id, "season": 2025}])
    db.session.commit()
    r = client.post(merge_url(club, keep.id), headers=headers, json={"other_person_id": remove.id})
    assert r.status_code == 409
    assert r.json["table"] == "mergetest_badge"
    assert db.session.get(Person, remove.id) is not None
    assert db.session.get(Person, keep.id).email is None
    # Once the clash is resolved, the merge moves the other season.
    db.session.execute(badge_table.delete().where(badge_table.c.person_id == remove.id,
                                                  badge_table.c.season == 2024))
    db.session.commit()
    r = client.post(merge_url(club, keep.id), headers=headers, json={"other_person_id": remove.id})
    assert r.status_code == 200, r.json
    rows = db.session.execute(sa.select(badge_table.c.person_id, badge_table.c.season)
                              .order_by(badge_table.c.season)).all()
    assert [tuple(row) for row in rows] == [(keep.id, 2024), (keep.id, 2025)]
