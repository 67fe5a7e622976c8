"""Membership API: types, seasons, memberships, the member list, bulk ending, transfers, the module
gate and tenant isolation; bad input gets a specific error and changes nothing."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from core.db import db
from core.models import AuditLog, ModuleOverride, PersonOrganisation
from plugins.membership.models import Membership
from tests.plugins.membership.conftest import TODAY, add_member, api, counts


def test_types_apply_down_the_tree_and_names_are_unambiguous(client, world):
    r = client.get(api(world.club_a, "types"), headers=world.admin_a)
    assert r.status_code == 200
    assert {t["name"]: t["inherited"] for t in r.json} == {"Volwassene": True, "Jeugd": True, "Steunend lid": False}
    assert [t["name"] for t in client.get(api(world.club_b, "types"), headers=world.contact_b).json] == [
        "Jeugd", "Volwassene"]
    r = client.post(api(world.club_b, "types"), headers=world.contact_b, json={"name": "volwassene", "price": "1"})
    assert r.status_code == 409 and "name" in r.json["errors"]["json"]
    r = client.post(api(world.club_b, "types"), headers=world.contact_b,
                    json={"name": "Senior", "price": "-3", "min_age": 70, "max_age": 60})
    assert r.status_code == 422
    assert set(r.json["errors"]["json"]) == {"price", "max_age"}
    r = client.post(api(world.club_b, "types"), headers=world.contact_b,
                    json={"name": "Senior", "price": "12.5", "min_age": 60})
    assert r.status_code == 201 and r.json["price"] == "12.50"


def test_type_updates_need_a_fresh_etag(client, world):
    url = api(world.club_a, "types", world.supporter.id)
    r = client.get(url, headers=world.admin_a)
    etag = r.headers["ETag"]
    assert client.patch(url, headers=world.admin_a, json={"price": "11"}).status_code == 428
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"price": "11"})
    assert r.status_code == 200 and r.json["price"] == "11.00"
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"price": "12"})
    assert r.status_code == 412
    # A federation's type cannot be changed from a club.
    r = client.patch(api(world.club_a, "types", world.adult.id), headers={**world.admin_a, "If-Match": etag},
                     json={"price": "1"})
    assert r.status_code == 404


def test_seasons_belong_to_the_federation_and_do_not_overlap(client, world):
    r = client.get(api(world.club_a, "seasons"), headers=world.admin_a)
    assert [s["name"] for s in r.json] == ["Seizoen"] and r.json[0]["current"] is True
    r = client.post(api(world.fed, "seasons"), headers=world.secretariat, json={
        "name": "Volgend", "starts_on": (TODAY + dt.timedelta(days=150)).isoformat(),
        "ends_on": (TODAY + dt.timedelta(days=500)).isoformat()})
    assert r.status_code == 409 and "starts_on" in r.json["errors"]["json"]
    r = client.post(api(world.fed, "seasons"), headers=world.secretariat, json={
        "name": "Volgend", "starts_on": "2030-01-01", "ends_on": "2029-12-31"})
    assert r.status_code == 422 and "ends_on" in r.json["errors"]["json"]
    r = client.post(api(world.fed, "seasons"), headers=world.secretariat, json={
        "name": "Volgend", "starts_on": "2030-01-01", "ends_on": "2030-12-31", "cleanup_deadline": "2030-04-01"})
    assert r.status_code == 201
    # A club admin has no right to define seasons.
    r = client.post(api(world.club_a, "seasons"), headers=world.admin_a, json={
        "name": "X", "starts_on": "2031-01-01", "ends_on": "2031-12-31"})
    assert r.status_code == 403


def test_create_membership_for_a_new_person_links_them_to_the_club(client, world):
    r = client.post(api(world.club_a, "memberships"), headers=world.admin_a, json={
        "person": {"first_name": "Els", "last_name": "Claes", "birth_date": "1990-02-01"},
        "type_id": world.adult.id, "starts_on": "2024-09-01", "iban": "BE48 3200 7018 4927"})
    assert r.status_code == 201, r.json
    body = r.json
    assert body["status"] == "active" and body["club_name"] == "SK Gent" and body["type_name"] == "Volwassene"
    assert body["iban"] == "BE48 •••• •••• 4927"  # a club admin sees bank accounts masked
    assert db.session.execute(sa.select(PersonOrganisation).where(
        PersonOrganisation.person_id == body["person_id"], PersonOrganisation.org_id == world.club_a.id)).first()
    people = client.get(f"/api/v1/orgs/{world.club_a.id}/people?q=claes", headers=world.admin_a).json
    assert [p["full_name"] for p in people["items"]] == ["Els Claes"]


def test_bad_memberships_are_refused_and_change_nothing(client, world):
    person, m = add_member(world.club_a, world.adult, birth=dt.date(1980, 5, 1))
    before = counts()
    url = api(world.club_a, "memberships")
    r = client.post(url, headers=world.admin_a, json={"person_id": person.id, "type_id": world.adult.id,
                                                      "starts_on": "2023-01-01"})
    assert r.status_code == 409 and r.json["existing_membership_id"] == m.id
    r = client.post(url, headers=world.admin_a, json={"person_id": person.id, "type_id": world.foreign.id})
    assert r.status_code == 422 and "does not apply" in r.json["errors"]["json"]["type_id"][0]
    r = client.post(url, headers=world.admin_a, json={"person_id": person.id, "type_id": world.youth.id})
    assert r.status_code == 422 and "at most 17" in r.json["errors"]["json"]["type_id"][0]
    r = client.post(url, headers=world.admin_a, json={"person_id": person.id, "type_id": world.supporter.id,
                                                      "starts_on": "2024-05-01", "ends_on": "2024-04-01",
                                                      "iban": "BE68 5390 0754 7034"})
    assert r.status_code == 422 and set(r.json["errors"]["json"]) == {"ends_on", "iban"}
    # A club's own type is not valid in its sibling.
    r = client.post(api(world.club_b, "memberships"), headers=world.contact_b,
                    json={"person": {"first_name": "A", "last_name": "B"}, "type_id": world.supporter.id})
    assert r.status_code == 422
    db.session.rollback()
    after = counts()
    assert after == before


def test_membership_update_with_etag_emits_nothing_without_changes(client, world):
    person, m = add_member(world.club_a, world.adult)
    url = api(world.club_a, "memberships", m.id)
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"ends_on": "2019-01-01"})
    assert r.status_code == 422 and "ends_on" in r.json["errors"]["json"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag},
                     json={"ends_on": (TODAY - dt.timedelta(days=1)).isoformat(), "end_reason": "verhuisd"})
    assert r.status_code == 200 and r.json["status"] == "ended"
    assert client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={}).status_code == 412


def test_member_list_of_a_club_and_of_the_federation(client, world):
    add_member(world.club_a, world.adult, "An", "Aerts")
    add_member(world.club_b, world.adult, "Bart", "Baert")
    _, ended = add_member(world.club_b, world.youth, "Cas", "Cools", birth=dt.date(2012, 3, 3))
    ended.ends_on, ended.status, ended.end_reason = dt.date(2023, 1, 1), "ended", "gestopt"
    db.session.commit()
    r = client.get(api(world.club_a, "members"), headers=world.admin_a)
    assert r.status_code == 200
    assert [i["person"]["last_name"] for i in r.json["items"]] == ["Aerts"]
    r = client.get(api(world.fed, "members") + "?page_size=1", headers=world.secretariat)
    assert r.json["total"] == 2 and len(r.json["items"]) == 1 and r.json["page_size"] == 1
    r = client.get(api(world.fed, "members") + "?status=all&sort=club", headers=world.secretariat)
    assert [(i["club_name"], i["status"]) for i in r.json["items"]] == [
        ("SK Brugge", "active"), ("SK Brugge", "ended"), ("SK Gent", "active")]
    r = client.get(api(world.fed, "members") + "?q=baer", headers=world.secretariat)
    assert [i["person"]["first_name"] for i in r.json["items"]] == ["Bart"]
    r = client.get(api(world.fed, "members") + f"?status=ended&within={world.club_b.id}", headers=world.secretariat)
    assert [i["end_reason"] for i in r.json["items"]] == ["gestopt"]
    r = client.get(api(world.fed, "members") + f"?within={world.other_club.id}&status=nope", headers=world.secretariat)
    assert r.status_code == 422
    r = client.get(api(world.fed, "members") + f"?within={world.other_club.id}", headers=world.secretariat)
    assert r.status_code == 422 and "within" in r.json["errors"]["json"]


def test_club_admin_cannot_see_or_end_memberships_of_another_club(client, world):
    _, mine = add_member(world.club_a, world.adult, "An", "Aerts")
    _, theirs = add_member(world.club_b, world.adult, "Bart", "Baert")
    assert client.get(api(world.club_b, "members"), headers=world.admin_a).status_code == 404
    assert client.get(api(world.club_b, "memberships", theirs.id), headers=world.admin_a).status_code == 404
    assert client.get(api(world.club_a, "memberships", theirs.id), headers=world.admin_a).status_code == 404
    r = client.post(api(world.club_a, "memberships/end"), headers=world.admin_a,
                    json={"membership_ids": [mine.id, theirs.id], "end_date": TODAY.isoformat(), "reason": "gestopt"})
    assert r.status_code == 404 and r.json["missing_ids"] == [theirs.id]
    db.session.expire_all()
    assert mine.ends_on is None and theirs.ends_on is None
    assert client.post(api(world.club_b, "memberships/end"), headers=world.admin_a,
                       json={"membership_ids": [theirs.id], "end_date": TODAY.isoformat(),
                             "reason": "x"}).status_code == 404
    # A member (no admin) sees the club but has no membership rights.
    assert client.get(api(world.club_a, "members"), headers=world.member_a).status_code == 403


def test_bulk_end_is_one_update_with_a_summary_audit_entry_and_is_idempotent(client, world):
    members = [add_member(world.club_a, world.adult, f"P{i}", f"Lid{i}")[1] for i in range(3)]
    ids = [m.id for m in members]
    url = api(world.club_a, "memberships/end")
    r = client.post(url, headers=world.admin_a, json={"membership_ids": ids, "end_date": "2019-12-31",
                                                      "reason": "gestopt"})
    assert r.status_code == 422 and r.json["membership_ids"] == sorted(ids)  # before their start
    r = client.post(url, headers=world.admin_a, json={"membership_ids": ids, "end_date": TODAY.isoformat()})
    assert r.status_code == 422 and "reason" in r.json["errors"]["json"]
    audit_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
    r = client.post(url, headers=world.admin_a, json={"membership_ids": ids, "end_date": TODAY.isoformat(),
                                                      "reason": "gestopt"})
    assert r.status_code == 200 and r.json["ended"] == 3 and r.json["skipped"] == 0
    db.session.expire_all()
    assert {(m.status, m.ends_on, m.end_reason) for m in members} == {("ended", TODAY, "gestopt")}
    entries = db.session.execute(sa.select(AuditLog).order_by(AuditLog.id.desc())).scalars().all()
    assert len(entries) == audit_before + 1
    assert entries[0].changes["bulk"] == "end" and entries[0].changes["membership_ids"] == sorted(ids)
    assert entries[0].user_id == world.admin_a_user.id and entries[0].org_id == world.club_a.id
    r = client.post(url, headers=world.admin_a, json={"membership_ids": ids, "end_date": TODAY.isoformat(),
                                                      "reason": "gestopt"})
    assert r.json == {"ended": 0, "skipped": 3, "membership_ids": []}


def test_ending_later_keeps_the_membership_active_until_then(client, world):
    _, m = add_member(world.club_a, world.adult)
    later = TODAY + dt.timedelta(days=20)
    r = client.post(api(world.club_a, "memberships/end"), headers=world.admin_a,
                    json={"membership_ids": [m.id], "end_date": later.isoformat(), "reason": "verhuist"})
    assert r.json["ended"] == 1
    items = client.get(api(world.club_a, "members"), headers=world.admin_a).json["items"]
    assert [(i["status"], i["ends_on"]) for i in items] == [("active", later.isoformat())]


def test_change_type_in_bulk(client, world):
    _, m1 = add_member(world.club_a, world.adult, "A", "Aa")
    _, m2 = add_member(world.club_a, world.adult, "B", "Bb")
    url = api(world.club_a, "memberships/change-type")
    r = client.post(url, headers=world.admin_a, json={"membership_ids": [m1.id, m2.id], "type_id": world.youth.id})
    assert r.status_code == 422 and sorted(r.json["membership_ids"]) == sorted([m1.id, m2.id])  # too old
    r = client.post(url, headers=world.admin_a, json={"membership_ids": [m1.id, m2.id], "type_id": world.foreign.id})
    assert r.status_code == 422
    r = client.post(url, headers=world.admin_a, json={"membership_ids": [m1.id, m2.id],
                                                      "type_id": world.supporter.id})
    assert r.status_code == 200 and r.json["changed"] == 2
    db.session.expire_all()
    assert {m1.type_id, m2.type_id} == {world.supporter.id}


def test_transfer_keeps_history(client, world):
    person, m = add_member(world.club_a, world.adult)
    day = TODAY - dt.timedelta(days=10)
    r = client.post(api(world.club_a, "memberships", m.id, "transfer"), headers=world.admin_a,
                    json={"to_org_id": world.club_b.id, "date": day.isoformat()})
    assert r.status_code == 404  # a club admin of A does not see club B
    r = client.post(api(world.club_a, "memberships", m.id, "transfer"), headers=world.admin_a,
                    json={"to_org_id": world.other_club.id, "date": day.isoformat()})
    assert r.status_code == 404
    r = client.post(api(world.fed, "memberships", m.id, "transfer"), headers=world.secretariat,
                    json={"to_org_id": world.club_b.id, "date": day.isoformat()})
    assert r.status_code == 201, r.json
    assert r.json["org_id"] == world.club_b.id and r.json["transferred_from_id"] == m.id
    db.session.expire_all()
    assert (m.status, m.ends_on, m.end_reason) == ("ended", day - dt.timedelta(days=1), "transfer")
    history = db.session.execute(sa.select(Membership.org_id).where(Membership.person_id == person.id)
                                 .order_by(Membership.starts_on)).scalars().all()
    assert history == [world.club_a.id, world.club_b.id]


def test_member_corrections_need_the_etag_and_touch_only_names_and_birth_date(client, world):
    person, _ = add_member(world.club_a, world.adult, "Jan", "Pieters")
    url = api(world.club_a, "members", person.id)
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"last_name": "Peeters",
                                                                            "birth_date": "1981-05-01"})
    assert r.status_code == 200 and r.json["last_name"] == "Peeters"
    assert client.get(api(world.club_b, "members", person.id), headers=world.contact_b).status_code == 404


def test_module_gate_answers_404_when_membership_is_off(client, world):
    db.session.execute(sa.update(ModuleOverride).where(ModuleOverride.org_id == world.club_a.id)
                       .values(enabled=False))
    db.session.commit()
    for path in ("members", "types", "seasons", "overview", "members.xlsx"):
        r = client.get(api(world.club_a, path), headers=world.admin_a)
        assert r.status_code == 404 and r.json["message"] == "module not enabled for this organisation", path
    r = client.post(api(world.club_a, "memberships/end"), headers=world.admin_a,
                    json={"membership_ids": [1], "end_date": TODAY.isoformat(), "reason": "x"})
    assert r.status_code == 404


def test_saved_filters(client, world):
    url = api(world.club_a, "saved-filters")
    r = client.post(url, headers=world.admin_a, json={"name": "Jeugd", "query": {"type_id": str(world.youth.id)}})
    assert r.status_code == 201
    r = client.post(url, headers=world.admin_a, json={"name": "Kapot", "query": {"status": "weg"}})
    assert r.status_code == 422
    assert [f["name"] for f in client.get(url, headers=world.admin_a).json] == ["Jeugd"]
    assert client.get(api(world.club_b, "saved-filters"), headers=world.contact_b).json == []


def test_overview_cleanup_and_reminders(ctx, client, world):
    add_member(world.club_a, world.adult)
    add_member(world.club_b, world.youth, birth=dt.date(2012, 1, 1))
    assert client.post(api(world.club_a, "cleanup"), headers=world.admin_a).status_code == 201
    r = client.get(api(world.fed, "overview"), headers=world.secretariat)
    assert r.status_code == 200
    data = r.json
    assert data["total"] == 2
    assert {c["name"]: c["members"] for c in data["per_club"]} == {"SK Brugge": 1, "SK Gent": 1}
    assert data["per_region"] == [{"name": "Regio Oost", "members": 2}]
    assert [c["name"] for c in data["cleanup"]["pending"]] == ["SK Brugge"]
    headers = {**world.secretariat, "Idempotency-Key": "reminder-1"}
    r = client.post(api(world.fed, "reminders"), headers=headers, json={})
    assert r.status_code == 202
    again = client.post(api(world.fed, "reminders"), headers=headers, json={})
    assert again.json["job_id"] == r.json["job_id"]
    ctx.extensions["federa"].jobs.join()
    from core import mail

    messages, total = mail.list_outbox()
    assert total == 1 and "contact-b@example.org" in messages[0].to


def test_federation_wide_text_search_pages_sorts_and_stays_in_the_federation(client, world):
    """A search across many clubs: the page is cut from a narrow id query, then loaded; order, paging and
    total agree, and members elsewhere never show."""
    person, _ = add_member(world.club_a, world.adult, "Jan", "Peeters", starts=dt.date(2021, 1, 1))
    db.session.add(Membership(org_id=world.club_b.id, person_id=person.id, type_id=world.adult.id,
                              starts_on=dt.date(2022, 1, 1), status="active"))
    db.session.commit()
    add_member(world.club_b, world.adult, "An", "Peeters", starts=dt.date(2023, 1, 1))
    add_member(world.club_a, world.supporter, "Els", "Peetersen", starts=dt.date(2020, 6, 1))
    add_member(world.club_a, world.adult, "Tom", "Maes")
    add_member(world.other_club, world.foreign, "Piet", "Peeters")
    _, ended = add_member(world.club_b, world.adult, "Kim", "Peeters")
    ended.ends_on, ended.status = dt.date(2023, 1, 1), "ended"
    db.session.commit()

    def listed(query):
        r = client.get(api(world.fed, "members") + query, headers=world.secretariat)
        assert r.status_code == 200, r.json
        return r.json["total"], [(i["person"]["first_name"], i["club_name"]) for i in r.json["items"]]

    assert listed("?q=peeters") == (4, [("An", "SK Brugge"), ("Jan", "SK Gent"), ("Jan", "SK Brugge"),
                                        ("Els", "SK Gent")])
    assert listed("?q=peeters&sort=club") == (4, [("An", "SK Brugge"), ("Jan", "SK Brugge"), ("Jan", "SK Gent"),
                                                  ("Els", "SK Gent")])
    assert listed("?q=peeters&sort=-starts_on&page_size=2&page=2") == (4, [("Jan", "SK Gent"), ("Els", "SK Gent")])
    assert listed("?q=peeters&sort=type") == (4, [("Els", "SK Gent"), ("An", "SK Brugge"), ("Jan", "SK Gent"),
                                                  ("Jan", "SK Brugge")])
    assert listed(f"?q=peeters&type_id={world.adult.id}&status=all") == (
        4, [("An", "SK Brugge"), ("Jan", "SK Gent"), ("Jan", "SK Brugge"), ("Kim", "SK Brugge")])
    assert listed("?q=peeters&page=3") == (4, [])
    assert listed(f"?q=peeters&within={world.club_b.id}") == (2, [("An", "SK Brugge"), ("Jan", "SK Brugge")])

