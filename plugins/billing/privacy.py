"""A person's invoices: the person page, the member app, and the GDPR export and erasure.

Erasure keeps issued invoices and credit notes, with the recipient's name and address as they were,
for the legal retention period: accounting documents are kept 7 years (Belgian Code of Economic Law
III.86/88). Drafts and cancelled invoices addressed to the person are deleted; settled invoices older
than the retention period lose the recipient's name, address and e-mail.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import unscoped
from core.models import Organisation
from plugins.billing import services
from plugins.billing.models import Invoice

RETENTION_YEARS = 7


def _subtree(org: Organisation):
    return sa.select(Organisation.id).where(Organisation.path.startswith(org.path))


def invoices_of_person(session: Session, org: Organisation, person_id: int) -> list[Invoice]:
    """Invoices issued in `org`'s subtree to `person_id`, newest first."""
    with unscoped(session):
        return list(session.execute(sa.select(Invoice).where(
            Invoice.recipient_person_id == person_id, Invoice.org_id.in_(_subtree(org)))
            .order_by(Invoice.id.desc())).scalars())


def export_person(session: Session, org: Organisation, person) -> dict:
    return {"invoices": [
        {"id": i.id, "kind": i.kind, "number": i.number, "status": services.effective_status(i),
         "issue_date": i.issue_date.isoformat() if i.issue_date else None,
         "due_date": i.due_date.isoformat() if i.due_date else None, "total": str(i.total),
         "amount_paid": str(i.amount_paid), "structured_communication": services.format_structured_ref(i.structured_ref),
         "recipient_name": i.recipient_name, "recipient_address": " ".join(
             x for x in (i.recipient_street, i.recipient_postal_code, i.recipient_city) if x) or None,
         "recipient_email": i.recipient_email,
         "lines": [{"description": l.description, "quantity": str(l.quantity), "unit_price": str(l.unit_price)}
                   for l in i.lines],
         "payments": [{"amount": str(p.amount), "paid_on": p.paid_on.isoformat(), "method": p.method}
                      for p in i.payments]}
        for i in invoices_of_person(session, org, person.id)]}


def erase_person(session: Session, org: Organisation, person, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    limit = today.replace(year=today.year - RETENTION_YEARS)
    deleted = anonymised = kept = 0
    for invoice in invoices_of_person(session, org, person.id):
        if invoice.status in ("draft", "cancelled") and invoice.kind == "invoice" and not invoice.payments:
            session.delete(invoice)
            deleted += 1
        elif invoice.issue_date and invoice.issue_date < limit and invoice.status in ("paid", "credited"):
            invoice.recipient_name = "—"
            invoice.recipient_street = invoice.recipient_postal_code = invoice.recipient_city = None
            invoice.recipient_email = None
            anonymised += 1
        else:
            kept += 1
    session.flush()
    return {"invoices_deleted": deleted, "invoices_anonymised": anonymised, "invoices_kept": kept,
            "kept_because": f"accounting documents are kept {RETENTION_YEARS} years "
                            "(Code of Economic Law III.86/88)"}


def feed_items(session: Session, org: Organisation, person) -> list:
    """The member app's invoice list: invoices `org` itself issued to the person (not drafts)."""
    from flask import url_for
    from flask_babel import gettext as _

    from mobile_api.feed import FeedItem

    with unscoped(session):
        invoices = session.execute(sa.select(Invoice).where(
            Invoice.org_id == org.id, Invoice.recipient_person_id == person.id,
            Invoice.status.notin_(("draft", "cancelled"))).order_by(Invoice.id.desc()).limit(100)).scalars()
        items = []
        for i in invoices:
            status = services.effective_status(i)
            items.append(FeedItem(
                title=(_("Credit note %(number)s", number=i.number) if i.kind == "credit_note"
                       else _("Invoice %(number)s", number=i.number)), kind="invoice",
                id=f"invoice:{i.id}", plugin="billing", summary=services.format_structured_ref(i.structured_ref),
                download_url=url_for("billing_me.MyInvoicePdf", invoice_id=i.id), content_type="application/pdf",
                payment_url=i.payment_url if status in ("issued", "partly_paid", "overdue") else None,
                amount=i.open_amount if i.kind == "invoice" and status != "credited" else i.total,
                status=status, due_on=i.due_date,
                published_at=i.issued_at, in_feed=status in ("issued", "overdue")))
    return items
