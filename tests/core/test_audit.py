"""Audit log: every write with who/where/what changed, secrets never copied, person views, the GDPR
helpers, and the audit page (filters, masking, permissions, other organisations)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from flask import g

from core import auth
from core.audit import audit_for_person, record_view, redact_person_audit
from core.db import db
from core.models import AuditLog, ModuleOverride, Role, RoleAssignment, RolePermission
from tests.conftest import web_login
from tests.core.jobs_plugin import jclient, jctx, jmake, jobs_app  # noqa: F401 (fixtures)


def entries(**where) -> list[AuditLog]:
    query = sa.select(AuditLog).order_by(AuditLog.id)
    for key, value in where.items():
        query = query.where(getattr(AuditLog, key) == value)
    return db.session.execute(query).scalars().all()


def test_create_update_delete_are_logged_with_changes(make):
    fed = make.federation("Atletiekfederatie")
    fed.name = "Atletiek Vlaanderen"
    db.session.commit()
    person = make.person("Jan", "Janssens", national_number="85073003328")
    db.session.delete(person)
    db.session.commit()
    orgs = entries(entity_type="organisation")
    assert [r.action for r in orgs] == ["create", "update"]
    assert orgs[0].entity_id == str(fed.id) and orgs[0].org_id == fed.id  # an organisation is its own
    assert orgs[0].changes["name"] == "Atletiekfederatie"
    assert orgs[1].changes == {"name": ["Atletiekfederatie", "Atletiek Vlaanderen"]}  # no updated_at noise
    people = entries(entity_type="person")
    assert [r.action for r in people] == ["create", "delete"]
    assert people[1].person_id == person.id and people[1].changes["last_name"] == "Janssens"
    assert "search_text" not in people[0].changes


def test_updates_in_the_creating_transaction_fold_into_the_create_entry(make):
    from core.models import Person

    person = Person(first_name="An", last_name="Peeters")
    db.session.add(person)
    db.session.flush()
    person.first_name = "Anna"
    db.session.commit()
    [entry] = entries(entity_type="person")
    assert entry.action == "create" and entry.changes["first_name"] == "Anna" and entry.changes["id"] == person.id


def test_secrets_are_never_logged(make):
    user = make.user("geheim@example.org")
    auth.set_password(user, "another-secret-1")
    auth.issue_token(db.session, user)
    db.session.commit()
    logged = json.dumps([e.changes for e in entries()])
    assert "argon2" not in logged and user.password_hash not in logged
    user_entries = entries(entity_type="user_account")
    assert user_entries[0].changes["password_hash"] == "set"
    assert user_entries[1].changes == {"password_hash": "changed", "auth_epoch": [0, 1]}
    assert entries(entity_type="api_token") == []


def test_writes_in_a_request_record_user_org_address_and_subject(ctx, make):
    fed = make.federation()
    club = make.club(fed)
    user = make.user(role="club_admin", org=club)
    person = make.person("Piet", org=club)
    with ctx.test_request_context("/", environ_base={"REMOTE_ADDR": "192.0.2.7"}):
        g.user, g.org = user, club
        person.first_name = "Pieter"
        db.session.commit()
    [entry] = entries(entity_type="person", action="update")
    assert (entry.user_id, entry.org_id, entry.ip, entry.person_id) == (user.id, club.id, "192.0.2.7", person.id)


def test_savepoint_rollback_drops_its_entries_with_its_data(make):
    fed = make.federation()
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            make.session.add(type(fed)(name="Wrong", kind="club", parent_id=fed.id, path="", depth=1))
            db.session.flush()
            raise RuntimeError("changed my mind")
    db.session.commit()
    assert [e.changes["name"] for e in entries(entity_type="organisation")] == [fed.name]


def test_views_and_the_gdpr_helpers(make):
    club = make.club(make.federation())
    person = make.person("Mira", "Maes", org=club)
    other = make.person("Karel", org=club)
    person.email = "mira@example.org"
    record_view(db.session, person.id, org_id=club.id)
    record_view(db.session, person.id, what="person_export", org_id=club.id, action="export")
    db.session.commit()
    history = audit_for_person(db.session, person.id)
    assert sorted((e.action, e.entity_type) for e in history) == [
        ("create", "person"), ("create", "person_organisation"), ("export", "person_export"),
        ("update", "person"), ("view", "person")]
    assert history == sorted(history, key=lambda e: (e.at, e.id))  # oldest first
    assert all(e.person_id == person.id for e in history)
    assert redact_person_audit(db.session, person.id) == 5
    db.session.commit()
    db.session.expire_all()
    assert all(e.changes is None for e in audit_for_person(db.session, person.id))
    assert len(audit_for_person(db.session, person.id)) == 5  # the facts stay
    assert audit_for_person(db.session, other.id)[0].changes["first_name"] == "Karel"  # others untouched


# --- through the API and the admin page ---------------------------------------------------------------

@pytest.fixture
def world(jobs_app, jmake):
    fed = jmake.federation()
    club = jmake.club(fed, "KV Audit")
    other = jmake.club(fed, "KV Elders")
    for org in (club, other):
        db.session.add(ModuleOverride(org_id=org.id, plugin="jobsdemo", enabled=True))
    db.session.commit()
    contact = jmake.user("contact@club.be", role="club_contact", org=club)
    admin = jmake.user("admin@club.be", role="club_admin", org=club)
    stranger = jmake.user("contact@elders.be", role="club_contact", org=other)
    # a custom role that reads the audit log but may not see national register numbers
    auditor_role = Role(name="Auditor", org_id=club.id)
    auditor_role.permission_rows.append(RolePermission(permission="core.audit.read"))
    db.session.add(auditor_role)
    auditor = jmake.user("auditor@club.be")
    db.session.add(RoleAssignment(user_id=auditor.id, role=auditor_role, org_id=club.id))
    # people are created in a request of their club, as the admin pages and the API do
    with jobs_app.test_request_context("/"):
        g.user, g.org = contact, club
        person = jmake.person("Lotte", "Claes", org=club, national_number="85073003328")
        g.user, g.org = stranger, other
        elsewhere = jmake.person("Bram", "Verbeke", org=other)
    db.session.commit()
    return {"fed": fed, "club": club, "other": other, "contact": contact, "admin": admin, "stranger": stranger,
            "auditor": auditor, "person": person, "elsewhere": elsewhere}


def test_an_api_write_is_audited_with_who_where_and_subject(jclient, jmake, world):
    club, person, admin = world["club"], world["person"], world["admin"]
    r = jclient.patch(f"/api/v1/orgs/{club.id}/jobsdemo/people/{person.id}", json={"first_name": "Charlotte"},
                      headers=jmake.headers(admin), environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert r.status_code == 200, r.json
    [entry] = entries(entity_type="person", action="update")
    assert (entry.user_id, entry.org_id, entry.person_id, entry.ip) == (admin.id, club.id, person.id, "198.51.100.4")
    assert entry.changes == {"first_name": ["Lotte", "Charlotte"]}


def test_audit_page_shows_this_subtree_with_filters(jclient, world):
    club, person = world["club"], world["person"]
    web_login(jclient, "contact@club.be")
    r = jclient.get(f"/o/{club.id}/audit")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Lotte Claes" in html and "Bram Verbeke" not in html  # the sibling club's records stay out
    assert "85073003328" in html and "••" not in html  # the contact person may see it in full
    r = jclient.get(f"/o/{club.id}/audit?person=claes&action=create")
    html = r.get_data(as_text=True)
    assert f'data-audit="' in html and "person_organisation" in html
    assert jclient.get(f"/o/{club.id}/audit?person={person.id}&action=delete").get_data(as_text=True).count(
        'data-audit="') == 0
    assert 'data-audit="' not in jclient.get(f"/o/{club.id}/audit?user=nobody@").get_data(as_text=True)
    today = dt.date.today()
    r = jclient.get(f"/o/{club.id}/audit?from={today - dt.timedelta(days=1)}&to={today + dt.timedelta(days=1)}"
                    f"&entity=person:{person.id}")
    assert r.get_data(as_text=True).count('data-audit="') == 1
    r = jclient.get(f"/o/{club.id}/audit?from={today + dt.timedelta(days=2)}")
    assert 'data-audit="' not in r.get_data(as_text=True)


def test_audit_page_bad_filters_get_a_field_error(jclient, world):
    club = world["club"]
    web_login(jclient, "contact@club.be")
    r = jclient.get(f"/o/{club.id}/audit?from=30-02-2025")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert 'class="field-error"' in html and 'data-audit="' not in html
    assert jclient.get(f"/o/{club.id}/audit?action=steal").status_code == 400
    assert jclient.get(f"/o/{club.id}/audit?from=2025-03-02&to=2025-03-01").status_code == 400


def test_audit_page_masks_national_numbers_without_the_right(jclient, world):
    web_login(jclient, "auditor@club.be")
    html = jclient.get(f"/o/{world['club'].id}/audit").get_data(as_text=True)
    assert "85073003328" not in html and "••.••.••-•••.28" in html


def test_audit_page_permissions_and_other_organisations(jctx, jclient, world):
    club = world["club"]
    assert jclient.get(f"/o/{club.id}/audit").status_code == 302  # to the login page
    web_login(jclient, "admin@club.be")  # a club admin does not read the audit log
    assert jclient.get(f"/o/{club.id}/audit").status_code == 403
    stranger = jctx.test_client()
    web_login(stranger, "contact@elders.be")
    assert stranger.get(f"/o/{club.id}/audit").status_code == 404


def test_audit_page_paginates(jclient, world):
    club = world["club"]
    db.session.add_all([AuditLog(org_id=club.id, action="view", entity_type="person", entity_id=str(i),
                                 person_id=world["person"].id) for i in range(55)])
    db.session.commit()
    web_login(jclient, "contact@club.be")
    first = jclient.get(f"/o/{club.id}/audit?action=view").get_data(as_text=True)
    assert first.count('data-audit="') == 50 and "page=2" in first
    second = jclient.get(f"/o/{club.id}/audit?action=view&page=2").get_data(as_text=True)
    assert second.count('data-audit="') == 5
