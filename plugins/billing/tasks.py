"""Background jobs of billing. Each is idempotent: delivering an invoice records each step (payment
link, e-mail, e-invoice) on the invoice; reminders record the last one sent; runs skip memberships
already charged for the season."""
from __future__ import annotations

import datetime as dt

from core.jobs import JobFailed, JobSpec
from core.services import DomainError
from plugins.billing import delivery, reminders, runs, services
from plugins.billing.models import Invoice


def deliver_invoice_job(ctx, invoice_id: int | None = None, invoice_ids: list | None = None):
    """Payment link, e-mail with PDF and Peppol e-invoice of issued invoices (each step recorded, so a
    retry repeats nothing that was done)."""
    done = 0
    for one in ([invoice_id] if invoice_id is not None else []) + list(invoice_ids or []):
        invoice = ctx.session.get(Invoice, int(one))
        if invoice is None or invoice.status in ("draft", "cancelled"):
            continue
        try:
            delivery.deliver(ctx.session, invoice)
        except DomainError as exc:
            raise JobFailed(exc.message) from None
        done += 1
        if invoice_ids:
            ctx.progress(done, len(invoice_ids))
    return {"delivered": done}


def issue_run_job(ctx, run_id: int, deliver: bool = True):
    """Create and issue the invoices of a membership run, with progress."""
    try:
        return runs.execute_run(ctx.session, ctx.org, run_id, progress=ctx.progress, deliver=deliver)
    except DomainError as exc:
        raise JobFailed(exc.message) from None


def send_reminders_job(ctx):
    """Daily: remind recipients of overdue invoices on each issuer's schedule."""
    return reminders.send_due_reminders(ctx.session, dt.date.today())


JOBS = [
    JobSpec("billing.deliver_invoice", deliver_invoice_job),
    JobSpec("billing.issue_run", issue_run_job),
    JobSpec("billing.send_reminders", send_reminders_job, periodic_seconds=24 * 3600),
]
