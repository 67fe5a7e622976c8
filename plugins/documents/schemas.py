"""Marshmallow schemas of the documents API."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from core.api import page_schema


class KindSchema(ma.Schema):
    key = ma.fields.String()
    label = ma.fields.String()
    variables = ma.fields.List(ma.fields.String())
    options = ma.fields.List(ma.fields.String())


class TemplateSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    org_id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(required=True)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    language = ma.fields.String(load_default="nl", validate=validate.OneOf(("nl", "fr", "en")))
    html = ma.fields.String(required=True, metadata={"description": "sandboxed Jinja HTML using the kind's variables"})
    css = ma.fields.String(load_default="")
    has_logo = ma.fields.Boolean(dump_only=True)
    inherited = ma.fields.Boolean(dump_only=True, metadata={"description": "made by an organisation above"})
    updated_at = ma.fields.DateTime(dump_only=True)


class TemplateUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    language = ma.fields.String(validate=validate.OneOf(("nl", "fr", "en")))
    html = ma.fields.String()
    css = ma.fields.String()


class PreviewSchema(ma.Schema):
    kind = ma.fields.String(required=True)
    html = ma.fields.String(required=True)
    css = ma.fields.String(load_default="")


class LogoUploadSchema(ma.Schema):
    logo = Upload(required=True, metadata={"description": "JPEG, PNG, GIF or WebP, at most 2 MB"})


class BatchRequestSchema(ma.Schema):
    kind = ma.fields.String(required=True)
    template_id = ma.fields.Integer(allow_none=True, load_default=None)
    person_ids = ma.fields.List(ma.fields.Integer(), load_default=None)
    filter = ma.fields.Dict(keys=ma.fields.String(), load_default=None,
                            metadata={"description": "member-list filters (as on the member list)"})
    options = ma.fields.Dict(keys=ma.fields.String(), load_default=dict, metadata={
        "description": "per kind: season_id; amount_paid, paid_on, payments {person_id: {amount, paid_on}} "
                       "(sport certificate); subject, body (letter)"})


class SkippedSchema(ma.Schema):
    person_id = ma.fields.Integer()
    name = ma.fields.String()
    missing = ma.fields.List(ma.fields.String())


class BatchSchema(ma.Schema):
    id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    kind = ma.fields.String()
    template_id = ma.fields.Integer(allow_none=True)
    job_id = ma.fields.String(allow_none=True)
    job_status = ma.fields.String(allow_none=True)
    progress = ma.fields.Integer(allow_none=True)
    total = ma.fields.Integer(allow_none=True)
    selected = ma.fields.Integer()
    generated = ma.fields.Integer()
    delivered = ma.fields.Integer()
    opened = ma.fields.Integer()
    skipped_count = ma.fields.Integer()
    skipped = ma.fields.List(ma.fields.Nested(SkippedSchema))
    created_at = ma.fields.DateTime()


class BatchCreatedSchema(ma.Schema):
    batch_id = ma.fields.Integer()
    job_id = ma.fields.String()
    status = ma.fields.String()
    job_url = ma.fields.String(metadata={"description": "GET /api/v1/jobs/{job_id}"})
    batch_url = ma.fields.String()


class DocumentSchema(ma.Schema):
    id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    batch_id = ma.fields.Integer(allow_none=True)
    person_id = ma.fields.Integer()
    kind = ma.fields.String()
    title = ma.fields.String()
    size = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    notified_at = ma.fields.DateTime(allow_none=True)
    opened_at = ma.fields.DateTime(allow_none=True)
    download_url = ma.fields.String()


BatchPageSchema = page_schema(BatchSchema, "DocumentsBatchPage")


class LanguageArgs(ma.Schema):
    language = ma.fields.String(load_default="nl", validate=validate.OneOf(("nl", "fr", "en")))


class BatchListArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
