"""The documents of an invoice: the PDF (WeasyPrint) with the issuer's logo and a SEPA EPC QR code
(segno), and the Peppol BIS Billing 3.0 UBL (built and validated by `plugins.billing.ubl`)."""
from __future__ import annotations

import base64
import io

from flask import render_template
from sqlalchemy.orm import Session

from core.db import unscoped
from core.models import Organisation
from core.services import Conflict, DomainError
from plugins.billing import services, ubl
from plugins.billing.models import Invoice


def issuer_of(session: Session, invoice: Invoice) -> Organisation:
    with unscoped(session):
        return session.get(Organisation, invoice.org_id)


def epc_qr_svg(invoice: Invoice, issuer: Organisation) -> str | None:
    """The SEPA EPC QR ("scan to pay") for the open amount, the structured communication as reference;
    None when nothing is left to pay or the issuer has no IBAN."""
    import segno.helpers

    if invoice.kind != "invoice" or invoice.open_amount <= 0 or not issuer.iban:
        return None
    qr = segno.helpers.make_epc_qr(name=issuer.name[:70], iban=issuer.iban.replace(" ", ""),
                                   amount=invoice.open_amount, reference=invoice.structured_ref,
                                   bic=(issuer.bic or None))
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=3, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def logo_data_uri(issuer: Organisation, logo_key: str | None) -> str | None:
    if not logo_key:
        return None
    from core.files import storage

    data = storage().read(logo_key)
    if not data:
        return None
    mime = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def invoice_html(session: Session, invoice: Invoice, logo_key: str | None = None) -> str:
    issuer = issuer_of(session, invoice)
    corrects = None
    if invoice.corrects_id:
        with unscoped(session):
            corrects = session.get(Invoice, invoice.corrects_id)
    return render_template(
        "billing/pdf/invoice.html", invoice=invoice, issuer=issuer, corrects=corrects,
        vat_groups=services.vat_breakdown(invoice.lines), qr_svg=epc_qr_svg(invoice, issuer),
        logo=logo_data_uri(issuer, logo_key), ogm=services.format_structured_ref(invoice.structured_ref))


def invoice_pdf(session: Session, invoice: Invoice) -> bytes:
    """The PDF of an issued invoice, with the issuer's logo (setting `billing.logo_file`) when it has one."""
    from weasyprint import HTML

    from core.gates import federa
    from core.settings import get_setting

    if invoice.status in ("draft", "cancelled"):
        raise Conflict("Only issued invoices have a PDF.", field="status")
    logo_key = get_setting(session, federa().settings, issuer_of(session, invoice), "billing.logo_file") or None
    return HTML(string=invoice_html(session, invoice, logo_key)).write_pdf()


# --- Peppol UBL ------------------------------------------------------------------------------------------

def _party(name: str, street, postal_code, city, country, kbo, email=None, vat: bool = False) -> ubl.Party:
    kbo_digits = ubl.normalise_kbo(kbo)
    return ubl.Party(name=name, address=ubl.Address(country_code=country or "BE", street=street, city=city,
                                                    postal_code=postal_code),
                     kbo=kbo_digits, vat_number=f"BE{kbo_digits}" if vat and kbo_digits else None,
                     contact=ubl.Contact(email=email) if email else None)


def ubl_document(session: Session, invoice: Invoice) -> ubl.Document:
    """The invoice as `ubl.Document`; only issued invoices to an organisation with a KBO number qualify."""
    if invoice.status in ("draft", "cancelled"):
        raise Conflict("Only issued invoices have an e-invoice.", field="status")
    if invoice.recipient_org_id is None or not invoice.recipient_kbo:
        raise DomainError("Peppol e-invoices go to organisations with a KBO number only.", field="recipient_org_id")
    issuer = issuer_of(session, invoice)
    if not issuer.kbo_number:
        raise DomainError("The issuing organisation has no KBO number.", field="kbo_number")
    vat_registered = any(line.vat_category != "E" and line.vat_category != "O" for line in invoice.lines)
    seller = _party(issuer.name, issuer.street, issuer.postal_code, issuer.city, issuer.country, issuer.kbo_number,
                    issuer.email, vat=vat_registered)
    buyer = _party(invoice.recipient_name, invoice.recipient_street, invoice.recipient_postal_code,
                   invoice.recipient_city, invoice.recipient_country, invoice.recipient_kbo, invoice.recipient_email)
    reasons = {line.vat_category: line.vat_exemption_reason for line in invoice.lines if line.vat_exemption_reason}
    corrects = None
    if invoice.corrects_id:
        with unscoped(session):
            corrects = session.get(Invoice, invoice.corrects_id)
    return ubl.Document(
        number=invoice.number, issue_date=invoice.issue_date, seller=seller, buyer=buyer,
        kind=ubl.CREDIT_NOTE if invoice.kind == "credit_note" else ubl.INVOICE,
        due_date=invoice.due_date if invoice.kind == "invoice" else None, currency=invoice.currency,
        note=invoice.note,
        lines=[ubl.Line(description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                        vat_category=line.vat_category, vat_rate=line.vat_rate) for line in invoice.lines],
        payment_means=ubl.PaymentMeans(iban=issuer.iban.replace(" ", ""), code="30", bic=issuer.bic or None,
                                       payment_id=services.format_structured_ref(invoice.structured_ref),
                                       account_name=issuer.name) if invoice.kind == "invoice" else None,
        billing_reference=corrects.number if corrects else None,
        billing_reference_date=corrects.issue_date if corrects else None,
        exemption_reasons=reasons,
    )


def invoice_ubl(session: Session, invoice: Invoice) -> bytes:
    try:
        return ubl.build_invoice_xml(ubl_document(session, invoice))
    except ubl.UblError as exc:
        raise DomainError(str(exc), field=exc.field or "invoice") from None
