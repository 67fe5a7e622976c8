"""Billing reports: open, overdue and paid amounts per issuing organisation in a subtree (a federation
sees each club below it), and what a federation invoiced to each club; Excel export."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core import spreadsheets
from core.db import unscoped
from core.models import Organisation
from plugins.billing.models import Invoice

OPEN = ("issued", "partly_paid")
ZERO = Decimal("0.00")


def _row(name: str, org_id: int) -> dict:
    return {"org_id": org_id, "name": name, "invoices": 0, "open": ZERO, "overdue": ZERO, "paid": ZERO,
            "credited": ZERO}


def _add(row: dict, status: str, due: dt.date | None, count: int, open_amount, paid, credited, today) -> None:
    row["invoices"] += count
    row["paid"] += Decimal(paid or 0)
    row["credited"] += Decimal(credited or 0)
    if status in OPEN:
        row["open"] += Decimal(open_amount or 0)
        if due is not None and due < today:
            row["overdue"] += Decimal(open_amount or 0)


def report(session: Session, org: Organisation, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    I = Invoice
    open_amount = I.total - I.amount_paid - I.amount_credited
    # Grouped by its label: PostgreSQL does not see two renderings of the expression as the same.
    late = (I.due_date < today).label("late")
    with unscoped(session):
        subtree = sa.select(Organisation.id, Organisation.name).where(Organisation.path.startswith(org.path))
        names = dict(session.execute(subtree).all())
        grouped = session.execute(
            sa.select(I.org_id, I.status, late, sa.func.count(), sa.func.sum(open_amount),
                      sa.func.sum(I.amount_paid), sa.func.sum(I.amount_credited))
            .where(I.org_id.in_(list(names)), I.kind == "invoice", I.status.notin_(("draft", "cancelled")))
            .group_by(I.org_id, I.status, late)).all()
        by_recipient = session.execute(
            sa.select(I.recipient_org_id, I.status, late, sa.func.count(), sa.func.sum(open_amount),
                      sa.func.sum(I.amount_paid), sa.func.sum(I.amount_credited))
            .where(I.org_id == org.id, I.recipient_org_id.is_not(None), I.kind == "invoice",
                   I.status.notin_(("draft", "cancelled")))
            .group_by(I.recipient_org_id, I.status, late)).all()
        recipient_names = dict(session.execute(sa.select(Organisation.id, Organisation.name).where(
            Organisation.id.in_({r[0] for r in by_recipient}))).all()) if by_recipient else {}
    issuers: dict[int, dict] = {}
    total = _row(org.name, org.id)
    for org_id, status, is_late, count, open_sum, paid, credited in grouped:
        row = issuers.setdefault(org_id, _row(names[org_id], org_id))
        due = today - dt.timedelta(days=1) if is_late else None
        _add(row, status, due, count, open_sum, paid, credited, today)
        _add(total, status, due, count, open_sum, paid, credited, today)
    recipients: dict[int, dict] = {}
    for org_id, status, is_late, count, open_sum, paid, credited in by_recipient:
        row = recipients.setdefault(org_id, _row(recipient_names.get(org_id, "?"), org_id))
        _add(row, status, today - dt.timedelta(days=1) if is_late else None, count, open_sum, paid, credited, today)
    return {"total": total, "issuers": sorted(issuers.values(), key=lambda r: r["name"]),
            "recipients": sorted(recipients.values(), key=lambda r: r["name"])}


def report_xlsx(data: dict, labels: dict) -> bytes:
    """The report as Excel: a sheet of issuing organisations and one of invoiced organisations, amounts as
    numbers in the money format."""
    columns = ["name", "invoices", "open", "overdue", "paid", "credited"]
    kinds = [spreadsheets.TEXT, spreadsheets.NUMBER] + [spreadsheets.MONEY] * 4
    out = io.BytesIO()
    with spreadsheets.Workbook(out) as book:
        for key in ("issuers", "recipients"):
            sheet = book.sheet(labels[key], [labels[c] for c in columns], kinds)
            for row in data[key]:
                sheet.append([row[c] for c in columns])
    return out.getvalue()
