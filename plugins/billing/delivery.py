"""Getting an issued invoice to its recipient: the e-mail with the PDF, the online payment link
(Mollie) and the Peppol e-invoice through an access point.

Outside services sit behind small interfaces kept in `app.extensions["billing"]` so tests (and other
deployments) swap them: `mollie` (a `MollieGateway`) and `access_point` (`ubl.AccessPoint`; the default
drops validated documents into `<data dir>/peppol-outbox/` for an access point that picks them up).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from flask import current_app
from flask_babel import gettext
from sqlalchemy.orm import Session

from core import mail
from core.db import unscoped, utcnow
from core.gates import federa
from core.models import Organisation, Person
from core.services import DomainError
from core.settings import get_setting
from plugins.billing import documents, services, ubl
from plugins.billing.models import Invoice

log = logging.getLogger(__name__)


# --- Mollie ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MolliePayment:
    id: str
    status: str  # open, pending, authorized, paid, canceled, expired, failed
    amount: Decimal
    currency: str
    metadata: dict
    checkout_url: str | None = None


class MollieGateway(Protocol):
    def create_payment(self, api_key: str, amount: Decimal, description: str, redirect_url: str,
                       webhook_url: str, metadata: dict) -> MolliePayment: ...

    def get_payment(self, api_key: str, payment_id: str) -> MolliePayment: ...


class MollieApiGateway:
    """The real Mollie API through mollie-api-python."""

    @staticmethod
    def _client(api_key: str):
        from mollie.api.client import Client

        client = Client()
        client.set_api_key(api_key)
        return client

    @staticmethod
    def _as_payment(p) -> MolliePayment:
        return MolliePayment(id=p.id, status=p.status, amount=Decimal(p.amount["value"]),
                             currency=p.amount["currency"], metadata=dict(p.metadata or {}),
                             checkout_url=p.checkout_url)

    def create_payment(self, api_key, amount, description, redirect_url, webhook_url, metadata):
        payment = self._client(api_key).payments.create({
            "amount": {"currency": "EUR", "value": f"{amount:.2f}"}, "description": description,
            "redirectUrl": redirect_url, "webhookUrl": webhook_url, "metadata": metadata})
        return self._as_payment(payment)

    def get_payment(self, api_key, payment_id):
        return self._as_payment(self._client(api_key).payments.get(payment_id))


def extension() -> dict:
    ext = current_app.extensions.setdefault("billing", {})
    if "mollie" not in ext:
        ext["mollie"] = MollieApiGateway()
    if "access_point" not in ext:
        ext["access_point"] = ubl.FolderDropAccessPoint(Path(current_app.config["DATA_DIR"]) / "peppol-outbox")
    return ext


def _setting(session: Session, org: Organisation, key: str):
    return get_setting(session, federa().settings, org, key)


def issuer_of(session: Session, invoice: Invoice) -> Organisation:
    with unscoped(session):
        return session.get(Organisation, invoice.org_id)


def ensure_payment_link(session: Session, invoice: Invoice) -> str | None:
    """A Mollie payment for the open amount, when the issuer set a Mollie API key; made once per invoice."""
    if invoice.payment_url or invoice.kind != "invoice" or invoice.open_amount <= 0:
        return invoice.payment_url
    issuer = issuer_of(session, invoice)
    api_key = _setting(session, issuer, "billing.mollie_api_key")
    if not api_key:
        return None
    # Absolute links from BASE_URL: this runs in a job, outside any request.
    base = current_app.config["BASE_URL"].rstrip("/")
    payment = extension()["mollie"].create_payment(
        api_key, invoice.open_amount, f"{issuer.name} {invoice.number}"[:255],
        redirect_url=current_app.config.get("BILLING_PAYMENT_DONE_URL") or f"{base}/",
        webhook_url=f"{base}/billing/mollie/webhook",
        metadata={"invoice_id": invoice.id, "org_id": invoice.org_id})
    invoice.mollie_payment_id = payment.id
    invoice.payment_url = payment.checkout_url
    session.flush()
    return invoice.payment_url


def handle_mollie_webhook(session: Session, payment_id: str) -> str:
    """Re-fetch the payment from Mollie and book it exactly once. Returns what happened (for the log):
    "unknown" (no invoice of ours has it), "foreign" (Mollie says it belongs elsewhere), "booked",
    "already booked" or the payment's status when it is not paid."""
    if not payment_id or len(payment_id) > 40:
        return "unknown"
    with unscoped(session):
        invoice = session.query(Invoice).filter(Invoice.mollie_payment_id == payment_id).one_or_none()
        if invoice is None:
            return "unknown"
        issuer = issuer_of(session, invoice)
        api_key = _setting(session, issuer, "billing.mollie_api_key")
        if not api_key:
            return "unknown"
        payment = extension()["mollie"].get_payment(api_key, payment_id)
        if payment.id != payment_id or str(payment.metadata.get("invoice_id")) != str(invoice.id) \
                or payment.currency != invoice.currency:
            return "foreign"
        if payment.status != "paid":
            return payment.status
        booked = services.register_payment(session, invoice, payment.amount, utcnow().date(), "mollie",
                                           reference=payment_id, external_id=f"mollie:{payment_id}")
        return "booked" if booked else "already booked"


# --- e-mail and Peppol ------------------------------------------------------------------------------

def recipient_language(session: Session, invoice: Invoice) -> str:
    if invoice.recipient_person_id:
        person = session.get(Person, invoice.recipient_person_id)
        return (person.preferred_language if person else None) or "nl"
    return "nl"


def send_invoice_mail(session: Session, invoice: Invoice, template: str = "billing/invoice") -> bool:
    """E-mail the invoice (with its PDF) to the recipient's address; False when there is none."""
    if not invoice.recipient_email:
        return False
    issuer = issuer_of(session, invoice)
    context = {"invoice": invoice, "issuer": issuer, "ogm": services.format_structured_ref(invoice.structured_ref)}
    message = mail.build_message(invoice.recipient_email, template, context, recipient_language(session, invoice))
    pdf = documents.invoice_pdf(session, invoice)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{invoice.number}.pdf")
    mail.send_message(message)
    return True


def send_peppol(session: Session, invoice: Invoice) -> str | None:
    """Build, validate and send the e-invoice to an organisation with a KBO number; None when not due."""
    if invoice.peppol_message_id or invoice.recipient_org_id is None or not invoice.recipient_kbo:
        return invoice.peppol_message_id
    xml = documents.invoice_ubl(session, invoice)
    fatal = ubl.fatal_findings(ubl.validate(xml))
    if fatal:
        raise DomainError("The e-invoice does not pass the Peppol rules: " + "; ".join(
            f"{f.rule_id}: {f.message}" for f in fatal[:5]), field="ubl")
    endpoint = "0208:" + ubl.normalise_kbo(invoice.recipient_kbo)
    invoice.peppol_message_id = extension()["access_point"].send(xml, endpoint)
    session.flush()
    return invoice.peppol_message_id


def deliver(session: Session, invoice: Invoice, peppol: bool = True) -> dict:
    """Everything after issuing, each step once: payment link, e-mail, e-invoice."""
    result = {"payment_url": ensure_payment_link(session, invoice)}
    session.commit()
    if invoice.emailed_at is None:
        if send_invoice_mail(session, invoice):
            invoice.emailed_at = utcnow()
            session.commit()
    result["emailed"] = invoice.emailed_at is not None
    if peppol:
        result["peppol_message_id"] = send_peppol(session, invoice)
        session.commit()
    return result


def after_issue(session: Session, invoice: Invoice) -> None:
    """Queue the delivery of a freshly issued invoice (in the background: mail servers and Mollie are slow)."""
    from core.jobs import job_runner

    job_runner().enqueue(session, "billing.deliver_invoice", org_id=invoice.org_id,
                         title=gettext("Send invoice %(number)s", number=invoice.number), idempotency_key=f"billing.deliver:{invoice.id}",
                         invoice_id=invoice.id)
    session.commit()
