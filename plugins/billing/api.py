"""REST API of the billing module, under `/api/v1/orgs/{org_id}/billing/...`.

Invoices (list with status filter, manual invoices, issue, cancel, credit notes, payments, PDF, UBL),
membership invoice runs (preview and issue as a job), CODA imports and reports. Money-creating POSTs
accept an `Idempotency-Key` header: the same key returns what the first request made.
"""
from __future__ import annotations

import datetime as dt

from flask import Response, g, jsonify, request, url_for
from flask.views import MethodView

from core.api import ApiBlueprint, paginate
from core.db import db, unscoped
from core.gates import federa
from core.models import Organisation
from core.services import Conflict, DomainError, NotFound
from core.settings import get_setting
from plugins.billing import permissions as perms
from plugins.billing import schemas as s
from plugins.billing import services
from plugins.billing.models import Invoice

blp = ApiBlueprint("billing_api", __name__, url_prefix="/api/v1/orgs/<int:org_id>/billing",
                   description="Billing: invoices, credit notes, payments, runs, bank statements")


def idempotency_key(prefix: str) -> str | None:
    key = request.headers.get("Idempotency-Key")
    return f"{prefix}:{g.org.id}:{key.strip()[:120]}" if key and key.strip() else None


def setting(key: str, org: Organisation | None = None):
    return get_setting(db.session, federa().settings, org or g.org, key)


def invoice_payload(invoice: Invoice, org: Organisation) -> dict:
    with unscoped(db.session):
        issuer = db.session.get(Organisation, invoice.org_id)
    received = invoice.recipient_org_id == org.id and not issuer.path.startswith(org.path)
    return {
        "id": invoice.id, "org_id": invoice.org_id, "issuer_name": issuer.name, "kind": invoice.kind,
        "number": invoice.number, "status": services.effective_status(invoice),
        "structured_communication": services.format_structured_ref(invoice.structured_ref),
        "issue_date": invoice.issue_date, "due_date": invoice.due_date,
        "recipient_person_id": invoice.recipient_person_id, "recipient_org_id": invoice.recipient_org_id,
        "recipient_name": invoice.recipient_name or services.recipient_display_name(db.session, invoice),
        "note": invoice.note, "lines": services.invoice_payload_lines(invoice), "currency": invoice.currency,
        "total_net": invoice.total_net, "total_vat": invoice.total_vat, "total": invoice.total,
        "amount_paid": invoice.amount_paid, "amount_credited": invoice.amount_credited,
        "open_amount": invoice.open_amount if invoice.status not in ("draft", "cancelled") else invoice.total,
        "corrects_id": invoice.corrects_id, "payment_url": invoice.payment_url,
        "pdf_url": url_for("billing_api.InvoicePdf", org_id=org.id, invoice_id=invoice.id),
        "ubl_url": url_for("billing_api.InvoiceUbl", org_id=org.id, invoice_id=invoice.id)
        if invoice.recipient_org_id else None,
        "received": received,
        "payments": [{"id": p.id, "amount": p.amount, "paid_on": p.paid_on, "method": p.method,
                      "reference": p.reference} for p in invoice.payments],
    }


def managed_invoice(invoice_id: int) -> Invoice:
    """An invoice this organisation's side issued (received invoices are read-only here)."""
    invoice = services.get_invoice(db.session, g.org, invoice_id, received=False)
    return invoice


@blp.route("/invoices")
class Invoices(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.InvoiceListArgsSchema, location="query")
    @blp.response(200, s.InvoicePageSchema)
    def get(self, args, org_id):
        """Invoices and credit notes issued here and below, and those issued to this organisation;
        `status` filters (overdue: open and past the due date; open: issued or partly paid)."""
        with unscoped(db.session):
            query = services.list_query(g.org, args.get("status"), args["received"], args.get("q"))
            page = paginate(db.session, query, args["page"], args["page_size"])
            page["items"] = [invoice_payload(i, g.org) for i in page["items"]]
        return page

    @blp.requires(perms.WRITE)
    @blp.arguments(s.InvoiceSchema)
    @blp.response(201, s.InvoiceSchema)
    @blp.alt_response(422, description="Invalid lines, recipient or amounts")
    def post(self, data, org_id):
        """A manual draft invoice (e.g. merchandise) with free lines; send `Idempotency-Key` to make a retry safe."""
        invoice = services.create_invoice(
            db.session, g.org, data["lines"], recipient_person_id=data.get("recipient_person_id"),
            recipient_org_id=data.get("recipient_org_id"), due_date=data.get("due_date"), note=data.get("note"),
            idempotency_key=idempotency_key("billing.invoice"))
        db.session.commit()
        return invoice_payload(invoice, g.org)


@blp.route("/invoices/<int:invoice_id>")
class InvoiceResource(MethodView):
    @blp.requires(perms.READ)
    @blp.etag
    @blp.response(200, s.InvoiceSchema)
    def get(self, org_id, invoice_id):
        return invoice_payload(services.get_invoice(db.session, g.org, invoice_id), g.org)

    @blp.requires(perms.WRITE)
    @blp.etag
    @blp.arguments(s.InvoiceUpdateSchema)
    @blp.response(200, s.InvoiceSchema)
    def patch(self, data, org_id, invoice_id):
        """Change a draft (lines, due date, note, recipient); send `If-Match`."""
        invoice = managed_invoice(invoice_id)
        blp.check_etag(invoice_payload(invoice, g.org), s.InvoiceSchema)
        services.update_draft(db.session, invoice, data)
        db.session.commit()
        return invoice_payload(invoice, g.org)


@blp.route("/invoices/<int:invoice_id>/issue")
class InvoiceIssue(MethodView):
    @blp.requires(perms.WRITE)
    @blp.response(200, s.InvoiceSchema)
    @blp.alt_response(409, description="Cancelled")
    def post(self, org_id, invoice_id):
        """Number and issue a draft; issuing again (a double click) changes nothing and answers the same."""
        invoice = managed_invoice(invoice_id)
        issued = services.issue(db.session, invoice, payment_terms_days=int(setting("billing.payment_terms_days")))
        db.session.commit()
        if issued:
            from plugins.billing import delivery

            delivery.after_issue(db.session, invoice)
        return invoice_payload(invoice, g.org)


@blp.route("/invoices/<int:invoice_id>/cancel")
class InvoiceCancel(MethodView):
    @blp.requires(perms.WRITE)
    @blp.response(200, s.InvoiceSchema)
    def post(self, org_id, invoice_id):
        """Cancel a draft (an issued invoice is corrected with a credit note)."""
        invoice = managed_invoice(invoice_id)
        services.cancel(db.session, invoice)
        db.session.commit()
        return invoice_payload(invoice, g.org)


@blp.route("/invoices/<int:invoice_id>/credit-note")
class InvoiceCredit(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.CreditNoteSchema)
    @blp.response(201, s.InvoiceSchema)
    def post(self, data, org_id, invoice_id):
        """A draft credit note for this invoice (all its lines unless `lines` are given); issue it to book it."""
        invoice = managed_invoice(invoice_id)
        note = services.credit_note(db.session, invoice, data.get("lines"),
                                    idempotency_key=idempotency_key("billing.credit"))
        db.session.commit()
        return invoice_payload(note, g.org)


@blp.route("/invoices/<int:invoice_id>/payments")
class InvoicePayments(MethodView):
    @blp.requires(perms.PAYMENTS_WRITE)
    @blp.arguments(s.PaymentSchema)
    @blp.response(201, s.InvoiceSchema)
    def post(self, data, org_id, invoice_id):
        """Register a payment by hand; with the same `Idempotency-Key` it is booked once."""
        invoice = managed_invoice(invoice_id)
        services.register_payment(db.session, invoice, data["amount"], data["paid_on"], "manual",
                                  data.get("reference"), external_id=idempotency_key("billing.payment"),
                                  created_by_id=g.user.id)
        db.session.commit()
        return invoice_payload(invoice, g.org)


@blp.route("/invoices/<int:invoice_id>.pdf")
class InvoicePdf(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, description="The invoice as PDF")
    def get(self, org_id, invoice_id):
        from plugins.billing import documents

        invoice = services.get_invoice(db.session, g.org, invoice_id)
        if invoice.status in ("draft", "cancelled"):
            raise Conflict("Only issued invoices have a PDF.", field="status")
        data = documents.invoice_pdf(db.session, invoice)
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{invoice.number}.pdf"'})


@blp.route("/invoices/<int:invoice_id>/ubl")
class InvoiceUbl(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, description="The Peppol BIS Billing 3.0 UBL document")
    def get(self, org_id, invoice_id):
        from plugins.billing import documents

        invoice = services.get_invoice(db.session, g.org, invoice_id)
        xml = documents.invoice_ubl(db.session, invoice)
        return Response(xml, mimetype="application/xml", headers={
            "Content-Disposition": f'attachment; filename="{invoice.number}.xml"'})


# --- Mollie webhook (public: Mollie calls it without credentials) ------------------------------------------

import marshmallow as ma  # noqa: E402

from core.gates import public_endpoint  # noqa: E402

public_blp = ApiBlueprint("billing_public", __name__, url_prefix="/billing",
                          description="Billing: callbacks of payment providers")


class WebhookSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))


@public_blp.route("/mollie/webhook", methods=["POST"], endpoint="mollie_webhook")
@public_endpoint
@public_blp.arguments(WebhookSchema, location="form")
@public_blp.response(200, description="Always 200 once the form is valid: what is not ours is ignored")
def mollie_webhook(data):
    """Mollie's payment webhook: the payment is fetched again from Mollie (the request itself is not
    trusted) and booked exactly once; unknown or foreign payments change nothing."""
    from plugins.billing import delivery

    outcome = delivery.handle_mollie_webhook(db.session, data["id"])
    db.session.commit()
    return jsonify({"result": outcome})


# --- membership invoice runs ----------------------------------------------------------------------------

@blp.route("/runs")
class Runs(MethodView):
    @blp.requires(perms.RUNS)
    @blp.arguments(s.RunSchema)
    @blp.response(200, s.RunPreviewSchema)
    @blp.alt_response(202, description="The run is queued; follow the job")
    def post(self, data, org_id):
        """With `preview` (default): what the run would invoice now. Without: queue the run as a job (202);
        the same `Idempotency-Key`, or a run of the same season still busy, returns that run."""
        from plugins.billing import runs

        if data["preview"]:
            return runs.preview(db.session, g.org, data["season_id"], data["target"],
                                setting("billing.federation_invoice_mode"))
        run = runs.start_run(db.session, g.org, data["season_id"], data["target"], g.user.id,
                             idempotency_key=idempotency_key("billing.run"))
        db.session.commit()
        response = jsonify({"run_id": run.id, "job_id": run.job_id, "status": run.status,
                            "job_url": url_for("jobs.JobResource", job_id=run.job_id) if run.job_id else None})
        response.status_code = 202
        return response


# --- the member app: my own invoices as PDF -----------------------------------------------------------

from core.gates import authenticated_endpoint  # noqa: E402

me_blp = ApiBlueprint("billing_me", __name__, url_prefix="/api/v1/me/billing",
                      description="Billing for the member app: one's own invoices")


@me_blp.route("/invoices/<int:invoice_id>.pdf")
class MyInvoicePdf(MethodView):
    @authenticated_endpoint
    @me_blp.response(200, description="One of my invoices as PDF")
    @me_blp.alt_response(401, description="Not authenticated")
    @me_blp.alt_response(404, description="Not an invoice addressed to me")
    def get(self, invoice_id):
        """An invoice addressed to me (issued, by an organisation whose billing module is on)."""
        from core.gates import is_enabled
        from plugins.billing import documents

        with unscoped(db.session):
            invoice = db.session.get(Invoice, invoice_id)
            if invoice is None or invoice.recipient_person_id != g.user.person_id \
                    or invoice.status in ("draft", "cancelled"):
                raise NotFound("Unknown invoice.")
            issuer = db.session.get(Organisation, invoice.org_id)
            if not is_enabled(issuer, "billing"):
                raise NotFound("Unknown invoice.")
            data = documents.invoice_pdf(db.session, invoice)
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{invoice.number}.pdf"'})


# --- bank statements -------------------------------------------------------------------------------------

def bank_line_payload(line) -> dict:
    return {"id": line.id, "reference": line.reference, "amount": line.amount, "value_date": line.value_date,
            "communication": line.communication,
            "structured_communication": services.format_structured_ref(line.structured_ref) or None,
            "counterparty_name": line.counterparty_name, "counterparty_account": line.counterparty_account,
            "status": line.status, "invoice_id": line.invoice_id}


@blp.route("/coda-imports")
class CodaImports(MethodView):
    @blp.requires(perms.PAYMENTS_WRITE)
    @blp.arguments(s.CodaFileSchema, location="files")
    @blp.response(201, s.CodaResultSchema)
    @blp.alt_response(422, description="Not a valid CODA file, or another account's statement")
    def post(self, files, org_id):
        """Import a CODA bank statement (multipart field `file`): payments with the structured
        communication of an open invoice are booked; the rest wait under `bank-lines`. Importing the
        same statement again books nothing twice."""
        from plugins.billing import banking

        upload = files["file"]
        data = upload.stream.read(banking.MAX_FILE_BYTES + 1) if hasattr(upload, "stream") else b""
        result = banking.import_coda(db.session, g.org, data, created_by_id=g.user.id)
        db.session.commit()
        return result


@blp.route("/bank-lines")
class BankLines(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.BankLineArgsSchema, location="query")
    @blp.response(200, s.BankLinePageSchema)
    def get(self, args, org_id):
        """Bank statement lines; by default those still waiting for manual matching."""
        from plugins.billing import banking

        page = paginate(db.session, banking.bank_lines_query(g.org, args["status"]), args["page"],
                        args["page_size"])
        page["items"] = [bank_line_payload(line) for line in page["items"]]
        return page


@blp.route("/bank-lines/<int:line_id>/match")
class BankLineMatch(MethodView):
    @blp.requires(perms.PAYMENTS_WRITE)
    @blp.arguments(s.MatchSchema)
    @blp.response(200, s.BankLineSchema)
    def post(self, data, org_id, line_id):
        """Book a waiting bank line on an open invoice of this organisation."""
        from plugins.billing import banking

        line = banking.match_line(db.session, g.org, line_id, data["invoice_id"], created_by_id=g.user.id)
        db.session.commit()
        return bank_line_payload(line)


# --- reports ---------------------------------------------------------------------------------------------

from flask_babel import lazy_gettext as _l, lazy_pgettext  # noqa: E402

REPORT_LABELS = {"issuers": _l("Per organisation"), "recipients": _l("Per club invoiced"),
                 "name": _l("Organisation"), "invoices": _l("Invoices"), "open": lazy_pgettext("amount", "Open"),
                 "overdue": _l("Overdue"), "paid": _l("Paid"), "credited": _l("Credited")}


@blp.route("/reports")
class Reports(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.ReportSchema)
    def get(self, org_id):
        """Open, overdue and paid amounts per issuing organisation in this subtree (each club below a
        federation), and what this organisation invoiced to each club."""
        from plugins.billing import reports

        return reports.report(db.session, g.org)


@blp.route("/reports.xlsx")
class ReportsExcel(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, description="The report as an Excel file")
    def get(self, org_id):
        from plugins.billing import reports

        labels = {k: str(v) for k, v in REPORT_LABELS.items()}
        data = reports.report_xlsx(reports.report(db.session, g.org), labels)
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="billing-report.xlsx"'})
