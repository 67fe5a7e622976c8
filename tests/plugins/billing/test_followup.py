"""After issuing: reminders on the issuer's schedule, reports with Excel, and the GDPR export and erasure (issued invoices are kept for the legal retention period)."""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa
from flask import current_app
from openpyxl import load_workbook

from core.db import db
from core.gates import call_org_hook, federa
from core.mail import outbox_dir
from core.settings import set_setting
from plugins.billing import reminders
from plugins.billing.models import Invoice
from tests.plugins.billing.conftest import TODAY, api, manual


def issue(client, org, headers, body):
    r = client.post(api(org, "invoices"), headers=headers, json=body)
    return client.post(api(org, "invoices", r.json["id"], "issue"), headers=headers).json


def mails_to(address: str) -> int:
    return sum(1 for p in outbox_dir().glob("*.eml") if f"To: {address}".encode() in p.read_bytes())


def test_reminders_follow_the_schedule_and_stop_when_paid(client, world):
    set_setting(db.session, federa().settings, world.club_a, "billing.reminder_days", "14, 30")
    db.session.commit()
    inv = issue(client, world.club_a, world.admin_a, manual(world.jan))
    current_app.extensions["federa"].jobs.join()
    assert mails_to("jan@example.org") == 1  # the invoice itself
    due = db.session.get(Invoice, inv["id"]).due_date
    assert reminders.send_due_reminders(db.session, due + dt.timedelta(days=13)) == {"sent": 0, "without_email": 0}
    assert reminders.send_due_reminders(db.session, due + dt.timedelta(days=14))["sent"] == 1
    assert reminders.send_due_reminders(db.session, due + dt.timedelta(days=20))["sent"] == 0
    assert mails_to("jan@example.org") == 2
    r = client.get(api(world.club_a, "invoices") + "?status=overdue", headers=world.admin_a)
    assert r.json["total"] == 0  # not overdue yet today
    client.post(api(world.club_a, "invoices", inv["id"], "payments"), headers=world.admin_a,
                json={"amount": inv["total"], "paid_on": TODAY.isoformat()})
    assert reminders.send_due_reminders(db.session, due + dt.timedelta(days=31))["sent"] == 0
    assert mails_to("jan@example.org") == 2
    assert reminders.parse_schedule("30, x, 14,,-3") == [14, 30]


def test_overdue_filter_and_reports_per_club(client, world):
    a = issue(client, world.club_a, world.admin_a, manual(world.jan, due_date="2020-01-01"))
    issue(client, world.club_b, world.admin_b, manual(world.jan))
    db.session.execute(sa.update(Invoice).where(Invoice.id == a["id"]).values(due_date=TODAY - dt.timedelta(days=3)))
    db.session.commit()
    r = client.get(api(world.club_a, "invoices") + "?status=overdue", headers=world.admin_a)
    assert [i["id"] for i in r.json["items"]] == [a["id"]] and r.json["items"][0]["status"] == "overdue"
    r = client.get(api(world.fed, "reports"), headers=world.secretariat)
    assert r.status_code == 200
    rows = {row["name"]: row for row in r.json["issuers"]}
    assert rows["SK Gent"]["overdue"] == "30.25" and rows["SK Brugge"]["overdue"] == "0.00"
    assert rows["SK Brugge"]["open"] == "30.25" and r.json["total"]["open"] == "60.50"
    # A club's report shows only itself.
    r = client.get(api(world.club_b, "reports"), headers=world.admin_b)
    assert [row["name"] for row in r.json["issuers"]] == ["SK Brugge"]
    r = client.get(api(world.fed, "reports.xlsx"), headers=world.secretariat)
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert [c.value for c in sheet[1]][:3] == ["Organisation", "Invoices", "Open"]
    assert {row[0].value: row[3].value for row in sheet.iter_rows(min_row=2)}["SK Gent"] == 30.25


def test_export_and_erase_keep_issued_invoices(client, world):
    issued = issue(client, world.club_a, world.admin_a, manual(world.jan))
    draft = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan)).json
    exported = [x for x in call_org_hook("person_export", world.club_a, person=world.jan) if x]
    invoices = next(x["invoices"] for x in exported if "invoices" in x)
    assert {i["number"] for i in invoices} == {issued["number"], None}
    result = next(x for x in call_org_hook("person_erase", world.club_a, person=world.jan) if x and
                  "invoices_kept" in x)
    db.session.commit()
    assert result["invoices_deleted"] == 1 and result["invoices_kept"] == 1 and "7 years" in result["kept_because"]
    kept = db.session.get(Invoice, issued["id"])
    assert kept is not None and kept.recipient_name == "Jan Peeters"
    assert db.session.get(Invoice, draft["id"]) is None


def test_report_names_are_text_never_formulas(client, world):
    world.club_b.name = '=HYPERLINK("http://x.example","klik")'
    db.session.commit()
    issue(client, world.club_b, world.admin_b, manual(world.jan))
    r = client.get(api(world.fed, "reports.xlsx"), headers=world.secretariat)
    sheet = load_workbook(io.BytesIO(r.data)).active
    cells = {row[0].value: row[0] for row in sheet.iter_rows(min_row=2)}
    assert cells[world.club_b.name].data_type == "s"
