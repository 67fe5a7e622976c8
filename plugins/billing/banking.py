"""Bank statements (CODA): credit movements whose structured communication matches an open invoice of
the organisation are booked at once; the others wait in a list for manual matching. Each movement is
stored once per organisation under its stable CODA reference, and its payment carries the same
reference as `external_id`, so importing a statement again books nothing twice."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import Organisation
from core.services import Conflict, DomainError, NotFound
from plugins.billing import coda, services
from plugins.billing.models import BankLine, Invoice

MAX_FILE_BYTES = 20 * 1024 * 1024


def _iban(value: str | None) -> str:
    return (value or "").replace(" ", "").upper()


def import_coda(session: Session, org: Organisation, data: bytes, created_by_id: int | None = None) -> dict:
    """Import one CODA file for `org` (all or nothing). Refused: a malformed file, or a statement of
    another bank account than the organisation's."""
    if len(data) > MAX_FILE_BYTES:
        raise DomainError("The file is too large.", field="file")
    try:
        statements = coda.parse(data)
    except coda.CodaError as exc:
        raise DomainError(f"Not a valid CODA file: {exc}", field="file", line=exc.line) from None
    if not statements:
        raise DomainError("The file holds no statement.", field="file")
    for st in statements:
        if _iban(st.account) != _iban(org.iban):
            raise DomainError(f"This statement is for account {st.account}, not for this organisation's account.",
                              field="file")
    movements = [m for st in statements for m in st.bookable_movements() if m.amount > 0]
    references = [m.reference for m in movements]
    known = set()
    for chunk in range(0, len(references), 500):
        known |= set(session.execute(sa.select(BankLine.reference).where(
            BankLine.org_id == org.id, BankLine.reference.in_(references[chunk:chunk + 500]))).scalars())
    fresh = [m for m in movements if m.reference not in known]
    refs = {m.reference: (m.structured_communication or services.parse_structured_ref(m.communication))
            for m in fresh}
    wanted = [r for r in refs.values() if r]
    invoices: dict[str, Invoice] = {}
    for chunk in range(0, len(wanted), 500):
        for invoice in session.execute(sa.select(Invoice).where(
                Invoice.org_id == org.id, Invoice.kind == "invoice",
                Invoice.structured_ref.in_(wanted[chunk:chunk + 500]))).scalars():
            invoices[invoice.structured_ref] = invoice
    booked = unmatched = 0
    for m in fresh:
        ref = refs[m.reference]
        line = BankLine(org_id=org.id, reference=m.reference[:120], account=_iban(statements[0].account)[:34],
                        amount=services.money(m.amount), value_date=m.value_date or m.entry_date,
                        communication=(m.communication or "")[:500] or None, structured_ref=ref,
                        counterparty_name=(m.counterparty_name or "")[:255] or None,
                        counterparty_account=(m.counterparty_account or "")[:34] or None)
        session.add(line)
        invoice = invoices.get(ref) if ref else None
        if invoice is not None and invoice.status in services.OPEN_STATUSES:
            _book(session, line, invoice, created_by_id)
            booked += 1
        else:
            unmatched += 1
    session.flush()
    return {"statements": len(statements), "movements": len(movements), "booked": booked,
            "unmatched": unmatched, "already_imported": len(movements) - len(fresh)}


def _book(session: Session, line: BankLine, invoice: Invoice, created_by_id: int | None) -> None:
    services.register_payment(session, invoice, line.amount, line.value_date, "coda",
                              reference=line.communication or line.counterparty_name,
                              external_id=f"coda:{line.org_id}:{line.reference}", created_by_id=created_by_id)
    line.status = "booked"
    line.invoice_id = invoice.id


def bank_lines_query(org: Organisation, status: str | None = "unmatched"):
    query = sa.select(BankLine).where(BankLine.org_id == org.id)
    if status:
        query = query.where(BankLine.status == status)
    return query.order_by(BankLine.value_date.desc(), BankLine.id.desc())


def match_line(session: Session, org: Organisation, line_id: int, invoice_id: int,
               created_by_id: int | None = None) -> BankLine:
    """Book an unmatched bank line on an open invoice of `org` by hand."""
    line = session.execute(sa.select(BankLine).where(BankLine.id == line_id, BankLine.org_id == org.id)
                           .with_for_update()).scalar_one_or_none()
    if line is None:
        raise NotFound("Unknown bank line.")
    if line.status != "unmatched":
        raise Conflict("This bank line is booked or ignored already.", field="status")
    invoice = session.execute(sa.select(Invoice).where(Invoice.id == invoice_id, Invoice.org_id == org.id,
                                                       Invoice.kind == "invoice")).scalar_one_or_none()
    if invoice is None:
        raise DomainError("Unknown invoice.", field="invoice_id")
    if invoice.status not in services.OPEN_STATUSES:
        raise Conflict("The invoice is not open.", field="invoice_id")
    _book(session, line, invoice, created_by_id)
    session.flush()
    return line


def ignore_line(session: Session, org: Organisation, line_id: int) -> BankLine:
    line = session.execute(sa.select(BankLine).where(BankLine.id == line_id, BankLine.org_id == org.id)
                           ).scalar_one_or_none()
    if line is None:
        raise NotFound("Unknown bank line.")
    if line.status == "booked":
        raise Conflict("A booked bank line cannot be ignored.", field="status")
    line.status = "ignored"
    session.flush()
    return line
