"""Events reach the plugins enabled in the club (the sample plugin records them); "all results of this
filter" runs as a job whose retries and re-sent requests change nothing twice; GDPR hooks."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from core.db import db
from core.gates import call_org_hook, flatten
from core.jobs import job_runner
from core.models import Job
from plugins.membership.models import MailLog, Membership
from tests.plugins.membership.conftest import TODAY, add_member, api, build_world, enable


@pytest.fixture
def sworld(sample_make):
    w = build_world(sample_make)
    enable(w.club_a, plugin="sample")  # the sample plugin listens in club A only
    return w


def events(app, name):
    return [(org_id, payload) for org_id, event, payload in app.extensions["federa"].plugins["sample"].events
            if event == name]


def test_events_reach_plugins_enabled_in_the_club(sample_ctx, sample_client, sworld):
    w = sworld
    r = sample_client.post(api(w.club_a, "memberships"), headers=w.admin_a, json={
        "person": {"first_name": "Els", "last_name": "Claes"}, "type_id": w.adult.id, "starts_on": "2024-01-01"})
    assert r.status_code == 201
    started = events(sample_ctx, "membership.started")
    assert started == [(w.club_a.id, {"membership_id": r.json["id"], "person_id": r.json["person_id"],
                                      "org_id": w.club_a.id, "type_id": w.adult.id, "starts_on": "2024-01-01",
                                      "ends_on": None, "status": "active", "end_reason": None})]
    r = sample_client.post(api(w.club_b, "memberships"), headers=w.contact_b, json={
        "person": {"first_name": "Bo", "last_name": "Bos"}, "type_id": w.adult.id})
    assert r.status_code == 201
    assert len(events(sample_ctx, "membership.started")) == 1, "sample is off in club B: no event there"
    membership_id = events(sample_ctx, "membership.started")[0][1]["membership_id"]
    r = sample_client.post(api(w.club_a, "memberships/change-type"), headers=w.admin_a,
                           json={"membership_ids": [membership_id], "type_id": w.supporter.id})
    assert r.status_code == 200
    assert events(sample_ctx, "membership.changed")[0][1]["changes"] == {"type_id": [w.adult.id, w.supporter.id]}
    sample_client.post(api(w.club_a, "memberships/end"), headers=w.admin_a, json={
        "membership_ids": [membership_id], "end_date": TODAY.isoformat(), "reason": "gestopt"})
    ended = events(sample_ctx, "membership.ended")
    assert [(p["membership_id"], p["ends_on"], p["end_reason"]) for _, p in ended] == [
        (membership_id, TODAY.isoformat(), "gestopt")]


def test_ending_all_results_of_a_filter_runs_as_an_idempotent_job(sample_ctx, sample_client, sworld):
    w = sworld
    mine = [add_member(w.club_a, w.adult, f"P{i}", f"Lid{i}")[1] for i in range(4)]
    _, young = add_member(w.club_a, w.youth, "Kim", "Kind", birth=dt.date(2014, 1, 1))
    _, elsewhere = add_member(w.club_b, w.adult, "Bo", "Bos")
    headers = {**w.admin_a, "Idempotency-Key": "clean-up-2025"}
    body = {"filter": {"type_id": str(w.adult.id)}, "end_date": TODAY.isoformat(), "reason": "jaarlijkse opkuis"}
    r = sample_client.post(api(w.club_a, "memberships/end"), headers=headers, json=body)
    assert r.status_code == 202, r.json
    job_id = r.json["job_id"]
    again = sample_client.post(api(w.club_a, "memberships/end"), headers=headers, json=body)
    assert again.json["job_id"] == job_id
    sample_ctx.extensions["federa"].jobs.join()
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job.status == "done" and job.result == {"ended": 4, "skipped": 0} and job.percent == 100
    assert {m.status for m in mine} == {"ended"}
    assert young.ends_on is None and elsewhere.ends_on is None
    assert len(events(sample_ctx, "membership.ended")) == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
    # A retry of the finished job, or running the job function again, ends nothing twice.
    job_runner(sample_ctx).execute("membership.end_memberships", job_id,
                                   {"filters": {"type_id": str(w.adult.id)}, "end_date": TODAY.isoformat(),
                                    "reason": "x"})
    from plugins.membership import services

    again = services.end_filtered(db.session, w.club_a, {"type_id": str(w.adult.id), "status": "all"},
                                  TODAY, "x")
    assert again.done == [] and len(again.skipped) == 4
    assert len(events(sample_ctx, "membership.ended")) == 4


def test_a_bad_filter_is_refused_before_any_job(sample_ctx, sample_client, sworld):
    r = sample_client.post(api(sworld.club_a, "memberships/end"), headers=sworld.admin_a,
                           json={"filter": {"status": "gone"}, "end_date": TODAY.isoformat(), "reason": "x"})
    assert r.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_bulk_email_job_sends_once_per_person_even_when_retried(sample_ctx, sample_client, sworld):
    w = sworld
    add_member(w.club_a, w.adult, "An", "Aerts", email="an@example.org")
    add_member(w.club_a, w.adult, "Zonder", "Mail")
    r = sample_client.post(api(w.club_a, "emails"), headers=w.admin_a,
                           json={"filter": {}, "subject": "Training", "body": "Morgen training om 19u."})
    assert r.status_code == 202
    sample_ctx.extensions["federa"].jobs.join()
    from core import mail

    assert mail.list_outbox()[1] == 1
    job = db.session.get(Job, r.json["job_id"])
    assert job.result == {"sent": 1, "without_email": 1}
    # A re-run of the same job (a retry after a crash) skips who already has the mail.
    job.status = "running"
    db.session.commit()
    from plugins.membership.tasks import send_email_job
    from core.jobs import JobContext

    send_email_job(JobContext(job=job, session=db.session, org=w.club_a, app=sample_ctx), filters={},
                   subject="Training", body="x")
    assert mail.list_outbox()[1] == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MailLog)) == 1


def test_person_export_and_erase_hooks(sample_ctx, sworld):
    w = sworld
    person, m = add_member(w.club_a, w.adult, "An", "Aerts")
    m.iban, m.end_reason, m.ends_on, m.status = "BE48320070184927", "verhuisd naar Spanje", dt.date(2024, 1, 1), "ended"
    db.session.commit()
    exported = flatten([call_org_hook("person_export", w.club_a, person=person)])
    data = next(item for item in exported if "memberships" in item)
    assert data["memberships"][0]["iban"] == "BE48320070184927"
    results = call_org_hook("person_erase", w.club_a, person=person)
    assert any(r.get("iban") == "deleted" for r in results)
    db.session.expire_all()
    assert m.iban is None and m.end_reason == "erased" and m.starts_on == dt.date(2020, 1, 1)


def test_profile_section_and_menu(sample_ctx, sworld):
    from core.access import load_access

    w = sworld
    person, _ = add_member(w.club_a, w.adult, "An", "Aerts")
    access = load_access(db.session, w.admin_a_user, sample_ctx.extensions["federa"].permissions)
    with sample_ctx.test_request_context():
        sections = flatten(call_org_hook("member_profile_sections", w.club_a, person=person, access=access))
        items = flatten(call_org_hook("menu_items", w.club_a, access=access))
    section = next(s for s in sections if s.plugin == "membership")
    assert "Volwassene" in section.html and "SK Gent" in section.html
    assert "membership_web.members" in [i.endpoint for i in items]
    assert "membership_web.overview" not in [i.endpoint for i in items]  # a club has no federation overview
