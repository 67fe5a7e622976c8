"""Admin pages of the membership module (`/o/<org_id>/membership/...`).

The member list with filters, saved filters, bulk actions (end, change type, e-mail; checked rows or
every result of the filter) and its outputs (Excel, address list, labels, e-mail list, birthdays);
adding, changing and transferring memberships; correcting a member's name and birth date; types and
seasons; the Excel import with its column-mapping step; the federation overview. Routes stay thin.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale, gettext as _

from core import audit
from core.access import current_access
from core.db import db
from core.gates import federa, is_enabled, public_endpoint
from core.jobs import job_runner
from core.models import Organisation, Person
from core.services import Conflict, DomainError, NotFound
from core.services import custom_fields as cf
from core.services import people
from core.settings import get_setting
from core.validation import mask_national_number
from core.web.guard import can, require
from plugins.membership import applications, exports, imports, services
from plugins.membership import permissions as perms
from plugins.membership.models import APPLICATION_STATUSES, Membership

web = Blueprint("membership_web", __name__, template_folder="templates", url_prefix="/o/<int:org_id>/membership")

PAGE_SIZE = 50
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")


def _errors_of(exc: DomainError) -> dict:
    errors = dict(exc.details.get("errors") or {})
    if not errors:
        errors[exc.field or "form"] = exc.message
    return errors


def _filters_from(args) -> dict:
    return services.clean_filters({k: v for k, v in args.items() if k != "page"})


def _months():
    return [(m, format_date(dt.date(2000, m, 1), "MMMM")) for m in range(1, 13)]


def _sub_orgs(org: Organisation) -> list[Organisation]:
    return list(db.session.execute(sa.select(Organisation).where(
        Organisation.path.like(org.path + "%"), Organisation.id != org.id).order_by(Organisation.path)).scalars())


# --- the member list --------------------------------------------------------------------------------------

@web.route("/")
@require(perms.READ)
def members(org_id: int):
    org = g.org
    saved_id = request.args.get("saved", type=int)
    if saved_id:
        for saved in services.saved_filters(db.session, org):
            if saved.id == saved_id:
                return redirect(url_for("membership_web.members", org_id=org.id, **saved.query))
    filters = _filters_from(request.args)
    page_no = max(request.args.get("page", 1, type=int) or 1, 1)
    errors: dict = {}
    result = {"items": [], "total": 0, "page": page_no, "page_size": PAGE_SIZE}
    try:
        mq = services.members_query(db.session, org, filters)
        result = services.member_page(db.session, mq, page_no, PAGE_SIZE)
    except DomainError as exc:
        errors = _errors_of(exc)
    pages = max(1, -(-result["total"] // PAGE_SIZE))

    def page_url(number: int) -> str:
        return url_for("membership_web.members", org_id=org.id, page=number, **filters)

    return render_template(
        "membership/members.html", org=org, result=result, shown=filters, errors=errors, pages=pages,
        page_url=page_url, types=services.applicable_types(db.session, org), seasons=services.seasons_of(db.session, org),
        sub_orgs=_sub_orgs(org), fields=cf.applicable_fields(db.session, org), months=_months(),
        saved=services.saved_filters(db.session, org), status_of=services.effective_status,
        filter_args=filters, idempotency=uuid.uuid4().hex, today=dt.date.today(),
        can_write=can(perms.WRITE), can_import=can(perms.IMPORT), can_types=can(perms.TYPES_WRITE),
        documents=is_enabled(org, "documents"),
    ), (400 if errors else 200)


@web.route("/saved", methods=["POST"])
@require(perms.READ)
def save_filter(org_id: int):
    filters = {k[2:]: v for k, v in request.form.items() if k.startswith("f.")}
    try:
        services.save_filter(db.session, g.org, request.form.get("name", ""), filters, g.user.id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("The filter was saved."), "success")
    return redirect(url_for("membership_web.members", org_id=g.org.id, **services.clean_filters(filters)))


@web.route("/saved/<int:filter_id>/delete", methods=["POST"])
@require(perms.READ)
def delete_filter(org_id: int, filter_id: int):
    try:
        services.delete_filter(db.session, g.org, filter_id)
    except NotFound:
        abort(404)
    db.session.commit()
    flash(_("The filter was deleted."), "success")
    return redirect(url_for("membership_web.members", org_id=g.org.id))


@web.route("/bulk", methods=["POST"])
@require(perms.WRITE)
def bulk(org_id: int):
    """One of the bulk actions on the checked rows or on every result of the filter."""
    org = g.org
    form = request.form
    filters = services.clean_filters({k[2:]: v for k, v in form.items() if k.startswith("f.")})
    back = url_for("membership_web.members", org_id=org.id, **filters)
    action = form.get("action")
    everything = form.get("scope") == "all"
    ids = form.getlist("ids")
    key = form.get("idempotency", "")[:64]
    if not everything and not ids:
        flash(_("Select members first, or choose all results of the filter."), "error")
        return redirect(back)
    try:
        if action == "end":
            if everything:
                services.members_query(db.session, org, filters)
                day, reason = services._clean_end(form.get("end_date"), form.get("reason"))
                job = job_runner().enqueue(
                    db.session, "membership.end_memberships", org_id=org.id, title=_("End memberships"),
                    idempotency_key=f"membership.end:{org.id}:{key}" if key else None, created_by_id=g.user.id,
                    filters=filters, end_date=day.isoformat(), reason=reason)
                db.session.commit()
                return redirect(url_for("web.job", org_id=org.id, job_id=job.id))
            result = services.end_memberships(db.session, org, ids, form.get("end_date"), form.get("reason"))
            db.session.commit()
            flash(_("%(num)d memberships ended.", num=len(result.done)), "success")
        elif action == "change_type":
            if everything:
                ids = services.selected_ids(db.session, services.members_query(db.session, org, filters))
            result = services.change_type(db.session, org, ids, form.get("type_id"))
            db.session.commit()
            flash(_("%(num)d memberships changed.", num=len(result.done)), "success")
        elif action == "documents":
            # The documents module takes it from here: it asks for the kind of document and makes the batch.
            if not is_enabled(org, "documents"):
                raise DomainError(_("The documents module is not enabled here."), field="action")
            if everything:
                services.members_query(db.session, org, filters)  # refuses a filter that would not run
                return redirect(url_for("documents_web.generate", org_id=org.id, **filters))
            return redirect(url_for("documents_web.generate", org_id=org.id,
                                    person_id=services.person_ids_of(db.session, org, ids)))
        elif action == "email":
            subject, body = form.get("subject", "").strip(), form.get("body", "").strip()
            if not subject or not body:
                raise DomainError("write a subject and a message", field="subject")
            job = job_runner().enqueue(
                db.session, "membership.send_email", org_id=org.id, title=_("E-mail to members"),
                idempotency_key=f"membership.email:{org.id}:{key}" if key else None, created_by_id=g.user.id,
                filters=filters, subject=subject, body=body, membership_ids=None if everything else ids)
            db.session.commit()
            return redirect(url_for("web.job", org_id=org.id, job_id=job.id))
        else:
            flash(_("Choose an action."), "error")
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {v}" for k, v in _errors_of(exc).items())
        flash(f"{exc.message} ({details})" if details and details != exc.message else exc.message, "error")
    return redirect(back)


# --- outputs of a list -----------------------------------------------------------------------------------------

def _query_or_400():
    try:
        return services.members_query(db.session, g.org, _filters_from(request.args))
    except DomainError as exc:
        abort(400, description=exc.message)


@web.route("/export.xlsx")
@require(perms.READ)
def export_excel(org_id: int):
    from plugins.membership.api import excel_response

    _query_or_400()
    return excel_response(g.org, _filters_from(request.args))


def _pdf_response(html: str, name: str) -> Response:
    response = Response(exports.render_pdf(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@web.route("/addresses.pdf")
@require(perms.READ)
def address_list(org_id: int):
    mq = _query_or_400()
    entries = exports.addressees(db.session, mq)
    services.record_export(db.session, g.org, "address_list", len(entries), mq.filters)
    db.session.commit()
    html = render_template("membership/pdf/addresses.html", org=g.org, entries=entries, today=dt.date.today())
    return _pdf_response(html, "adreslijst.pdf")


@web.route("/labels.pdf")
@require(perms.READ)
def labels(org_id: int):
    mq = _query_or_400()
    entries = [e for e in exports.addressees(db.session, mq) if e.street or e.city]
    registry = federa().settings
    layout = exports.label_layout(*(int(get_setting(db.session, registry, g.org, f"membership.{key}")) for key in (
        "label_columns", "label_rows", "label_margin_top_mm", "label_margin_left_mm", "label_padding_mm")))
    services.record_export(db.session, g.org, "labels", len(entries), mq.filters)
    db.session.commit()
    html = render_template("membership/pdf/labels.html", entries=entries, layout=layout)
    return _pdf_response(html, "etiketten.pdf")


@web.route("/emails")
@require(perms.READ)
def email_list(org_id: int):
    mq = _query_or_400()
    addresses, without = exports.email_list(db.session, mq)
    services.record_export(db.session, g.org, "email_list", len(addresses), mq.filters)
    db.session.commit()
    if request.args.get("format") == "txt":
        response = Response("; ".join(addresses) + "\n", mimetype="text/plain")
        response.headers["Content-Disposition"] = 'attachment; filename="e-mailadressen.txt"'
        return response
    return render_template("membership/emails.html", org=g.org, addresses=addresses, without=without,
                           filter_args=mq.filters)


@web.route("/birthdays")
@require(perms.READ)
def birthdays(org_id: int):
    period = request.args.get("period", "month")
    if period not in exports.PERIODS:
        period = "month"
    try:
        start = dt.date.fromisoformat(request.args.get("date", "")) if request.args.get("date") else dt.date.today()
    except ValueError:
        start = dt.date.today()
    mq = _query_or_400()
    rows = exports.birthdays(db.session, mq, period, start)
    return render_template("membership/birthdays.html", org=g.org, rows=rows, period=period, start=start,
                           filter_args={k: v for k, v in mq.filters.items()}, periods=exports.PERIODS)


# --- one membership ------------------------------------------------------------------------------------------

@web.route("/new", methods=["GET", "POST"])
@require(perms.WRITE)
def membership_new(org_id: int):
    org = g.org
    person = None
    person_id = request.values.get("person_id", type=int)
    if person_id:
        try:
            person = people.visible_person(db.session, org, person_id)
        except NotFound:
            abort(404)
    values = dict(request.form) if request.method == "POST" else {"starts_on": dt.date.today().isoformat()}
    errors: dict = {}
    duplicate = None
    if request.method == "POST":
        try:
            subject = person
            if subject is None:
                data = {k: request.form.get(k, "") for k in ("first_name", "last_name", "birth_date",
                                                             "national_number", "email", "gender")}
                subject = people.create_person(db.session, org, data,
                                               confirm_duplicate=bool(request.form.get("confirm_duplicate")))
            m = services.add_membership(db.session, org, subject, {
                "type_id": request.form.get("type_id"), "starts_on": request.form.get("starts_on"),
                "status": request.form.get("status") or None, "iban": request.form.get("iban")})
        except Conflict as exc:
            db.session.rollback()
            if exc.details.get("existing_person_id"):
                duplicate = db.session.get(Person, exc.details["existing_person_id"])
            errors = _errors_of(exc)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("The membership was added."), "success")
            return redirect(url_for("web.person", org_id=org.id, person_id=m.person_id)
                            if can("core.people.read") else url_for("membership_web.members", org_id=org.id))
    return render_template("membership/membership_new.html", org=org, person=person, values=values, errors=errors,
                           duplicate=duplicate, types=services.applicable_types(db.session, org, active_only=True)), (
        422 if errors else 200)


def _membership_or_404(membership_id: int) -> Membership:
    try:
        return services.get_membership(db.session, g.org, membership_id)
    except NotFound:
        abort(404)


@web.route("/m/<int:membership_id>", methods=["GET", "POST"])
@require(perms.READ)
def membership(org_id: int, membership_id: int):
    org = g.org
    m = _membership_or_404(membership_id)
    errors: dict = {}
    if request.method == "POST":
        if not can(perms.WRITE):
            abort(403)
        data = {k: request.form.get(k) for k in ("type_id", "starts_on", "ends_on", "end_reason", "status")
                if k in request.form}
        if "type_id" in data:
            data["type_id"] = int(data["type_id"]) if (data["type_id"] or "").isdigit() else data["type_id"]
        for key in ("ends_on", "end_reason"):
            if key in data and not (data[key] or "").strip():
                data[key] = None
        try:
            services.update_membership(db.session, org, m, data)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
            m = _membership_or_404(membership_id)
        else:
            db.session.commit()
            flash(_("The membership was saved."), "success")
            return redirect(url_for("membership_web.membership", org_id=org.id, membership_id=m.id))
    club = db.session.get(Organisation, m.org_id)
    targets = [o for o in _transfer_targets(org) if o.id != m.org_id]
    audit.record_view(db.session, m.person_id, what="membership_membership")
    db.session.commit()
    return render_template("membership/membership.html", org=org, m=m, club=club, errors=errors,
                           type_name=services.type_of(db.session, m).name,
                           types=services.applicable_types(db.session, club), status=services.effective_status(m),
                           targets=targets, can_write=can(perms.WRITE),
                           history=services.memberships_of(db.session, org, m.person_id)), (422 if errors else 200)


def _transfer_targets(org: Organisation) -> list[Organisation]:
    """Clubs the user may add members to: visible, membership on, membership.write there."""
    access = current_access()
    owner = services.federation_of(db.session, org)
    clubs = services.clubs_below(db.session, owner)
    return [c for c in clubs if access.can_see(c) and is_enabled(c, "membership") and access.has(perms.WRITE, c)]


@web.route("/m/<int:membership_id>/transfer", methods=["POST"])
@require(perms.WRITE)
def transfer(org_id: int, membership_id: int):
    org = g.org
    m = _membership_or_404(membership_id)
    target_id = request.form.get("to_org_id", type=int)
    target = next((c for c in _transfer_targets(org) if c.id == target_id), None)
    if target is None:
        flash(_("Choose a club you can add members to."), "error")
        return redirect(url_for("membership_web.membership", org_id=org.id, membership_id=m.id))
    try:
        created = services.transfer(db.session, org, m, target, request.form.get("date"),
                                    request.form.get("type_id") or None)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("membership_web.membership", org_id=org.id, membership_id=m.id))
    db.session.commit()
    flash(_("The member was transferred to %(club)s.", club=target.name), "success")
    if current_access().can_see(target) and target.path.startswith(org.path):
        return redirect(url_for("membership_web.membership", org_id=org.id, membership_id=created.id))
    return redirect(url_for("membership_web.members", org_id=org.id))


@web.route("/people/<int:person_id>/correct", methods=["GET", "POST"])
@require(perms.WRITE)
def correct(org_id: int, person_id: int):
    """Club admins correct the name, first name and birth date of their members."""
    org = g.org
    try:
        person = services.member_person(db.session, org, person_id)
    except NotFound:
        abort(404)
    errors: dict = {}
    values = {"first_name": person.first_name, "last_name": person.last_name,
              "birth_date": person.birth_date.isoformat() if person.birth_date else ""}
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in values}
        try:
            services.correct_person(db.session, org, person, values)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("The details were corrected."), "success")
            return redirect(url_for("membership_web.members", org_id=org.id))
    return render_template("membership/correct.html", org=org, person=person, values=values, errors=errors), (
        422 if errors else 200)


# --- types and seasons -----------------------------------------------------------------------------------------

@web.route("/types", methods=["GET", "POST"])
@require(perms.READ)
def types(org_id: int):
    org = g.org
    errors: dict = {}
    values: dict = {"sporting": "on", "price": "0.00"}
    editing = None
    edit_id = request.values.get("edit", type=int)
    if edit_id:
        try:
            editing = services.own_type(db.session, org, edit_id)
        except NotFound:
            abort(404)
        values = {"name": editing.name, "price": editing.price, "min_age": editing.min_age or "",
                  "max_age": editing.max_age or "", "sporting": "on" if editing.sporting else "",
                  "active": "on" if editing.active else ""}
    if request.method == "POST":
        if not can(perms.TYPES_WRITE):
            abort(403)
        values = dict(request.form)
        data = {"name": values.get("name"), "price": values.get("price"), "min_age": values.get("min_age"),
                "max_age": values.get("max_age"), "sporting": bool(values.get("sporting")),
                "active": bool(values.get("active")) if editing else True}
        try:
            if editing is not None:
                services.update_type(db.session, org, editing, data)
            else:
                services.create_type(db.session, org, data)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("The membership type was saved."), "success")
            return redirect(url_for("membership_web.types", org_id=org.id))
    return render_template("membership/types.html", org=org, types=services.applicable_types(db.session, org),
                           values=values, errors=errors, editing=editing, can_write=can(perms.TYPES_WRITE)), (
        422 if errors else 200)


@web.route("/seasons", methods=["GET", "POST"])
@require(perms.READ)
def seasons(org_id: int):
    org = g.org
    owner = services.federation_of(db.session, org)
    errors: dict = {}
    values: dict = {}
    if request.method == "POST":
        if not can(perms.SEASONS_WRITE):
            abort(403)
        values = dict(request.form)
        try:
            services.create_season(db.session, org, {k: values.get(k) for k in (
                "name", "starts_on", "ends_on", "cleanup_deadline")})
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(_("The season was added."), "success")
            return redirect(url_for("membership_web.seasons", org_id=org.id))
    return render_template("membership/seasons.html", org=org, owner=owner, values=values, errors=errors,
                           seasons=services.seasons_of(db.session, org), today=dt.date.today(),
                           can_write=can(perms.SEASONS_WRITE) and owner.id == org.id), (422 if errors else 200)


# --- import --------------------------------------------------------------------------------------------------------

def _upload_dir() -> Path:
    path = Path(current_app.config["DATA_DIR"]) / "membership" / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _upload(token: str) -> tuple[Path, dict]:
    """The uploaded file of this import and its metadata; only the organisation that uploaded it sees it."""
    if not TOKEN_RE.match(token):
        abort(404)
    meta_path = _upload_dir() / f"{token}.json"
    if not meta_path.exists():
        abort(404)
    meta = json.loads(meta_path.read_text())
    if meta.get("org_id") != g.org.id:
        abort(404)
    return _upload_dir() / f"{token}.xlsx", meta


@web.route("/import", methods=["GET", "POST"])
@require(perms.IMPORT)
def import_upload(org_id: int):
    """Step 1: upload the file (kept on disk, not in the database, until it is imported)."""
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            error = _("Choose an Excel file (.xlsx).")
        else:
            token = uuid.uuid4().hex
            path = _upload_dir() / f"{token}.xlsx"
            upload.save(path)
            try:
                sheet = imports.read_sheet(str(path))
            except DomainError as exc:
                path.unlink(missing_ok=True)
                error = exc.message
            else:
                meta = {"org_id": g.org.id, "name": upload.filename, "sheets": sheet.sheet_names,
                        "user_id": g.user.id}
                (_upload_dir() / f"{token}.json").write_text(json.dumps(meta))
                return redirect(url_for("membership_web.import_map", org_id=g.org.id, token=token))
    return render_template("membership/import.html", org=g.org, error=error), (422 if error else 200)


@web.route("/import/<token>", methods=["GET", "POST"])
@require(perms.IMPORT)
def import_map(org_id: int, token: str):
    """Step 2: map columns to fields (recognised headers preselected), then check or import."""
    org = g.org
    path, meta = _upload(token)
    sheet_name = request.values.get("sheet") or meta["sheets"][0]
    custom = cf.fields_by_key(db.session, org)
    error = None
    rows: list = []
    summary = None
    try:
        sheet = imports.read_sheet(str(path), sheet_name)
    except DomainError as exc:
        sheet, error = None, exc.message
    headers = [h for h in sheet.headers if h] if sheet else []
    mapping = imports.auto_mapping(headers, custom)
    status = 200
    if request.method == "POST" and sheet is not None:
        mapping = {h: request.form.get(f"map.{i}", "") for i, h in enumerate(headers)}
        mapping = {h: t for h, t in mapping.items() if t}
        dry_run = request.form.get("do") != "import"
        try:
            summary = imports.run_import(db.session, org, str(path), mapping=mapping, sheet=sheet_name,
                                         dry_run=dry_run, user_id=g.user.id)
        except imports.ImportFailed as exc:
            db.session.rollback()
            rows = exc.details.get("rows") or []
            error = exc.message
            status = 422
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
            status = 422
        else:
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
                path.unlink(missing_ok=True)
                (_upload_dir() / f"{token}.json").unlink(missing_ok=True)
                flash(_("Import done: %(people)d new people, %(memberships)d new memberships, %(updated)d people "
                        "updated.", people=summary.created_people, memberships=summary.created_memberships,
                        updated=summary.updated_people), "success")
                return redirect(url_for("membership_web.members", org_id=org.id))
    fields = [(key, label) for key, label in exports.COLUMNS if key not in imports.IGNORED]
    fields += [(f"cf.{k}", f.label) for k, f in custom.items()]
    return render_template("membership/import_map.html", org=org, token=token, meta=meta, sheet_name=sheet_name,
                           headers=headers, mapping=mapping, fields=fields, error=error, rows=rows[:500],
                           row_count=len(rows), summary=summary), status


# --- federation overview ---------------------------------------------------------------------------------------------

@web.route("/overview")
@require(perms.READ)
def overview(org_id: int):
    org = g.org
    season = None
    season_id = request.args.get("season_id", type=int)
    try:
        season = services.get_season(db.session, org, season_id) if season_id else services.current_season(
            db.session, org)
    except NotFound:
        abort(404)
    data = services.overview(db.session, org, season)
    return render_template("membership/overview.html", org=org, data=data, season=season,
                           seasons=services.seasons_of(db.session, org), can_write=can(perms.WRITE),
                           idempotency=f"{season.id if season else 0}-{dt.date.today().isoformat()}")


@web.route("/reminders", methods=["POST"])
@require(perms.WRITE)
def reminders(org_id: int):
    org = g.org
    season = services.current_season(db.session, org)
    season_id = request.form.get("season_id", type=int)
    if season_id:
        try:
            season = services.get_season(db.session, org, season_id)
        except NotFound:
            abort(404)
    if season is None:
        flash(_("No season is running."), "error")
        return redirect(url_for("membership_web.overview", org_id=org.id))
    key = request.form.get("idempotency", "")[:64]
    job = job_runner().enqueue(db.session, "membership.send_cleanup_reminders", org_id=org.id,
                               title=_("Clean-up reminders"), created_by_id=g.user.id, season_id=season.id,
                               idempotency_key=f"membership.reminders:{org.id}:{key}" if key else None)
    db.session.commit()
    return redirect(url_for("web.job", org_id=org.id, job_id=job.id))


@web.route("/cleanup", methods=["POST"])
@require(perms.WRITE)
def cleanup(org_id: int):
    try:
        services.confirm_cleanup(db.session, g.org, g.user.id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("Thank you: the clean-up of the member list is recorded."), "success")
    return redirect(url_for("membership_web.members", org_id=g.org.id))


# --- applications from the public sign-up form ----------------------------------------------------------------

def _form_settings() -> "applications.FormSettings":
    return applications.form_settings(db.session, federa().settings, g.org)


def _required_fields(org: Organisation) -> list:
    """The custom fields a new person must have in this organisation (asked when accepting an application)."""
    return [f for f in cf.applicable_fields(db.session, org) if f.required]


def _custom_values(form, fields) -> dict:
    return {f.key: ("true" if form.get(f"cf.{f.key}") else "false") if f.field_type == "bool"
            else form.get(f"cf.{f.key}", "") for f in fields}


@web.route("/applications")
@require(perms.READ)
def applications_list(org_id: int):
    org = applications.club_of(g.org)
    status = request.args.get("status") or "new"
    if status not in APPLICATION_STATUSES:
        abort(400)
    rows = db.session.execute(applications.applications_query(org, status).limit(500)).scalars().all()
    return render_template("membership/applications.html", org=org, rows=rows, status=status,
                           counts=applications.counts(db.session, org), settings=_form_settings(),
                           type_names=applications.type_names(db.session, org),
                           can_write=can(perms.WRITE))


def _application_or_404(application_id: int):
    try:
        return applications.get_application(db.session, g.org, application_id)
    except NotFound:
        abort(404)


@web.route("/applications/<int:application_id>", methods=["GET", "POST"])
@require(perms.READ)
def application(org_id: int, application_id: int):
    org = g.org
    item = _application_or_404(application_id)
    errors: dict = {}
    values = dict(request.form) if request.method == "POST" else {
        "type_id": item.type_id or "", "starts_on": dt.date.today().isoformat()}
    if request.method == "POST":
        if not can(perms.WRITE):
            abort(403)
        action = request.form.get("action")
        try:
            if action == "accept":
                data = {**request.form, "custom_fields": _custom_values(request.form, _required_fields(org))}
                membership = applications.accept(db.session, org, item, data, g.user.id,
                                                 may_link_others=can("core.people.write"))
                message = _("%(name)s is now a member.", name=membership.person.full_name)
                if request.form.get("invite") and can("core.roles.write"):
                    problem = applications.invite_to_app(db.session, org, item, federa().permissions,
                                                         current_access().granter(org), g.user.person.full_name)
                    if problem:
                        flash(_("No invitation to the member app: %(reason)s", reason=problem), "warning")
                    else:
                        message = _("%(name)s is now a member and can use the member app.",
                                    name=membership.person.full_name)
            elif action == "decline":
                applications.decline(db.session, item, request.form.get("reason"), g.user.id,
                                     tell_applicant=bool(request.form.get("tell_applicant")))
                message = _("The application was declined.")
            elif action == "wait":
                applications.put_on_waiting_list(db.session, item)
                message = _("The application is on the waiting list.")
            else:
                abort(400)
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            flash(message, "success")
            if action == "accept" and can("core.people.read"):
                return redirect(url_for("web.person", org_id=org.id, person_id=item.person_id))
            return redirect(url_for("membership_web.applications_list", org_id=org.id,
                                    status="waiting" if action == "wait" else "new"))
    if request.method == "GET" and item.status != "accepted":
        applications.record_view(db.session, item)
        db.session.commit()
    try:
        found, number_problem = applications.matches(db.session, org, item), None
    except applications.NumberOfSomeoneElse as exc:
        found, number_problem = [], exc.message
    return render_template("membership/application.html", org=org, item=item, values=values, errors=errors,
                           matches=found, number_problem=number_problem,
                           required_fields=_required_fields(org),
                           shown_errors={k: v for k, v in errors.items()
                                         if k not in ("person_id", "type_id", "starts_on", "reason")
                                         and not k.startswith("custom_fields.")},
                           position=applications.waiting_position(db.session, item),
                           types=applications.offered_types(db.session, org), can_write=can(perms.WRITE),
                           type_names=applications.type_names(db.session, org), can_invite=can("core.roles.write"),
                           shown_number=item.national_number if can("core.people.national_number")
                           else mask_national_number(item.national_number)), (422 if errors else 200)


@web.route("/applications/form", methods=["GET", "POST"])
@require(perms.WRITE)
def signup_form_settings(org_id: int):
    """The sign-up form's settings on one page (the same settings as on the organisation page)."""
    from core.settings import SettingErrors, set_settings

    org = applications.club_of(g.org)
    registry = federa().settings
    errors: dict = {}
    values = dataclasses.asdict(_form_settings())
    if request.method == "POST":
        submitted = {name: (request.form.get(name) == "1") if registry[f"membership.signup_{name}"].type is bool
                     else request.form.get(name, "") for name in applications.FORM_FIELDS}
        values = submitted
        try:
            submitted["notify"] = applications.check_notify(submitted["notify"])
        except ValueError as exc:
            errors["notify"] = str(exc)
        url = (submitted["privacy_url"] or "").strip()
        if url and not re.match(r"^https?://\S+$", url):
            errors["privacy_url"] = _("a web address starting with https://")
        if not errors:
            try:
                # What still equals the inherited value stays inherited: a federation's later change reaches it.
                set_settings(db.session, registry, org,
                             {f"membership.signup_{name}": value for name, value in submitted.items()},
                             keep_inherited=True)
            except SettingErrors as exc:
                errors = {key.removeprefix("membership.signup_"): message for key, message in exc.errors.items()}
        if errors:
            db.session.rollback()
        else:
            db.session.commit()
            flash(_("The sign-up form is saved."), "success")
            return redirect(url_for("membership_web.applications_list", org_id=org.id))
    return render_template("membership/signup_settings.html", org=org, values=values, errors=errors), (
        422 if errors else 200)


# --- the public sign-up form ------------------------------------------------------------------------------------

public = Blueprint("membership_public", __name__, template_folder="templates", url_prefix="/join/<int:org_id>")


@public.route("/", methods=["GET", "POST"])
@public_endpoint
def signup(org_id: int):
    org = applications.club_of(g.org)
    settings = _form_settings()
    state = applications.form_state(db.session, org, settings)
    errors: dict = {}
    values = dict(request.form) if request.method == "POST" else {}
    closed = None
    if not settings.open:
        closed = _("This club does not take applications online at the moment.")
    elif not state.accepting:
        closed = _("This club is full and takes no new members at the moment.")
    if closed:
        return render_template("membership/signup_closed.html", org=org, message=closed), 404
    if request.method == "POST":
        if request.form.get("website"):  # a field people never see: only robots fill it in
            return redirect(url_for("membership_public.signup_sent", org_id=org.id))
        try:
            item = applications.submit(
                db.session, org, settings, {**request.form, "preferred_language": str(get_locale().language)},
                source=applications.source_hash(current_app.secret_key, request.remote_addr))[0]
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
        else:
            db.session.commit()
            return redirect(url_for("membership_public.signup_sent", org_id=org.id,
                                    waiting=1 if item.status == "waiting" else None))
    return render_template("membership/signup.html", org=org, settings=settings, values=values, errors=errors,
                           waits=state.waits,
                           types=applications.offered_types(db.session, org)), (422 if errors else 200)


@public.route("/sent")
@public_endpoint
def signup_sent(org_id: int):
    return render_template("membership/signup_sent.html", org=applications.club_of(g.org),
                           waiting=bool(request.args.get("waiting")))
