"""Domain logic of billing: invoices and credit notes, VAT totals, gapless numbering, structured
communications, payments. Plain functions taking a session and values; no Flask imports.

Numbering: an invoice gets its number only when issued. The issuer's counter row for the year is
incremented with one UPDATE before it is read: that UPDATE takes the row lock on PostgreSQL (a
concurrent issuer waits until this transaction ends, then increments the committed value) and the
write lock on SQLite. A transaction that rolls back returns its number with it: no gaps, no duplicates.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.orm import Session
from stdnum.be import ogm_vcs

from core.db import unscoped, utcnow
from core.models import Organisation, Person
from core.services import Conflict, DomainError, NotFound
from core import validation
from plugins.billing.models import Invoice, InvoiceCounter, InvoiceLine, Payment

CENT = Decimal("0.01")
# UNCL5305 categories an invoice line may use, and whether the rate must be zero.
VAT_CATEGORIES = {
    "S": "Standard rate",
    "Z": "Zero rated",
    "E": "Exempt from VAT",
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Outside the scope of VAT",
}
ZERO_RATE_CATEGORIES = ("Z", "E", "AE", "K", "G", "O")
# Belgian VAT rates.
STANDARD_RATES = (Decimal("6"), Decimal("12"), Decimal("21"))
DEFAULT_EXEMPTION_REASON = "Exempt from VAT, art. 44 of the Belgian VAT Code"
OPEN_STATUSES = ("issued", "partly_paid")


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# --- structured communication ------------------------------------------------------------------------

def structured_ref_for(invoice_id: int) -> str:
    """12 digits: the invoice id on 10 digits and its mod-97 check (97 when the remainder is 0)."""
    base = f"{invoice_id:010d}"
    if len(base) > 10:
        raise ValueError("invoice id too large for a structured communication")
    return base + ogm_vcs.calc_check_digits(base)


def format_structured_ref(ref: str | None) -> str:
    if not ref:
        return ""
    return f"+++{ref[:3]}/{ref[3:7]}/{ref[7:]}+++"


def parse_structured_ref(text: str | None) -> str | None:
    """The 12 digits of a valid structured communication in `text` (any punctuation), or None."""
    digits = "".join(ch for ch in (text or "") if ch.isdigit())
    return digits if len(digits) == 12 and ogm_vcs.is_valid(digits) else None


# --- lines and totals --------------------------------------------------------------------------------

def _decimal(value, field: str, errors: dict) -> Decimal | None:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = "Not a valid number."
        return None
    if not result.is_finite():
        errors[field] = "Not a valid number."
        return None
    return result


def clean_lines(lines: list[dict], allow_negative_prices: bool = True) -> list[dict]:
    """Check invoice lines; field errors are keyed `lines.<i>.<field>`."""
    errors: dict[str, str] = {}
    if not lines:
        raise DomainError("An invoice needs at least one line.", field="lines")
    result = []
    for i, line in enumerate(lines):
        prefix = f"lines.{i}."
        description = (line.get("description") or "").strip()
        if not description:
            errors[prefix + "description"] = "Missing description."
        elif len(description) > 500:
            errors[prefix + "description"] = "At most 500 characters."
        quantity = _decimal(line.get("quantity", 1), prefix + "quantity", errors)
        if quantity is not None and quantity <= 0:
            errors[prefix + "quantity"] = "The quantity must be more than zero."
        elif quantity is not None and quantity != quantity.quantize(Decimal("0.001")):
            errors[prefix + "quantity"] = "At most 3 decimals."
        price = _decimal(line.get("unit_price"), prefix + "unit_price", errors)
        if price is not None and price != price.quantize(CENT):
            errors[prefix + "unit_price"] = "At most 2 decimals."
        elif price is not None and price < 0 and not allow_negative_prices:
            errors[prefix + "unit_price"] = "The price cannot be negative."
        category = line.get("vat_category") or "E"
        rate = _decimal(line.get("vat_rate", 0) or 0, prefix + "vat_rate", errors)
        if category not in VAT_CATEGORIES:
            errors[prefix + "vat_category"] = f"Unknown VAT category; use one of {', '.join(VAT_CATEGORIES)}."
        elif rate is not None:
            if category in ZERO_RATE_CATEGORIES and rate != 0:
                errors[prefix + "vat_rate"] = f"VAT category {category} has rate 0."
            elif category == "S" and rate not in STANDARD_RATES:
                errors[prefix + "vat_rate"] = "A Belgian VAT rate is 6, 12 or 21."
        if errors:
            continue
        reason = (line.get("vat_exemption_reason") or "").strip() or (
            DEFAULT_EXEMPTION_REASON if category == "E" else None)
        result.append({"description": description, "quantity": quantity, "unit_price": price,
                       "vat_category": category, "vat_rate": rate.quantize(CENT),
                       "vat_exemption_reason": reason})
    if errors:
        raise DomainError("Some invoice lines are not valid.", field=None, errors=errors)
    return result


@dataclass(frozen=True)
class VatGroup:
    category: str
    rate: Decimal
    taxable: Decimal
    vat: Decimal
    exemption_reason: str | None


def vat_breakdown(lines) -> list[VatGroup]:
    """Per VAT category and rate: the sum of line amounts and the VAT on it, rounded once per group
    (EN 16931: the VAT is computed on the group total, not per line)."""
    groups: dict[tuple[str, Decimal], list] = {}
    for line in lines:
        key = (line.vat_category, Decimal(line.vat_rate).quantize(CENT))
        groups.setdefault(key, []).append(line)
    result = []
    for (category, rate), members in sorted(groups.items()):
        taxable = sum((Decimal(m.net_amount) for m in members), Decimal("0.00"))
        result.append(VatGroup(category, rate, money(taxable), money(taxable * rate / 100),
                               next((m.vat_exemption_reason for m in members if m.vat_exemption_reason), None)))
    return result


def compute_totals(invoice: Invoice) -> None:
    for line in invoice.lines:
        line.net_amount = money(Decimal(line.quantity) * Decimal(line.unit_price))
    groups = vat_breakdown(invoice.lines)
    invoice.total_net = money(sum((g.taxable for g in groups), Decimal("0")))
    invoice.total_vat = money(sum((g.vat for g in groups), Decimal("0")))
    invoice.total = invoice.total_net + invoice.total_vat


# --- creating ---------------------------------------------------------------------------------------

def _recipient(session: Session, issuer: Organisation, person_id: int | None, org_id: int | None):
    if (person_id is None) == (org_id is None):
        raise DomainError("Give either a person or an organisation as recipient.", field="recipient_person_id")
    if person_id is not None:
        person = session.get(Person, person_id)
        if person is None or person.merged_into_id is not None:
            raise DomainError("Unknown person.", field="recipient_person_id")
        return person
    with unscoped(session):
        org = session.get(Organisation, org_id)
    if org is None:
        raise DomainError("Unknown organisation.", field="recipient_org_id")
    return org


def find_by_idempotency_key(session: Session, key: str | None) -> Invoice | None:
    if not key:
        return None
    with unscoped(session):
        return session.execute(sa.select(Invoice).where(Invoice.idempotency_key == key)).scalar_one_or_none()


def create_invoice(session: Session, issuer: Organisation, lines: list[dict], *,
                   recipient_person_id: int | None = None, recipient_org_id: int | None = None,
                   due_date: dt.date | None = None, note: str | None = None, kind: str = "invoice",
                   corrects: Invoice | None = None, idempotency_key: str | None = None,
                   run_id: int | None = None) -> Invoice:
    """A draft invoice (or credit note) with its lines and totals and its structured communication.

    With an `idempotency_key` used before, the invoice made then is returned and nothing is created."""
    existing = find_by_idempotency_key(session, idempotency_key)
    if existing is not None:
        return existing
    _recipient(session, issuer, recipient_person_id, recipient_org_id)
    cleaned = clean_lines(lines)
    if note is not None and len(note) > 2000:
        raise DomainError("At most 2000 characters.", field="note")
    invoice = Invoice(org_id=issuer.id, kind=kind, status="draft", recipient_person_id=recipient_person_id,
                      recipient_org_id=recipient_org_id, due_date=due_date, note=note or None,
                      corrects_id=corrects.id if corrects else None, idempotency_key=idempotency_key, run_id=run_id)
    invoice.lines = [InvoiceLine(position=i, **line) for i, line in enumerate(cleaned)]
    compute_totals(invoice)
    if kind == "invoice" and invoice.total <= 0:
        raise DomainError("The total of an invoice must be more than zero.", field="lines")
    session.add(invoice)
    session.flush()
    invoice.structured_ref = structured_ref_for(invoice.id)
    session.flush()
    return invoice


def get_invoice(session: Session, org: Organisation, invoice_id: int, *, received: bool = True) -> Invoice:
    """An invoice issued in `org`'s subtree, or (when `received`) issued to `org` itself; else NotFound."""
    invoice = session.execute(sa.select(Invoice).where(Invoice.id == invoice_id)).scalar_one_or_none()
    if invoice is None and received:
        with unscoped(session):
            invoice = session.execute(sa.select(Invoice).where(
                Invoice.id == invoice_id, Invoice.recipient_org_id == org.id,
                Invoice.status.notin_(("draft", "cancelled")))).scalar_one_or_none()
    if invoice is None:
        raise NotFound("Unknown invoice.")
    return invoice


def can_manage(invoice: Invoice, org: Organisation) -> bool:
    """Whether `org` (the organisation of the URL) may change `invoice`: only its issuer's side may."""
    issuer_path = invoice_issuer_path(invoice)
    return issuer_path.startswith(org.path)


def invoice_issuer_path(invoice: Invoice) -> str:
    from sqlalchemy.orm import object_session

    session = object_session(invoice)
    with unscoped(session):
        return session.get(Organisation, invoice.org_id).path


def list_query(org: Organisation, status: str | None = None, received_only: bool = False,
               q: str | None = None, today: dt.date | None = None):
    """Invoices issued in `org`'s subtree and those issued to `org` (not drafts), newest first.

    Run it inside `unscoped(session)`: received invoices belong to another organisation's tree."""
    today = today or dt.date.today()
    issued_here = Invoice.org_id.in_(sa.select(Organisation.id).where(Organisation.path.startswith(org.path)))
    received = sa.and_(Invoice.recipient_org_id == org.id, Invoice.status.notin_(("draft", "cancelled")))
    query = sa.select(Invoice).where(received if received_only else sa.or_(issued_here, received))
    if status == "overdue":
        query = query.where(Invoice.status.in_(OPEN_STATUSES), Invoice.due_date < today)
    elif status == "open":
        query = query.where(Invoice.status.in_(OPEN_STATUSES))
    elif status:
        query = query.where(Invoice.status == status)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(sa.or_(sa.func.lower(Invoice.recipient_name).like(like),
                                   sa.func.lower(Invoice.number).like(like),
                                   Invoice.structured_ref.like(f"%{''.join(ch for ch in q if ch.isdigit()) or q.strip()}%")))
    return query.order_by(Invoice.id.desc())


def effective_status(invoice: Invoice, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    if invoice.status in OPEN_STATUSES and invoice.due_date and invoice.due_date < today:
        return "overdue"
    return invoice.status


# --- issuing ----------------------------------------------------------------------------------------

def _recipient_snapshot(session: Session, invoice: Invoice) -> None:
    errors = {}
    if invoice.recipient_person_id is not None:
        person = session.get(Person, invoice.recipient_person_id)
        name = f"{person.first_name} {person.last_name}"
        street = " ".join(x for x in (person.street, person.house_number, f"bus {person.box}" if person.box else None)
                          if x)
        postal, city, country, kbo, email = person.postal_code, person.city, person.country, None, person.email
    else:
        with unscoped(session):
            org = session.get(Organisation, invoice.recipient_org_id)
        name, street, postal, city, country = org.name, org.street, org.postal_code, org.city, org.country
        kbo, email = org.kbo_number, org.email
    if not (street and postal and city):
        errors["recipient"] = "The recipient has no complete address (street, postal code and city)."
    if errors:
        raise DomainError(errors["recipient"], field="recipient", errors=errors)
    invoice.recipient_name = name
    invoice.recipient_street = street
    invoice.recipient_postal_code = postal
    invoice.recipient_city = city
    invoice.recipient_country = country or "BE"
    invoice.recipient_kbo = kbo
    invoice.recipient_email = email


def check_issuer(issuer: Organisation) -> None:
    """An issuer needs a valid IBAN (payments, EPC QR) and an address."""
    if not issuer.iban:
        raise DomainError("The issuing organisation has no IBAN; add one to its details first.", field="iban")
    try:
        validation.iban(issuer.iban)
    except ValueError:
        raise DomainError("The IBAN of the issuing organisation is not valid.", field="iban") from None
    if not (issuer.street and issuer.postal_code and issuer.city):
        raise DomainError("The issuing organisation has no complete address.", field="address")


def next_number(session: Session, org_id: int, series: str, year: int, count: int = 1) -> int:
    """Take the next `count` numbers of `org_id` in `year`; returns the last one. The counter row stays
    locked until the transaction ends (see the module docstring)."""
    where = (InvoiceCounter.org_id == org_id, InvoiceCounter.series == series, InvoiceCounter.year == year)
    bump = sa.update(InvoiceCounter).where(*where).values(last_number=InvoiceCounter.last_number + count)
    if session.execute(bump).rowcount == 0:
        try:
            with session.begin_nested():
                session.execute(sa.insert(InvoiceCounter).values(org_id=org_id, series=series, year=year,
                                                                 last_number=count))
            return count
        except sa.exc.IntegrityError:  # another transaction created the counter a moment ago
            session.execute(bump)
    return session.execute(sa.select(InvoiceCounter.last_number).where(*where)).scalar_one()


def format_number(kind: str, year: int, sequence: int) -> str:
    return f"{'' if kind == 'invoice' else 'CN-'}{year}-{sequence:05d}"


def issue(session: Session, invoice: Invoice, *, today: dt.date | None = None, payment_terms_days: int = 30) -> bool:
    """Number and issue a draft. Returns False (and changes nothing) when it was issued already, so a
    double-clicked "issue" is harmless. Refused: cancelled invoices, missing address, bad issuer IBAN."""
    today = today or dt.date.today()
    # Claim the draft with a conditional update: of two concurrent requests only one sees a row change.
    claimed = session.execute(sa.update(Invoice).where(Invoice.id == invoice.id, Invoice.status == "draft")
                              .values(status="issued").execution_options(synchronize_session=False)).rowcount
    if not claimed:
        session.refresh(invoice)
        if invoice.status == "cancelled":
            raise Conflict("A cancelled invoice cannot be issued.", field="status")
        return False
    with unscoped(session):
        issuer = session.get(Organisation, invoice.org_id)
    check_issuer(issuer)
    _recipient_snapshot(session, invoice)
    if invoice.kind == "credit_note":
        with unscoped(session):
            original = session.get(Invoice, invoice.corrects_id)
        if original.status not in ("issued", "partly_paid", "paid"):
            raise Conflict("The corrected invoice is not open any more.", field="corrects_id")
        if invoice.total > original.total - original.amount_credited:
            raise DomainError("A credit note cannot exceed what is left of the invoice.", field="lines")
    # Credit notes get their own series (in the UBL they are a separate document type).
    invoice.year = today.year
    invoice.sequence = next_number(session, invoice.org_id, invoice.kind, today.year)
    invoice.number = format_number(invoice.kind, today.year, invoice.sequence)
    invoice.status = "issued"
    invoice.issue_date = today
    invoice.issued_at = utcnow()
    if invoice.due_date is None or invoice.due_date < today:
        invoice.due_date = today + dt.timedelta(days=payment_terms_days)
    if invoice.kind == "credit_note":
        invoice.status = "paid"  # a credit note settles itself against the invoice it corrects
        original.amount_credited = money(original.amount_credited + invoice.total)
        refresh_status(original)
    session.flush()
    return True


def cancel(session: Session, invoice: Invoice) -> None:
    """Only drafts are cancelled; an issued invoice is corrected with a credit note."""
    if invoice.status == "cancelled":
        return
    if invoice.status != "draft":
        raise Conflict("An issued invoice cannot be cancelled; make a credit note.", field="status")
    invoice.status = "cancelled"
    session.flush()


def credit_note(session: Session, invoice: Invoice, lines: list[dict] | None = None,
                idempotency_key: str | None = None) -> Invoice:
    """A draft credit note for `invoice`: the given lines, or all of its lines (a full credit)."""
    existing = find_by_idempotency_key(session, idempotency_key)
    if existing is not None:
        return existing
    if invoice.kind != "invoice" or invoice.status not in ("issued", "partly_paid", "paid"):
        raise Conflict("Only an issued invoice can be credited.", field="status")
    if lines is None:
        lines = [{"description": line.description, "quantity": line.quantity, "unit_price": line.unit_price,
                  "vat_category": line.vat_category, "vat_rate": line.vat_rate,
                  "vat_exemption_reason": line.vat_exemption_reason} for line in invoice.lines]
    note = create_invoice(session, _issuer(session, invoice), lines, kind="credit_note", corrects=invoice,
                          recipient_person_id=invoice.recipient_person_id,
                          recipient_org_id=invoice.recipient_org_id, idempotency_key=idempotency_key)
    if note.total <= 0 or note.total > invoice.total - invoice.amount_credited:
        raise DomainError("A credit note must be more than zero and at most what is left of the invoice.",
                          field="lines")
    return note


def _issuer(session: Session, invoice: Invoice) -> Organisation:
    with unscoped(session):
        return session.get(Organisation, invoice.org_id)


# --- payments ---------------------------------------------------------------------------------------

def refresh_status(invoice: Invoice) -> None:
    if invoice.status in ("draft", "cancelled") or invoice.kind != "invoice":
        return
    if invoice.amount_credited >= invoice.total:
        invoice.status = "credited"
    elif invoice.open_amount <= 0:
        invoice.status = "paid"
    elif invoice.amount_paid > 0:
        invoice.status = "partly_paid"
    else:
        invoice.status = "issued"


def register_payment(session: Session, invoice: Invoice, amount, paid_on: dt.date, method: str = "manual",
                     reference: str | None = None, external_id: str | None = None,
                     created_by_id: int | None = None) -> Payment | None:
    """Book a payment. With an `external_id` (bank line, Mollie payment, idempotency key) booked before,
    nothing happens and None is returned: every payment is booked exactly once."""
    if external_id is not None:
        existing = session.execute(sa.select(Payment).where(Payment.external_id == external_id)).scalar_one_or_none()
        if existing is not None:
            return None
    errors = {}
    try:
        amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise DomainError("Not a valid amount.", field="amount") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        errors["amount"] = "The amount must be more than zero, with at most 2 decimals."
    if invoice.kind != "invoice" or invoice.status not in ("issued", "partly_paid", "paid"):
        raise Conflict("Payments are booked on issued invoices only.", field="status")
    if errors:
        raise DomainError(errors["amount"], field="amount")
    if paid_on > dt.date.today() + dt.timedelta(days=1):
        raise DomainError("The payment date is in the future.", field="paid_on")
    # Lock the invoice row so two bookings at once both count (PostgreSQL; SQLite serialises writes).
    session.execute(sa.select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    session.refresh(invoice, ["amount_paid", "status"])
    payment = Payment(invoice_id=invoice.id, amount=amount, paid_on=paid_on, method=method,
                      reference=(reference or "")[:255] or None, external_id=external_id,
                      created_by_id=created_by_id)
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except sa.exc.IntegrityError:  # the same external payment booked concurrently
        return None
    was = invoice.status
    invoice.amount_paid = money(invoice.amount_paid + amount)
    refresh_status(invoice)
    session.flush()
    if invoice.status == "paid" and was != "paid":
        _paid_event(session, invoice)
    return payment


def _paid_event(session: Session, invoice: Invoice) -> None:
    """`invoice.paid` to the plugins enabled for the issuer (e.g. to activate a pending membership)."""
    from core.gates import call_org_hook

    call_org_hook("on_event", _issuer(session, invoice), event="invoice.paid", payload={
        "invoice_id": invoice.id, "number": invoice.number, "org_id": invoice.org_id,
        "recipient_person_id": invoice.recipient_person_id, "recipient_org_id": invoice.recipient_org_id,
        "total": str(invoice.total)})


def invoice_payload_lines(invoice: Invoice) -> list[dict]:
    return [{"description": l.description, "quantity": l.quantity, "unit_price": l.unit_price,
             "vat_category": l.vat_category, "vat_rate": l.vat_rate, "net_amount": l.net_amount,
             "vat_exemption_reason": l.vat_exemption_reason} for l in invoice.lines]


def recipient_display_name(session: Session, invoice: Invoice) -> str:
    if invoice.recipient_person_id is not None:
        person = session.get(Person, invoice.recipient_person_id)
        return f"{person.first_name} {person.last_name}" if person else ""
    with unscoped(session):
        org = session.get(Organisation, invoice.recipient_org_id)
    return org.name if org else ""


def update_draft(session: Session, invoice: Invoice, data: dict) -> None:
    """Change a draft's lines, due date, note or recipient; issued invoices never change."""
    if invoice.status != "draft":
        raise Conflict("Only a draft can be changed; correct an issued invoice with a credit note.", field="status")
    if "recipient_person_id" in data or "recipient_org_id" in data:
        person_id = data.get("recipient_person_id", invoice.recipient_person_id if "recipient_org_id" not in data
                             else None)
        org_id = data.get("recipient_org_id", invoice.recipient_org_id if "recipient_person_id" not in data
                          else None)
        _recipient(session, None, person_id, org_id)
        invoice.recipient_person_id, invoice.recipient_org_id = person_id, org_id
    if "lines" in data:
        cleaned = clean_lines(data["lines"])
        invoice.lines = [InvoiceLine(position=i, **line) for i, line in enumerate(cleaned)]
        compute_totals(invoice)
        if invoice.kind == "invoice" and invoice.total <= 0:
            raise DomainError("The total of an invoice must be more than zero.", field="lines")
    if "due_date" in data:
        invoice.due_date = data["due_date"]
    if "note" in data:
        invoice.note = data["note"] or None
    session.flush()
