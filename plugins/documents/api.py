"""REST API of the documents module, under `/api/v1/orgs/{org_id}/documents/...`, and the member's
download route `/api/v1/me/documents/{id}.pdf`.

Kinds, templates (checked on save, with ETags, logo upload, PDF preview with a sample member),
batches (one request → one job), and the documents of the organisation. Rules live in `services`.
"""
from __future__ import annotations

from flask import Response, g, url_for
from flask.views import MethodView

from core.api import ApiBlueprint
from core.db import db
from core.files import ImageError, read_limited
from core.gates import authenticated_endpoint
from core.models import Job
from plugins.documents import permissions as perms
from plugins.documents import schemas as s
from plugins.documents import services
from plugins.documents.kinds import document_kinds, get_kind
from plugins.documents.models import DocumentBatch, DocumentTemplate

blp = ApiBlueprint("documents_api", __name__, url_prefix="/api/v1/orgs/<int:org_id>/documents",
                   description="Documents: kinds, templates, bulk generation and delivery")
me_blp = ApiBlueprint("documents_me", __name__, url_prefix="/api/v1/me",
                      description="The member's own documents")


def template_payload(t: DocumentTemplate) -> dict:
    return {"id": t.id, "org_id": t.org_id, "kind": t.kind, "name": t.name, "language": t.language,
            "html": t.html, "css": t.css, "has_logo": bool(t.logo_file), "inherited": t.org_id != g.org.id,
            "updated_at": t.updated_at}


def batch_payload(batch: DocumentBatch) -> dict:
    job = db.session.get(Job, batch.job_id) if batch.job_id else None
    return {"id": batch.id, "org_id": batch.org_id, "kind": batch.kind, "template_id": batch.template_id,
            "job_id": batch.job_id, "job_status": job.status if job else None,
            "progress": job.progress if job else None, "total": job.total if job else None,
            "skipped": batch.skipped or [], "created_at": batch.created_at,
            **services.batch_counts(db.session, batch)}


def document_payload(d) -> dict:
    return {"id": d.id, "org_id": d.org_id, "batch_id": d.batch_id, "person_id": d.person_id, "kind": d.kind,
            "title": d.title, "size": d.size, "created_at": d.created_at, "notified_at": d.notified_at,
            "opened_at": d.opened_at,
            "download_url": url_for("documents_api.DocumentFile", org_id=g.org.id, document_id=d.id)}


def pdf_response(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}.pdf"', "Cache-Control": "private, no-store"})


@blp.route("/kinds")
class Kinds(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.KindSchema(many=True))
    def get(self, org_id):
        """The kinds of documents this platform can make, with the variables their templates may use."""
        return [{"key": k.key, "label": k.label, "variables": list(k.variables), "options": list(k.options)}
                for k in document_kinds().values()]


@blp.route("/kinds/<string:kind>/default-template")
class DefaultTemplate(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.LanguageArgs, location="query")
    @blp.response(200, s.TemplateSchema)
    def get(self, args, org_id, kind):
        """The built-in template of a kind in Dutch, French or English: a starting point for your own."""
        if kind not in document_kinds():
            raise services.NotFound("unknown document kind")
        kind_ = get_kind(kind)
        default = services.default_template(kind_, args["language"])
        return {"kind": kind_.key, "name": default.name, "language": default.language, "html": default.html,
                "css": default.css, "has_logo": False, "inherited": True}


@blp.route("/templates")
class Templates(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.TemplateSchema(many=True))
    def get(self, org_id):
        """Templates this organisation may use: its own and those of the organisations above it."""
        return [template_payload(t) for t in services.templates_for(db.session, g.org)]

    @blp.requires(perms.TEMPLATES_WRITE)
    @blp.arguments(s.TemplateSchema)
    @blp.response(201, s.TemplateSchema)
    def post(self, data, org_id):
        """Add a template; a syntax error or a variable the kind does not offer is refused (422, with the line)."""
        template = services.create_template(db.session, g.org, data)
        db.session.commit()
        return template_payload(template)


@blp.route("/templates/preview")
class TemplatePreview(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.PreviewSchema)
    @blp.response(200, content_type="application/pdf")
    def post(self, data, org_id):
        """A PDF of an (unsaved) template filled in with a sample member."""
        kind = get_kind(data["kind"])
        services.check_template(kind, data["html"], data["css"])
        template = services.ResolvedTemplate(None, "preview", "nl", data["html"], data["css"])
        return pdf_response(services.render_pdf(kind, template, kind.sample()), "preview")


@blp.route("/templates/<int:template_id>")
class TemplateResource(MethodView):
    @blp.requires(perms.READ)
    @blp.etag
    @blp.response(200, s.TemplateSchema)
    def get(self, org_id, template_id):
        return template_payload(services.get_template(db.session, g.org, template_id, "template_id"))

    @blp.requires(perms.TEMPLATES_WRITE)
    @blp.etag
    @blp.arguments(s.TemplateUpdateSchema)
    @blp.response(200, s.TemplateSchema)
    def patch(self, data, org_id, template_id):
        """Change one of this organisation's templates (send `If-Match`)."""
        template = services.get_template(db.session, g.org, template_id, "template_id")
        blp.check_etag(template_payload(template), s.TemplateSchema)
        services.update_template(db.session, g.org, template, data)
        db.session.commit()
        return template_payload(template)

    @blp.requires(perms.TEMPLATES_WRITE)
    @blp.response(204)
    def delete(self, org_id, template_id):
        template = services.get_template(db.session, g.org, template_id, "template_id")
        services.delete_template(db.session, g.org, template)
        db.session.commit()


@blp.route("/templates/<int:template_id>/logo")
class TemplateLogo(MethodView):
    @blp.requires(perms.TEMPLATES_WRITE)
    @blp.arguments(s.LogoUploadSchema, location="files")
    @blp.response(200, s.TemplateSchema)
    @blp.alt_response(413, description="Larger than 2 MB")
    def put(self, files, org_id, template_id):
        """Set the logo (checked by content); templates show it with `{{ logo }}`."""
        template = services.get_template(db.session, g.org, template_id, "template_id")
        try:
            data = read_limited(files["logo"].stream)
        except ImageError as exc:
            raise services.TooLarge(str(exc), field="logo") from None
        services.set_logo(db.session, g.org, template, data)
        db.session.commit()
        return template_payload(template)


@blp.route("/batches")
class Batches(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.BatchListArgs, location="query")
    @blp.response(200, s.BatchPageSchema)
    def get(self, args, org_id):
        """Batches of this organisation, newest first, with generated / delivered / opened counts."""
        import sqlalchemy as sa

        from core.api import paginate

        query = (sa.select(DocumentBatch).where(DocumentBatch.org_id == g.org.id)
                 .order_by(DocumentBatch.created_at.desc(), DocumentBatch.id.desc()))
        result = paginate(db.session, query, args["page"], args["page_size"])
        result["items"] = [batch_payload(b) for b in result["items"]]
        return result

    @blp.requires(perms.WRITE)
    @blp.arguments(s.BatchRequestSchema)
    @blp.response(202, s.BatchCreatedSchema)
    def post(self, data, org_id):
        """Generate a document for each selected member (`person_ids` or a member-list `filter`) in a job.

        People outside this organisation refuse the whole request (422, listed in `outside`). Members
        without the data the kind needs are listed on the batch (`skipped`); the others still get theirs."""
        batch, job = services.create_batch(db.session, g.org, data, user_id=g.user.id)
        db.session.commit()
        return {"batch_id": batch.id, "job_id": job.id, "status": job.status,
                "job_url": url_for("jobs.JobResource", job_id=job.id),
                "batch_url": url_for("documents_api.BatchResource", org_id=g.org.id, batch_id=batch.id)}


@blp.route("/batches/<int:batch_id>")
class BatchResource(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.BatchSchema)
    def get(self, org_id, batch_id):
        """A batch: its job's status and progress, the counts, and the members skipped with what they lack."""
        return batch_payload(services.get_batch(db.session, g.org, batch_id))


@blp.route("/people/<int:person_id>/documents")
class PersonDocuments(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.DocumentSchema(many=True))
    def get(self, org_id, person_id):
        """The documents made for a person in this organisation and below (404 for someone not linked to it)."""
        if not services.people_in(db.session, g.org, [person_id]):
            raise services.NotFound("person not found")
        return [document_payload(d) for d in services.documents_of(db.session, g.org, person_id)]


@blp.route("/documents/<int:document_id>.pdf")
class DocumentFile(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, content_type="application/pdf")
    def get(self, org_id, document_id):
        document = services.get_document(db.session, g.org, document_id)
        from core import audit

        audit.record_view(db.session, document.person_id, what=f"document {document.id}")
        db.session.commit()
        return pdf_response(services.read_file(document), f"document-{document.id}")


@me_blp.route("/documents/<int:document_id>.pdf")
class MyDocumentFile(MethodView):
    @authenticated_endpoint
    @me_blp.response(200, content_type="application/pdf")
    def get(self, document_id):
        """One of the member's own documents (anyone else's answers 404); the first fetch counts as opened."""
        person_id = g.user.person_id if g.user else None
        document = services.member_document(db.session, person_id, document_id)
        data = services.read_file(document)
        db.session.commit()
        return pdf_response(data, f"document-{document.id}")
