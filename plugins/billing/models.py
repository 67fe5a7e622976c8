"""Tables of the billing module: invoices and credit notes with their lines, the per-issuer number
counters, payments, membership charges (what a run already invoiced) and invoice runs.

An invoice belongs to its issuer (`org_id`); its recipient is a person or an organisation, copied onto
the invoice when it is issued so the document never changes afterwards.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, OrgScoped, created_at, intpk, str100, str255, updated_at

KINDS = ("invoice", "credit_note")
# Stored statuses; "overdue" is derived from the due date (see services.effective_status).
STATUSES = ("draft", "issued", "partly_paid", "paid", "credited", "cancelled")


class InvoiceCounter(Base):
    """The last number given out by an issuer in a year; its row is locked while an invoice is numbered."""

    __tablename__ = "billing_counter"
    __table_args__ = (sa.UniqueConstraint("org_id", "series", "year"),)

    id: Mapped[intpk]
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    series: Mapped[str] = mapped_column(sa.String(12))  # the invoice kind: invoices and credit notes count apart
    year: Mapped[int]
    last_number: Mapped[int] = mapped_column(default=0)


class Invoice(Base, OrgScoped):
    """An invoice or credit note of the issuer `org_id`."""

    __tablename__ = "billing_invoice"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "kind", "year", "sequence"),
        sa.Index("ix_billing_invoice_org_status", "org_id", "status"),
        sa.CheckConstraint("(recipient_person_id IS NULL) <> (recipient_org_id IS NULL)", name="one_recipient"),
    )

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(sa.String(12), default="invoice")
    status: Mapped[str] = mapped_column(sa.String(12), default="draft")
    # Given when issued: gapless per issuer, kind and year.
    year: Mapped[Optional[int]]
    sequence: Mapped[Optional[int]]
    number: Mapped[Optional[str]] = mapped_column(sa.String(20))
    # Belgian structured communication, 12 digits (shown as +++xxx/xxxx/xxxxx+++); unique across the platform.
    structured_ref: Mapped[Optional[str]] = mapped_column(sa.String(12), unique=True)
    issue_date: Mapped[Optional[dt.date]]
    due_date: Mapped[Optional[dt.date]] = mapped_column(index=True)
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    recipient_person_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("person.id", ondelete="RESTRICT"), index=True)
    recipient_org_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)
    # The recipient as it was when issued (the legal document must not change with the address book).
    recipient_name: Mapped[Optional[str255]]
    recipient_street: Mapped[Optional[str255]]
    recipient_postal_code: Mapped[Optional[str]] = mapped_column(sa.String(16))
    recipient_city: Mapped[Optional[str100]]
    recipient_country: Mapped[Optional[str]] = mapped_column(sa.String(2))
    recipient_kbo: Mapped[Optional[str]] = mapped_column(sa.String(10))
    recipient_email: Mapped[Optional[str255]]
    note: Mapped[Optional[str]] = mapped_column(sa.Text)
    total_net: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0.00"))
    total_vat: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0.00"))
    amount_paid: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0.00"))
    amount_credited: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0.00"))
    # A credit note points at the invoice it corrects.
    corrects_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("billing_invoice.id", ondelete="RESTRICT"),
                                                       index=True)
    run_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("billing_run.id", ondelete="SET NULL"), index=True)
    # "<org>:<client key>" of the POST that created it, so a repeated request returns the same invoice.
    idempotency_key: Mapped[Optional[str]] = mapped_column(sa.String(160), unique=True)
    mollie_payment_id: Mapped[Optional[str]] = mapped_column(sa.String(40), unique=True)
    payment_url: Mapped[Optional[str]] = mapped_column(sa.String(500))
    emailed_at: Mapped[Optional[dt.datetime]]
    peppol_message_id: Mapped[Optional[str]] = mapped_column(sa.String(64))
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_reminder_on: Mapped[Optional[dt.date]]
    issued_at: Mapped[Optional[dt.datetime]]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    lines: Mapped[list["InvoiceLine"]] = relationship(back_populates="invoice", cascade="all, delete-orphan",
                                                      order_by="InvoiceLine.position")
    payments: Mapped[list["Payment"]] = relationship(back_populates="invoice", order_by="Payment.id")

    @property
    def open_amount(self) -> Decimal:
        return (self.total or Decimal("0")) - (self.amount_paid or Decimal("0")) - (
            self.amount_credited or Decimal("0"))


class InvoiceLine(Base):
    __tablename__ = "billing_invoice_line"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_invoice.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(sa.String(500))
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(12, 3))
    unit_price: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    # UNCL5305: S standard, Z zero, E exempt, AE reverse charge, K intra-community, G export, O outside scope.
    vat_category: Mapped[str] = mapped_column(sa.String(2), default="E")
    vat_rate: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), default=Decimal("0"))
    # Why a line is exempt (printed and sent in the UBL as the exemption reason).
    vat_exemption_reason: Mapped[Optional[str255]]
    net_amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class Payment(Base):
    """Money received for an invoice; `external_id` makes each bank line or Mollie payment book once."""

    __tablename__ = "billing_payment"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_invoice.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    paid_on: Mapped[dt.date]
    method: Mapped[str] = mapped_column(sa.String(10))  # manual, mollie, coda
    reference: Mapped[Optional[str255]]
    external_id: Mapped[Optional[str]] = mapped_column(sa.String(160), unique=True)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


class InvoiceRun(Base, OrgScoped):
    """A membership invoice run of `org_id` for a season: federation to clubs or club to members."""

    __tablename__ = "billing_run"

    id: Mapped[intpk]
    season_id: Mapped[int] = mapped_column(sa.ForeignKey("membership_season.id", ondelete="RESTRICT"), index=True)
    target: Mapped[str] = mapped_column(sa.String(10))  # "clubs" or "members"
    status: Mapped[str] = mapped_column(sa.String(10), default="queued")
    job_id: Mapped[Optional[str]] = mapped_column(sa.String(36))
    invoices_created: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class MembershipCharge(Base):
    """That a membership was invoiced for a season by an issuer: a run never invoices it twice."""

    __tablename__ = "billing_membership_charge"
    __table_args__ = (sa.UniqueConstraint("issuer_id", "membership_id", "season_id"),)

    id: Mapped[intpk]
    issuer_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(sa.ForeignKey("membership_membership.id", ondelete="CASCADE"),
                                               index=True)
    season_id: Mapped[int] = mapped_column(sa.ForeignKey("membership_season.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_invoice.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[created_at]


class BankLine(Base, OrgScoped):
    """A credit movement of an imported bank statement (CODA): booked on an invoice, or waiting for
    someone to match it by hand. `reference` (account, year, statement, sequence, detail, bank reference)
    is unique per organisation, so importing the same statement twice adds and books nothing."""

    __tablename__ = "billing_bank_line"
    __table_args__ = (sa.UniqueConstraint("org_id", "reference"),
                      sa.Index("ix_billing_bank_line_org_status", "org_id", "status"))

    id: Mapped[intpk]
    reference: Mapped[str] = mapped_column(sa.String(120))
    account: Mapped[str] = mapped_column(sa.String(34))
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    value_date: Mapped[Optional[dt.date]]
    communication: Mapped[Optional[str]] = mapped_column(sa.String(500))
    structured_ref: Mapped[Optional[str]] = mapped_column(sa.String(12))
    counterparty_name: Mapped[Optional[str255]]
    counterparty_account: Mapped[Optional[str]] = mapped_column(sa.String(34))
    status: Mapped[str] = mapped_column(sa.String(10), default="unmatched")  # unmatched, booked, ignored
    invoice_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("billing_invoice.id", ondelete="SET NULL"),
                                                      index=True)
    created_at: Mapped[created_at]
