"""Bank statements (CODA): credit movements whose structured communication matches an open invoice of
the organisation are booked at once; the others wait in a list for manual matching. Each movement is
stored once per organisation under its stable CODA reference, and its payment carries the same
reference as `external_id`, so importing a statement again books nothing twice."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow

from core.models import Organisation
from core.services import Conflict, DomainError, NotFound
from plugins.billing import coda, services
from plugins.billing.models import BankLine, Invoice, Payment

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
    # The open invoices the lines point at, locked (PostgreSQL) so a payment booked by hand at the same moment
    # is not lost. Plain rows, not ORM objects: a statement may book thousands of payments.
    I = Invoice.__table__
    invoices: dict[str, dict] = {}
    for chunk in range(0, len(wanted), 500):
        for row in session.execute(sa.select(I.c.id, I.c.structured_ref, I.c.status, I.c.total, I.c.amount_paid,
                                             I.c.amount_credited).where(
                I.c.org_id == org.id, I.c.kind == "invoice",
                I.c.structured_ref.in_(wanted[chunk:chunk + 500])).with_for_update()).mappings():
            invoices[row["structured_ref"]] = dict(row)
    # Set-based: bulk inserts of the lines and the payments and one executemany for the invoices' paid
    # amounts and statuses; one audit entry sums up the import with the invoices it booked on.
    now = utcnow()
    account = _iban(statements[0].account)[:34]
    line_rows, payment_rows, changed, became_paid = [], [], {}, []
    for m in fresh:
        ref = refs[m.reference]
        invoice = invoices.get(ref) if ref else None
        amount = services.money(m.amount)
        value_date = m.value_date or m.entry_date or now.date()
        booked = invoice is not None and invoice["status"] in services.OPEN_STATUSES
        line_rows.append({
            "org_id": org.id, "reference": m.reference[:120], "account": account, "amount": amount,
            "value_date": value_date, "communication": (m.communication or "")[:500] or None, "structured_ref": ref,
            "counterparty_name": (m.counterparty_name or "")[:255] or None,
            "counterparty_account": (m.counterparty_account or "")[:34] or None,
            "status": "booked" if booked else "unmatched", "invoice_id": invoice["id"] if booked else None,
            "created_at": now})
        if booked:
            payment_rows.append({"invoice_id": invoice["id"], "amount": amount, "paid_on": value_date,
                                 "method": "coda",
                                 "reference": ((m.communication or m.counterparty_name or "")[:255]) or None,
                                 "external_id": f"coda:{org.id}:{m.reference}", "created_by_id": created_by_id,
                                 "created_at": now})
            invoice["amount_paid"] = services.money(invoice["amount_paid"] + amount)
            open_amount = invoice["total"] - invoice["amount_paid"] - invoice["amount_credited"]
            new_status = "paid" if open_amount <= 0 else "partly_paid"
            if new_status == "paid" and invoice["status"] != "paid":
                became_paid.append(invoice["id"])
            invoice["status"] = new_status
            changed[invoice["id"]] = invoice
    try:
        with session.begin_nested():
            for start in range(0, len(line_rows), 2000):
                session.execute(sa.insert(BankLine.__table__), line_rows[start:start + 2000])
            for start in range(0, len(payment_rows), 2000):
                session.execute(sa.insert(Payment.__table__), payment_rows[start:start + 2000])
            if changed:
                session.execute(I.update().where(I.c.id == sa.bindparam("b_id")).values(
                    amount_paid=sa.bindparam("b_paid"), status=sa.bindparam("b_status"), updated_at=now),
                    [{"b_id": i["id"], "b_paid": i["amount_paid"], "b_status": i["status"]}
                     for i in changed.values()])
    except sa.exc.IntegrityError:
        raise Conflict("This statement is being imported at this moment; try again in a minute.",
                       field="file") from None
    from core.audit import _actor
    from core.models import AuditLog

    user_id, actor_org, ip = _actor(session)
    session.add(AuditLog(user_id=user_id, org_id=actor_org or org.id, action="import", entity_type="billing_bank_line",
                         ip=ip, changes={"statements": len(statements), "lines": len(line_rows),
                                         "booked": len(payment_rows), "invoice_ids": sorted(changed)}))
    session.flush()
    session.expire_all()  # invoices loaded before changed underneath the ORM
    for start in range(0, len(became_paid), 500):
        for invoice in session.execute(sa.select(Invoice).where(Invoice.id.in_(became_paid[start:start + 500]))
                                       ).scalars():
            services._paid_event(session, invoice)
    return {"statements": len(statements), "movements": len(movements), "booked": len(payment_rows),
            "unmatched": len(line_rows) - len(payment_rows), "already_imported": len(movements) - len(fresh)}


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
