"""Marshmallow schemas of the news API (admin: `/api/v1/orgs/{org_id}/news`, member app: `/api/v1/me/news`)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from core.api import PageArgs, page_schema
from plugins.news.models import STATUSES
from plugins.news.services import MAX_AUDIENCE, MAX_BODY, MAX_TITLE

_AWARE = {"format": "iso", "default_timezone": None}


class AudienceSchema(ma.Schema):
    org_id = ma.fields.Integer()
    name = ma.fields.String()
    include_descendants = ma.fields.Boolean()


class PostSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    org_id = ma.fields.Integer(dump_only=True)
    title = ma.fields.String()
    body_html = ma.fields.String(metadata={"description": "Sanitised HTML: p, br, strong, em, ul/ol/li, "
                                                          "a[href] (http, https, mailto), h3, h4, blockquote"})
    status = ma.fields.String(metadata={"description": "draft, scheduled, published or expired"})
    publish_at = ma.fields.AwareDateTime(allow_none=True, **_AWARE)
    expires_at = ma.fields.AwareDateTime(allow_none=True, **_AWARE)
    push = ma.fields.Boolean()
    pushed_at = ma.fields.AwareDateTime(allow_none=True, **_AWARE)
    popup = ma.fields.Boolean()
    audience = ma.fields.List(ma.fields.Nested(AudienceSchema))
    image_url = ma.fields.String(allow_none=True)
    read_count = ma.fields.Integer(metadata={"description": "Distinct people who read the post"})
    created_at = ma.fields.AwareDateTime(**_AWARE)
    updated_at = ma.fields.AwareDateTime(**_AWARE)


PostPageSchema = page_schema(PostSchema, "NewsPostPageSchema")


class PostInSchema(ma.Schema):
    """A new post. Without `publish_at` it is a draft; `audience_org_ids` defaults to this organisation."""

    title = ma.fields.String(required=True, validate=validate.Length(max=MAX_TITLE))
    body_html = ma.fields.String(load_default="", validate=validate.Length(max=MAX_BODY))
    publish_at = ma.fields.AwareDateTime(allow_none=True, **_AWARE)
    expires_at = ma.fields.AwareDateTime(allow_none=True, **_AWARE)
    push = ma.fields.Boolean()
    popup = ma.fields.Boolean()
    audience_org_ids = ma.fields.List(ma.fields.Integer(strict=True), validate=validate.Length(min=1, max=MAX_AUDIENCE),
                                      metadata={"description": "Organisations of this one's subtree you manage"})
    include_descendants = ma.fields.Boolean(metadata={"description": "Also everything below each audience "
                                                                     "organisation (default true)"})


class PostUpdateSchema(PostInSchema):
    title = ma.fields.String(validate=validate.Length(max=MAX_TITLE))
    body_html = ma.fields.String(validate=validate.Length(max=MAX_BODY))


class PostEtagSchema(ma.Schema):
    """What an ETag covers: everything an editor changes (not read counts, which move all the time)."""

    id = ma.fields.Integer()
    title = ma.fields.String()
    body_html = ma.fields.String()
    publish_at = ma.fields.String(allow_none=True)
    expires_at = ma.fields.String(allow_none=True)
    push = ma.fields.Boolean()
    popup = ma.fields.Boolean()
    image = ma.fields.String(allow_none=True)
    audience = ma.fields.List(ma.fields.List(ma.fields.Raw()))


class PostListArgsSchema(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(STATUSES), load_default=None)


class ImageUploadSchema(ma.Schema):
    image = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class MyPostSchema(ma.Schema):
    """A post as the member app shows it."""

    id = ma.fields.Integer()
    org_id = ma.fields.Integer()
    org_name = ma.fields.String()
    title = ma.fields.String()
    body_html = ma.fields.String()
    image_url = ma.fields.String(allow_none=True)
    published_at = ma.fields.AwareDateTime(**_AWARE)
    read = ma.fields.Boolean()


class ReadSchema(ma.Schema):
    post_id = ma.fields.Integer()
    first_read = ma.fields.Boolean()
