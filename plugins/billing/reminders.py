"""Payment reminders: each issuer sets after how many days past the due date a reminder goes out
(`billing.reminder_days`, e.g. "14,30"); the daily job sends the next one that is due, never the same
one twice (`reminders_sent` counts them), and stops once the invoice is paid or credited."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import unscoped
from core.gates import federa
from core.models import Organisation
from core.settings import get_setting
from plugins.billing import services
from plugins.billing.models import Invoice


def parse_schedule(text: str | None) -> list[int]:
    """"14, 30" -> [14, 30]; anything that is not a positive whole number is ignored."""
    days = set()
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if part.isdigit() and int(part) > 0:
            days.add(int(part))
    return sorted(days)


def reminder_due(invoice: Invoice, schedule: list[int], today: dt.date) -> bool:
    if invoice.status not in services.OPEN_STATUSES or invoice.due_date is None or invoice.kind != "invoice":
        return False
    if invoice.reminders_sent >= len(schedule):
        return False
    if invoice.last_reminder_on == today:
        return False
    return (today - invoice.due_date).days >= schedule[invoice.reminders_sent]


def send_due_reminders(session: Session, today: dt.date) -> dict:
    from plugins.billing import delivery

    sent = without_email = 0
    schedules: dict[int, list[int]] = {}
    with unscoped(session):
        ids = session.execute(sa.select(Invoice.id).where(
            Invoice.kind == "invoice", Invoice.status.in_(services.OPEN_STATUSES), Invoice.due_date < today)
            .order_by(Invoice.id)).scalars().all()
        for invoice_id in ids:
            invoice = session.get(Invoice, invoice_id)
            if invoice.org_id not in schedules:
                issuer = session.get(Organisation, invoice.org_id)
                schedules[invoice.org_id] = parse_schedule(
                    get_setting(session, federa().settings, issuer, "billing.reminder_days"))
            if not reminder_due(invoice, schedules[invoice.org_id], today):
                continue
            if delivery.send_invoice_mail(session, invoice, template="billing/reminder"):
                sent += 1
            else:
                without_email += 1
            invoice.reminders_sent += 1
            invoice.last_reminder_on = today
            session.commit()  # one by one: a retried job does not remind anyone twice
    return {"sent": sent, "without_email": without_email}
