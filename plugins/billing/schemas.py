"""Marshmallow schemas of the billing API."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from core.api import PageArgs, page_schema
from plugins.billing.models import KINDS
from plugins.billing.services import VAT_CATEGORIES

LIST_STATUSES = ("draft", "issued", "partly_paid", "paid", "overdue", "open", "credited", "cancelled")


class LineSchema(ma.Schema):
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))
    quantity = ma.fields.Decimal(load_default=1, as_string=True)
    unit_price = ma.fields.Decimal(required=True, as_string=True)
    vat_category = ma.fields.String(load_default="E", validate=validate.OneOf(tuple(VAT_CATEGORIES)))
    vat_rate = ma.fields.Decimal(load_default=0, as_string=True)
    vat_exemption_reason = ma.fields.String(allow_none=True, validate=validate.Length(max=255))
    net_amount = ma.fields.Decimal(dump_only=True, as_string=True)


class PaymentSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    amount = ma.fields.Decimal(required=True, as_string=True)
    paid_on = ma.fields.Date(required=True)
    method = ma.fields.String(dump_only=True)
    reference = ma.fields.String(allow_none=True, validate=validate.Length(max=255))


class InvoiceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    org_id = ma.fields.Integer(dump_only=True)
    issuer_name = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, validate=validate.OneOf(KINDS))
    number = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.String(dump_only=True)
    structured_communication = ma.fields.String(dump_only=True)
    issue_date = ma.fields.Date(dump_only=True, allow_none=True)
    due_date = ma.fields.Date(allow_none=True)
    recipient_person_id = ma.fields.Integer(allow_none=True)
    recipient_org_id = ma.fields.Integer(allow_none=True)
    recipient_name = ma.fields.String(dump_only=True, allow_none=True)
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))
    lines = ma.fields.List(ma.fields.Nested(LineSchema), required=True, validate=validate.Length(min=1, max=500))
    currency = ma.fields.String(dump_only=True)
    total_net = ma.fields.Decimal(dump_only=True, as_string=True)
    total_vat = ma.fields.Decimal(dump_only=True, as_string=True)
    total = ma.fields.Decimal(dump_only=True, as_string=True)
    amount_paid = ma.fields.Decimal(dump_only=True, as_string=True)
    amount_credited = ma.fields.Decimal(dump_only=True, as_string=True)
    open_amount = ma.fields.Decimal(dump_only=True, as_string=True)
    corrects_id = ma.fields.Integer(dump_only=True, allow_none=True)
    payment_url = ma.fields.String(dump_only=True, allow_none=True)
    pdf_url = ma.fields.String(dump_only=True)
    ubl_url = ma.fields.String(dump_only=True, allow_none=True)
    received = ma.fields.Boolean(dump_only=True, metadata={"description": "issued to this organisation"})
    payments = ma.fields.List(ma.fields.Nested(PaymentSchema), dump_only=True)


InvoicePageSchema = page_schema(InvoiceSchema, "BillingInvoicePage")


class InvoiceListArgsSchema(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(LIST_STATUSES))
    q = ma.fields.String(validate=validate.Length(max=100))
    received = ma.fields.Boolean(load_default=False)


class CreditNoteSchema(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(LineSchema), validate=validate.Length(min=1, max=500),
                           metadata={"description": "leave out to credit the whole invoice"})


class RunSchema(ma.Schema):
    season_id = ma.fields.Integer(required=True)
    target = ma.fields.String(required=True, validate=validate.OneOf(("clubs", "members")))
    preview = ma.fields.Boolean(load_default=True)


class RunPreviewSchema(ma.Schema):
    invoices = ma.fields.List(ma.fields.Dict())
    count = ma.fields.Integer()
    invoice_date = ma.fields.Date()
    total = ma.fields.Decimal(as_string=True)
    job_id = ma.fields.String(allow_none=True)
    run_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String(allow_none=True)


class InvoiceUpdateSchema(ma.Schema):
    due_date = ma.fields.Date(allow_none=True)
    recipient_person_id = ma.fields.Integer(allow_none=True)
    recipient_org_id = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))
    lines = ma.fields.List(ma.fields.Nested(LineSchema), validate=validate.Length(min=1, max=500))


class CodaFileSchema(ma.Schema):
    file = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class CodaResultSchema(ma.Schema):
    statements = ma.fields.Integer()
    movements = ma.fields.Integer()
    booked = ma.fields.Integer()
    unmatched = ma.fields.Integer()
    already_imported = ma.fields.Integer()


class BankLineSchema(ma.Schema):
    id = ma.fields.Integer()
    reference = ma.fields.String()
    amount = ma.fields.Decimal(as_string=True)
    value_date = ma.fields.Date(allow_none=True)
    communication = ma.fields.String(allow_none=True)
    structured_communication = ma.fields.String(allow_none=True)
    counterparty_name = ma.fields.String(allow_none=True)
    counterparty_account = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    invoice_id = ma.fields.Integer(allow_none=True)


BankLinePageSchema = page_schema(BankLineSchema, "BillingBankLinePage")


class BankLineArgsSchema(PageArgs):
    status = ma.fields.String(load_default="unmatched", validate=validate.OneOf(("unmatched", "booked", "ignored")))


class MatchSchema(ma.Schema):
    invoice_id = ma.fields.Integer(required=True)


class ReportRowSchema(ma.Schema):
    org_id = ma.fields.Integer()
    name = ma.fields.String()
    invoices = ma.fields.Integer()
    open = ma.fields.Decimal(as_string=True)
    overdue = ma.fields.Decimal(as_string=True)
    paid = ma.fields.Decimal(as_string=True)
    credited = ma.fields.Decimal(as_string=True)


class ReportSchema(ma.Schema):
    total = ma.fields.Nested(ReportRowSchema)
    issuers = ma.fields.List(ma.fields.Nested(ReportRowSchema))
    recipients = ma.fields.List(ma.fields.Nested(ReportRowSchema))
