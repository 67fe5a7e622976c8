"""Admin pages of the documents module under `/o/<org_id>/documents/...` and the public `/verify/<token>`."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.db import db
from core.files import ImageError, read_limited
from core.gates import public_endpoint
from core.models import Job, Person
from core.services import DomainError
from core.web.guard import can, require
from plugins.documents import permissions as perms
from plugins.documents import services
from plugins.documents.kinds import document_kinds, get_kind
from plugins.documents.models import DocumentBatch

web = Blueprint("documents_web", __name__, template_folder="templates", url_prefix="/o/<int:org_id>/documents")
public = Blueprint("documents_public", __name__, template_folder="templates")


def _errors(exc: DomainError) -> dict:
    errors = dict(exc.details.get("errors") or {})
    if exc.field:
        errors.setdefault(exc.field, exc.message)
    return errors or {"_": exc.message}


@web.route("/")
@require(perms.READ)
def index(org_id: int):
    batches = db.session.execute(
        sa.select(DocumentBatch).where(DocumentBatch.org_id == g.org.id)
        .order_by(DocumentBatch.created_at.desc(), DocumentBatch.id.desc()).limit(50)).scalars().all()
    rows = [(b, services.batch_counts(db.session, b), db.session.get(Job, b.job_id) if b.job_id else None)
            for b in batches]
    return render_template("documents/index.html", kinds=document_kinds(), rows=rows,
                           templates=services.templates_for(db.session, g.org),
                           can_write=can(perms.WRITE), can_templates=can(perms.TEMPLATES_WRITE))


# --- templates -----------------------------------------------------------------------------------------

def _preview(kind, html: str, css: str) -> str | None:
    """The sample member's document as HTML for a sandboxed iframe (None when the template fails)."""
    try:
        template = services.ResolvedTemplate(None, "preview", "nl", html, css)
        body = services.render_body(html, kind.sample())
        return services.full_html(kind, template, [("doc-0", body)])
    except Exception:  # shown as "no preview"; saving reports the exact error
        return None


@web.route("/templates/new", methods=["GET", "POST"])
@require(perms.TEMPLATES_WRITE)
def template_new(org_id: int):
    kind_key = request.values.get("kind") or "sport_certificate"
    if kind_key not in document_kinds():
        abort(404)
    kind = get_kind(kind_key)
    language = request.values.get("language") or "nl"
    default = services.default_template(kind, language)
    form = {"name": "", "language": language, "html": default.html, "css": default.css}
    errors: dict = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("name", "language", "html", "css")}
        if request.form.get("action") != "preview":
            try:
                template = services.create_template(db.session, g.org, {"kind": kind.key, **form})
                db.session.commit()
                flash(_("Template saved."), "success")
                return redirect(url_for(".template_edit", org_id=org_id, template_id=template.id))
            except DomainError as exc:
                db.session.rollback()
                errors = _errors(exc)
    return render_template("documents/template.html", kind=kind, form=form, errors=errors, template=None,
                           preview=_preview(kind, form["html"], form["css"]), editable=True)


@web.route("/templates/<int:template_id>", methods=["GET", "POST"])
@require(perms.READ)
def template_edit(org_id: int, template_id: int):
    template = services.get_template(db.session, g.org, template_id)
    kind = get_kind(template.kind)
    editable = template.org_id == g.org.id and can(perms.TEMPLATES_WRITE)
    form = {"name": template.name, "language": template.language, "html": template.html, "css": template.css}
    errors: dict = {}
    if request.method == "POST":
        if not editable:
            abort(403)
        form = {k: request.form.get(k, "") for k in ("name", "language", "html", "css")}
        if request.form.get("action") != "preview":
            try:
                services.update_template(db.session, g.org, template, form)
                db.session.commit()
                flash(_("Template saved."), "success")
                return redirect(url_for(".template_edit", org_id=org_id, template_id=template.id))
            except DomainError as exc:
                db.session.rollback()
                errors = _errors(exc)
    return render_template("documents/template.html", kind=kind, form=form, errors=errors, template=template,
                           preview=_preview(kind, form["html"], form["css"]), editable=editable)


@web.route("/templates/<int:template_id>/logo", methods=["POST"])
@require(perms.TEMPLATES_WRITE)
def template_logo(org_id: int, template_id: int):
    template = services.get_template(db.session, g.org, template_id)
    upload = request.files.get("logo")
    try:
        if upload is None:
            raise DomainError("choose an image", field="logo")
        try:
            data = read_limited(upload.stream)
        except ImageError as exc:
            raise DomainError(str(exc), field="logo") from None
        services.set_logo(db.session, g.org, template, data)
        db.session.commit()
        flash(_("Logo saved."), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for(".template_edit", org_id=org_id, template_id=template.id))


@web.route("/templates/<int:template_id>/delete", methods=["POST"])
@require(perms.TEMPLATES_WRITE)
def template_delete(org_id: int, template_id: int):
    template = services.get_template(db.session, g.org, template_id)
    services.delete_template(db.session, g.org, template)
    db.session.commit()
    flash(_("Template deleted."), "success")
    return redirect(url_for(".index", org_id=org_id))


@web.route("/templates/<int:template_id>/preview.pdf")
@require(perms.READ)
def template_pdf(org_id: int, template_id: int):
    template = services.get_template(db.session, g.org, template_id)
    kind = get_kind(template.kind)
    resolved = services.resolve_template(db.session, g.org, kind, template.id)
    data = services.render_pdf(kind, resolved, {**kind.sample(), "logo": services.logo_data_uri(template.logo_file)})
    return Response(data, mimetype="application/pdf", headers={"Content-Disposition": 'inline; filename="preview.pdf"'})


# --- generating ------------------------------------------------------------------------------------------

OPTION_FIELDS = ("season_id", "amount_paid", "paid_on", "subject", "body")


@web.route("/generate", methods=["GET", "POST"])
@require(perms.WRITE)
def generate(org_id: int):
    """Generate for checked people (`person_id` repeated) or for every current member."""
    from plugins.membership import services as ms

    person_ids = [int(p) for p in request.values.getlist("person_id") if p.isdigit()]
    # A whole member-list filter, passed on as the member list's query string.
    if request.method == "POST":
        raw = {k[7:]: v for k, v in request.form.items() if k.startswith("filter.")}
    else:
        raw = {k: v for k, v in request.args.items() if k not in ("kind", "person_id")}
    member_filter = ms.clean_filters(raw)
    kind_key = request.values.get("kind") or "sport_certificate"
    errors: dict = {}
    if request.method == "POST":
        kind = document_kinds().get(kind_key)
        options = {k: request.form.get(k) for k in OPTION_FIELDS
                   if request.form.get(k) and (kind is None or k in kind.options)}
        data = {"kind": kind_key, "template_id": request.form.get("template_id") or None, "options": options}
        if person_ids:
            data["person_ids"] = person_ids
        else:
            data["filter"] = member_filter or {"status": "current"}
        try:
            batch, _job = services.create_batch(db.session, g.org, data, user_id=g.user.id)
            db.session.commit()
            flash(_("The documents are being generated."), "success")
            return redirect(url_for(".batch", org_id=org_id, batch_id=batch.id))
        except DomainError as exc:
            db.session.rollback()
            errors = _errors(exc)
    people = []
    if person_ids:
        people = db.session.execute(sa.select(Person).where(Person.id.in_(person_ids[:200]))
                                    .order_by(Person.last_name, Person.first_name)).scalars().all()
    return render_template("documents/generate.html", kinds=document_kinds(), kind_key=kind_key,
                           person_ids=person_ids, people=people, errors=errors, form=request.form,
                           member_filter=member_filter,
                           templates=services.templates_for(db.session, g.org),
                           seasons=ms.seasons_of(db.session, g.org))


@web.route("/batches/<int:batch_id>")
@require(perms.READ)
def batch(org_id: int, batch_id: int):
    item = services.get_batch(db.session, g.org, batch_id)
    job = db.session.get(Job, item.job_id) if item.job_id else None
    documents = services.Document
    docs = db.session.execute(sa.select(documents, Person).join(Person, Person.id == documents.person_id)
                              .where(documents.batch_id == item.id)
                              .order_by(Person.last_name, Person.first_name).limit(500)).all()
    return render_template("documents/batch.html", batch=item, job=job, counts=services.batch_counts(db.session, item),
                           docs=docs, kind=document_kinds().get(item.kind))


@web.route("/files/<int:document_id>.pdf")
@require(perms.READ)
def document_file(org_id: int, document_id: int):
    from core import audit

    document = services.get_document(db.session, g.org, document_id)
    data = services.read_file(document)
    audit.record_view(db.session, document.person_id, what=f"document {document.id}")
    db.session.commit()
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="document-{document.id}.pdf"',
                             "Cache-Control": "private, no-store"})


# --- public verification ------------------------------------------------------------------------------------

@public.route("/verify/<token>")
@public_endpoint
def verify(token: str):
    """What a scanned member card says: valid or expired for its season; only name, club and validity."""
    result = services.verify(db.session, token[:500])
    response = Response(render_template("documents/verify.html", result=result))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
