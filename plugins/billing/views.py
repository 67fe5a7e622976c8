"""Admin pages of billing (`/o/<org_id>/billing/...`): the invoice overview (issued here and received),
a manual invoice, an invoice with its actions (issue, cancel, credit note, payment, PDF, UBL), membership
invoice runs (preview, then a job with a progress bar), bank statements (CODA import and manual
matching), reports with Excel, and the logo printed on invoices. Domain rules live in the services."""
from __future__ import annotations

import math
from datetime import date
import uuid

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.api import paginate
from core.db import db, unscoped
from core.gates import federa
from core.models import Organisation, Person, PersonOrganisation
from core.services import DomainError, NotFound
from core.settings import get_setting, set_setting
from core.web.guard import can, require
from plugins.billing import banking, documents, reports, runs, services
from plugins.billing import permissions as perms
from plugins.billing.models import Invoice

web = Blueprint("billing_web", __name__, template_folder="templates", url_prefix="/o/<int:org_id>/billing")

PAGE_SIZE = 50
STATUS_FILTERS = ("open", "overdue", "draft", "paid", "partly_paid", "credited", "cancelled")
LINE_ROWS = 5


def _setting(key: str):
    return get_setting(db.session, federa().settings, g.org, key)


def _errors_of(exc: DomainError) -> dict:
    errors = {k: (v[0] if isinstance(v, list) else v) for k, v in (exc.details.get("errors") or {}).items()}
    if exc.field and exc.field not in errors:
        errors[exc.field] = exc.message
    return errors


def _invoice_or_404(invoice_id: int, manage: bool = False) -> Invoice:
    try:
        return services.get_invoice(db.session, g.org, invoice_id, received=not manage)
    except NotFound:
        abort(404)


@web.route("/")
@require(perms.READ)
def invoices(org_id: int):
    status = request.args.get("status") or None
    if status not in STATUS_FILTERS:
        status = None
    q = (request.args.get("q") or "").strip()[:100] or None
    received = request.args.get("received") == "1"
    page_no = max(request.args.get("page", 1, type=int), 1)
    with unscoped(db.session):
        page = paginate(db.session, services.list_query(g.org, status, received, q), page_no, PAGE_SIZE)
        rows = [{"invoice": i, "status": services.effective_status(i), "issuer": db.session.get(Organisation, i.org_id),
                 "name": i.recipient_name or services.recipient_display_name(db.session, i)} for i in page["items"]]
    pages = max(1, math.ceil(page["total"] / PAGE_SIZE))
    return render_template("billing/invoices.html", org=g.org, rows=rows, total=page["total"], page=page_no,
                           pages=pages, shown={"status": status or "", "q": q or "", "received": received},
                           statuses=STATUS_FILTERS, can_write=can(perms.WRITE), can_runs=can(perms.RUNS),
                           can_pay=can(perms.PAYMENTS_WRITE))


def _recipient_choices(org: Organisation) -> tuple[list, list]:
    people = db.session.execute(
        sa.select(Person).join(PersonOrganisation, PersonOrganisation.person_id == Person.id)
        .where(PersonOrganisation.org_id == org.id, Person.merged_into_id.is_(None))
        .order_by(Person.last_name, Person.first_name).distinct().limit(1000)).scalars().all()
    with unscoped(db.session):
        orgs = db.session.execute(sa.select(Organisation).where(
            Organisation.path.startswith(org.path), Organisation.id != org.id)
            .order_by(Organisation.name).limit(1000)).scalars().all()
    return people, orgs


def _lines_from_form(form) -> list[dict]:
    lines = []
    for i in range(LINE_ROWS):
        description = (form.get(f"description_{i}") or "").strip()
        price = (form.get(f"unit_price_{i}") or "").strip()
        if not description and not price:
            continue
        vat = form.get(f"vat_{i}") or "E:0"
        category, _sep, rate = vat.partition(":")
        lines.append({"description": description, "quantity": (form.get(f"quantity_{i}") or "1").replace(",", "."),
                      "unit_price": price.replace(",", "."), "vat_category": category, "vat_rate": rate or "0"})
    return lines


VAT_CHOICES = [("E:0", _l("Exempt (E)")), ("S:21", "21%"), ("S:12", "12%"), ("S:6", "6%"),
               ("Z:0", _l("Zero rate (Z)")), ("O:0", _l("Outside the scope of VAT (O)"))]


@web.route("/new", methods=["GET", "POST"])
@require(perms.WRITE)
def invoice_new(org_id: int):
    people, orgs = _recipient_choices(g.org)
    values: dict = {"quantity_0": "1", "token": uuid.uuid4().hex}
    errors: dict = {}
    if request.method == "POST":
        values = dict(request.form)
        recipient = values.get("recipient") or ""
        kind, _sep, rid = recipient.partition(":")
        data = {"recipient_person_id": int(rid) if kind == "p" and rid.isdigit() else None,
                "recipient_org_id": int(rid) if kind == "o" and rid.isdigit() else None}
        try:
            due = date.fromisoformat(values["due_date"]) if values.get("due_date") else None
        except ValueError:
            errors["due_date"] = _("Not a valid date.")
            due = None
        if not errors:
            token = (values.get("token") or "")[:40]
            try:
                invoice = services.create_invoice(
                    db.session, g.org, _lines_from_form(request.form), due_date=due,
                    note=(values.get("note") or "").strip() or None,
                    idempotency_key=f"billing.web:{g.org.id}:{token}" if token else None, **data)
                db.session.commit()
                flash(_("Draft invoice saved."), "success")
                return redirect(url_for("billing_web.invoice", org_id=g.org.id, invoice_id=invoice.id))
            except DomainError as exc:
                db.session.rollback()
                errors = _errors_of(exc)
                if "recipient_org_id" in errors:
                    errors["recipient_person_id"] = errors.pop("recipient_org_id")
    return render_template("billing/invoice_new.html", org=g.org, people=people, orgs=orgs, values=values,
                           errors=errors, rows=range(LINE_ROWS), vat_choices=VAT_CHOICES), 422 if errors else 200


@web.route("/<int:invoice_id>")
@require(perms.READ)
def invoice(org_id: int, invoice_id: int):
    inv = _invoice_or_404(invoice_id)
    issuer = documents.issuer_of(db.session, inv)
    manage = issuer.path.startswith(g.org.path)
    corrects = credit_notes = None
    with unscoped(db.session):
        if inv.corrects_id:
            corrects = db.session.get(Invoice, inv.corrects_id)
        credit_notes = db.session.execute(sa.select(Invoice).where(Invoice.corrects_id == inv.id)).scalars().all()
    return render_template(
        "billing/invoice.html", org=g.org, inv=inv, issuer=issuer, status=services.effective_status(inv),
        ogm=services.format_structured_ref(inv.structured_ref), vat_groups=services.vat_breakdown(inv.lines),
        name=inv.recipient_name or services.recipient_display_name(db.session, inv), corrects=corrects,
        credit_notes=credit_notes, manage=manage, can_write=manage and can(perms.WRITE),
        can_pay=manage and can(perms.PAYMENTS_WRITE), today=date.today(), token=uuid.uuid4().hex)


def _action(invoice_id: int, permission: str, fn, done_message: str):
    if not can(permission):
        abort(403)
    inv = _invoice_or_404(invoice_id, manage=True)
    try:
        result = fn(inv)
        db.session.commit()
        flash(done_message, "success")
        return result, inv
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return None, inv


@web.route("/<int:invoice_id>/issue", methods=["POST"])
def invoice_issue(org_id: int, invoice_id: int):
    terms = int(_setting("billing.payment_terms_days"))
    issued, inv = _action(invoice_id, perms.WRITE, lambda i: services.issue(db.session, i, payment_terms_days=terms),
                          _("Invoice issued."))
    if issued:
        from plugins.billing import delivery

        delivery.after_issue(db.session, inv)
    return redirect(url_for("billing_web.invoice", org_id=g.org.id, invoice_id=invoice_id))


@web.route("/<int:invoice_id>/cancel", methods=["POST"])
def invoice_cancel(org_id: int, invoice_id: int):
    _action(invoice_id, perms.WRITE, lambda i: services.cancel(db.session, i), _("Invoice cancelled."))
    return redirect(url_for("billing_web.invoice", org_id=g.org.id, invoice_id=invoice_id))


@web.route("/<int:invoice_id>/credit", methods=["POST"])
def invoice_credit(org_id: int, invoice_id: int):
    token = (request.form.get("token") or "")[:40]
    note, _inv = _action(invoice_id, perms.WRITE, lambda i: services.credit_note(
        db.session, i, idempotency_key=f"billing.webcredit:{g.org.id}:{token}" if token else None),
        _("Draft credit note made; check and issue it."))
    target = note.id if note is not None else invoice_id
    return redirect(url_for("billing_web.invoice", org_id=g.org.id, invoice_id=target))


@web.route("/<int:invoice_id>/payments", methods=["POST"])
def invoice_payment(org_id: int, invoice_id: int):

    try:
        paid_on = date.fromisoformat(request.form.get("paid_on") or "")
    except ValueError:
        flash(_("Not a valid date."), "error")
        return redirect(url_for("billing_web.invoice", org_id=g.org.id, invoice_id=invoice_id))
    token = (request.form.get("token") or "")[:40]
    amount = (request.form.get("amount") or "").replace(",", ".").strip()
    _action(invoice_id, perms.PAYMENTS_WRITE, lambda i: services.register_payment(
        db.session, i, amount, paid_on, "manual", request.form.get("reference"),
        external_id=f"billing.webpay:{g.org.id}:{token}" if token else None, created_by_id=g.user.id),
        _("Payment registered."))
    return redirect(url_for("billing_web.invoice", org_id=g.org.id, invoice_id=invoice_id))


@web.route("/<int:invoice_id>.pdf")
@require(perms.READ)
def invoice_pdf(org_id: int, invoice_id: int):
    inv = _invoice_or_404(invoice_id)
    if inv.status in ("draft", "cancelled"):
        abort(404)
    return Response(documents.invoice_pdf(db.session, inv), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{inv.number}.pdf"'})


# --- runs ----------------------------------------------------------------------------------------------

@web.route("/runs", methods=["GET", "POST"])
@require(perms.RUNS)
def runs_page(org_id: int):
    from plugins.membership import services as membership

    seasons = membership.seasons_of(db.session, g.org)
    target = request.values.get("target") or ("members" if g.org.kind == "club" else "clubs")
    if target not in ("clubs", "members"):
        target = "members"
    season_id = request.values.get("season_id", type=int) or (seasons[0].id if seasons else None)
    preview = error = None
    if season_id:
        try:
            if request.method == "POST":
                run = runs.start_run(db.session, g.org, season_id, target, g.user.id,
                                     idempotency_key=f"billing.webrun:{g.org.id}:{(request.form.get('token') or '')[:40]}"
                                     if request.form.get("token") else None)
                db.session.commit()
                return redirect(url_for("web.job", org_id=g.org.id, job_id=run.job_id))
            preview = runs.preview(db.session, g.org, season_id, target, _setting("billing.federation_invoice_mode"))
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    return render_template("billing/runs.html", org=g.org, seasons=seasons, season_id=season_id, target=target,
                           preview=preview, error=error, token=uuid.uuid4().hex)


# --- bank statements -------------------------------------------------------------------------------------

@web.route("/bank", methods=["GET", "POST"])
@require(perms.READ)
def bank(org_id: int):
    result = None
    if request.method == "POST":
        if not can(perms.PAYMENTS_WRITE):
            abort(403)
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise DomainError(_("Choose a CODA file."), field="file")
            result = banking.import_coda(db.session, g.org, upload.stream.read(banking.MAX_FILE_BYTES + 1),
                                         created_by_id=g.user.id)
            db.session.commit()
            flash(_("%(booked)s payments booked, %(unmatched)s lines to match.", booked=result["booked"],
                    unmatched=result["unmatched"]), "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
    lines = db.session.execute(banking.bank_lines_query(g.org, "unmatched").limit(200)).scalars().all()
    open_invoices = db.session.execute(sa.select(Invoice).where(
        Invoice.org_id == g.org.id, Invoice.kind == "invoice", Invoice.status.in_(services.OPEN_STATUSES))
        .order_by(Invoice.number).limit(1000)).scalars().all()
    return render_template("billing/bank.html", org=g.org, lines=lines, open_invoices=open_invoices, result=result,
                           can_pay=can(perms.PAYMENTS_WRITE), fmt=services.format_structured_ref)


@web.route("/bank/<int:line_id>", methods=["POST"])
@require(perms.PAYMENTS_WRITE)
def bank_line(org_id: int, line_id: int):
    try:
        if request.form.get("action") == "ignore":
            banking.ignore_line(db.session, g.org, line_id)
            message = _("Bank line ignored.")
        else:
            banking.match_line(db.session, g.org, line_id, request.form.get("invoice_id", type=int) or 0,
                               created_by_id=g.user.id)
            message = _("Payment booked.")
        db.session.commit()
        flash(message, "success")
    except NotFound:
        abort(404)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("billing_web.bank", org_id=g.org.id))


# --- reports and settings ----------------------------------------------------------------------------------

@web.route("/reports")
@require(perms.READ)
def reports_page(org_id: int):
    return render_template("billing/reports.html", org=g.org, data=reports.report(db.session, g.org))


@web.route("/logo", methods=["POST"])
@require("core.organisation.write")
def logo(org_id: int):
    """The logo printed on this organisation's invoices (checked by content, re-encoded without metadata)."""
    from core.files import ImageError, as_photo, read_limited, storage

    upload = request.files.get("logo")
    try:
        if upload is None or not upload.filename:
            raise ImageError(_("Choose an image."))
        key = storage().save("billing_logos", as_photo(read_limited(upload.stream), max_side=800), "jpg")
    except ImageError as exc:
        flash(str(exc), "error")
        return redirect(url_for("billing_web.reports_page", org_id=g.org.id))
    set_setting(db.session, federa().settings, g.org, "billing.logo_file", key)
    db.session.commit()
    flash(_("Logo saved."), "success")
    return redirect(url_for("billing_web.reports_page", org_id=g.org.id))

