"""Membership invoice runs: preview, then issue as a job; idempotent per membership and season; members
who join later are picked up by the next run; federation to clubs per type or per member."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app

from core.db import db
from core.gates import federa
from core.models import Job
from core.settings import set_setting
from plugins.billing.models import Invoice, MembershipCharge
from tests.plugins.billing.conftest import ADDRESS, api
from tests.plugins.membership.conftest import add_member


def run(client, world, org, headers, target, preview, key=None):
    h = {**headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(api(org, "runs"), headers=h, json={"season_id": world.season.id, "target": target,
                                                          "preview": preview})


def wait():
    current_app.extensions["federa"].jobs.join()


def test_club_run_preview_then_issue_then_only_newcomers(client, world):
    add_member(world.club_a, world.youth, "An", "Claes", **ADDRESS)
    # Jan also has a supporter membership: one invoice with two lines.
    add_member(world.club_a, world.supporter, "Jan2", "Zonder", street=None)  # no address: listed, not invoiced
    db.session.add(type(world.jan_m)(org_id=world.club_a.id, person_id=world.jan.id, type_id=world.supporter.id,
                                     starts_on=dt.date(2020, 1, 1), status="active"))
    db.session.commit()
    r = run(client, world, world.club_a, world.admin_a, "members", True)
    assert r.status_code == 200, r.json
    by_name = {i["recipient_name"]: i for i in r.json["invoices"]}
    assert by_name["Jan Peeters"]["total"] == "40.00" and len(by_name["Jan Peeters"]["lines"]) == 2
    assert by_name["An Claes"]["total"] == "15.00" and by_name["Jan2 Zonder"]["problem"] == "no address"
    assert r.json["count"] == 2 and r.json["total"] == "55.00"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0  # a preview makes nothing
    r = run(client, world, world.club_a, world.admin_a, "members", False, key="k1")
    assert r.status_code == 202 and r.json["job_id"]
    again = run(client, world, world.club_a, world.admin_a, "members", False, key="k1")  # double click
    assert again.json["run_id"] == r.json["run_id"]
    wait()
    job = db.session.get(Job, r.json["job_id"])
    assert job.status == "done" and job.progress == job.total == 2
    invoices = db.session.execute(sa.select(Invoice).order_by(Invoice.sequence)).scalars().all()
    assert [(i.status, i.number, i.total) for i in invoices] == [
        ("issued", f"{dt.date.today().year}-00001", invoices[0].total),
        ("issued", f"{dt.date.today().year}-00002", invoices[1].total)]
    assert sorted(str(i.total) for i in invoices) == ["15.00", "40.00"]
    from plugins.billing import services

    for i in invoices:  # issued in bulk, but the same as one by one
        assert services.parse_structured_ref(i.structured_ref) == i.structured_ref == services.structured_ref_for(i.id)
        assert i.recipient_street and i.due_date > i.issue_date and i.lines and i.total == sum(l.net_amount for l in i.lines)
    jan = next(i for i in invoices if i.recipient_person_id == world.jan.id)
    assert jan.recipient_name == "Jan Peeters" and jan.emailed_at is not None  # delivered by the follow-up job
    # Running again invoices nobody twice; a newcomer is picked up.
    add_member(world.club_a, world.adult, "Els", "Nieuw", **ADDRESS)
    r = run(client, world, world.club_a, world.admin_a, "members", True)
    assert [i["recipient_name"] for i in r.json["invoices"] if not i["problem"]] == ["Els Nieuw"]
    run(client, world, world.club_a, world.admin_a, "members", False)
    wait()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MembershipCharge)) == 4


def test_federation_invoices_its_clubs_per_type_or_per_member(client, world):
    add_member(world.club_a, world.youth, "An", "Claes")
    add_member(world.club_a, world.adult, "Piet", "Claes")
    add_member(world.club_b, world.adult, "Mia", "Brugs")
    add_member(world.club_a, world.supporter, "Steun", "Er")  # the club's own type: not the federation's
    r = run(client, world, world.fed, world.secretariat, "clubs", True)
    by_club = {i["recipient_name"]: i for i in r.json["invoices"]}
    assert set(by_club) == {"SK Gent", "SK Brugge"}
    assert sorted((l["description"], l["quantity"]) for l in by_club["SK Gent"]["lines"]) == [
        ("Jeugd 2025-2026", "1"), ("Volwassene 2025-2026", "2")]
    assert by_club["SK Gent"]["total"] == "75.00" and by_club["SK Brugge"]["total"] == "30.00"
    set_setting(db.session, federa().settings, world.fed, "billing.federation_invoice_mode", "per_member")
    db.session.commit()
    r = run(client, world, world.fed, world.secretariat, "clubs", True)
    gent = next(i for i in r.json["invoices"] if i["recipient_name"] == "SK Gent")
    assert len(gent["lines"]) == 3 and any("Piet Claes" in l["description"] for l in gent["lines"])
    run(client, world, world.fed, world.secretariat, "clubs", False)
    wait()
    # The club sees the federation's invoice among its own.
    items = client.get(api(world.club_a, "invoices"), headers=world.admin_a).json["items"]
    assert [(i["issuer_name"], i["total"], i["received"]) for i in items] == [("Sportfederatie", "75.00", True)]


def test_bad_runs_are_refused(client, world):
    r = client.post(api(world.club_a, "runs"), headers=world.admin_a, json={"season_id": 99999, "target": "members"})
    assert r.status_code == 404 and "season_id" in r.json["errors"]["json"]
    r = client.post(api(world.club_a, "runs"), headers=world.admin_a, json={"season_id": world.season.id,
                                                                           "target": "everyone"})
    assert r.status_code == 422 and "target" in r.json["errors"]["json"]
    world.club_b.iban = None
    db.session.commit()
    r = run(client, world, world.club_b, world.admin_b, "members", False)
    assert r.status_code == 422 and "iban" in r.json["errors"]["json"]
    assert client.post(api(world.club_a, "runs"), headers=world.member_a,
                       json={"season_id": world.season.id, "target": "members"}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_clubs_follow_the_federation_invoice_date(client, world):
    date = dt.date.today() - dt.timedelta(days=2)
    set_setting(db.session, federa().settings, world.fed, "billing.run_invoice_date", date.isoformat())
    db.session.commit()
    r = run(client, world, world.club_a, world.admin_a, "members", True)
    assert r.json["invoice_date"] == date.isoformat()
    run(client, world, world.club_a, world.admin_a, "members", False)
    wait()
    invoice = db.session.execute(sa.select(Invoice)).scalar_one()
    assert invoice.issue_date == date and invoice.due_date == date + dt.timedelta(days=30)
    set_setting(db.session, federa().settings, world.club_b, "billing.run_invoice_date", "31/12/2026")
    db.session.commit()
    r = run(client, world, world.club_b, world.admin_b, "members", False)
    assert r.status_code == 422 and "billing.run_invoice_date" in r.json["errors"]["json"]
