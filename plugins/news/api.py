"""REST API of the news module.

Admin: `/api/v1/orgs/{org_id}/news/posts` (list with status filter, create, read, change with ETags,
delete, publish now, image upload). Member app: `/api/v1/me/news/...` (mark a post of one's own feed as
read, pending pop-ups and dismissing them), registered through `register_mobile_routes`.
Domain rules live in `services`; this stays thin.
"""
from __future__ import annotations

from flask import current_app, g, send_file, url_for
from flask.views import MethodView
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.access import current_access
from core.api import ApiBlueprint, error, paginate
from core.db import db, utcnow
from core.gates import authenticated_endpoint, is_enabled
from core.models import Organisation
from core.services import NotFound
from plugins.news import permissions as perms
from plugins.news import schemas as s
from plugins.news import services, storage
from plugins.news.models import NewsPost

blp = ApiBlueprint("news_api", __name__, url_prefix="/api/v1/orgs/<int:org_id>/news",
                   description="News: posts with audience, schedule, image, pop-up and push; read counts")
me_blp = ApiBlueprint("news_me", __name__, url_prefix="/api/v1/me/news",
                      description="News in the member app: reading posts and pop-up messages")

IMAGE_LINK_MAX_AGE = 7 * 24 * 3600


# --- shared with the pages --------------------------------------------------------------------------

def manages(target: Organisation) -> bool:
    """An author may target an organisation where they hold news.write (assignments cover subtrees)."""
    access = current_access()
    return access.can_see(target) and perms.WRITE in access.held_permissions(target)


def _image_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="federa-news-image")


def reader_image_url(post: NewsPost) -> str | None:
    """A link the member app can put in `<img src>` (no bearer token there): signed, expiring, and
    only answered while the post is published and its module is on."""
    if not post.image_file:
        return None
    token = _image_signer().dumps([post.id, post.image_file])
    return url_for("news_public.image", token=token)


def post_for_image_token(token: str) -> NewsPost | None:
    try:
        post_id, name = _image_signer().loads(token, max_age=IMAGE_LINK_MAX_AGE)
        post = db.session.get(NewsPost, int(post_id))
    except (BadSignature, TypeError, ValueError):
        return None
    if post is None or post.image_file != name or post.status_at(utcnow()) != "published":
        return None
    return post if is_enabled(post.organisation, "news") else None


def image_response(post: NewsPost):
    path = storage.path_of(post.image_file) if post.image_file else None
    if path is None:
        error(404, "this post has no image")
    response = send_file(path, mimetype=post.image_content_type, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def post_payload(post: NewsPost, read_count: int | None = None) -> dict:
    return {
        "id": post.id, "org_id": post.org_id, "title": post.title, "body_html": post.body_html,
        "status": post.status_at(utcnow()), "publish_at": post.publish_at, "expires_at": post.expires_at,
        "push": post.push, "pushed_at": post.pushed_at, "popup": post.popup,
        "audience": [{"org_id": a.org_id, "name": a.organisation.name, "include_descendants": a.include_descendants}
                     for a in post.audience],
        "image_url": url_for("news_api.post_image", org_id=post.org_id, post_id=post.id) if post.image_file else None,
        "read_count": read_count if read_count is not None else services.read_counts(db.session, [post.id])[post.id],
        "created_at": post.created_at, "updated_at": post.updated_at,
    }


def etag_data(post: NewsPost) -> dict:
    return {"id": post.id, "title": post.title, "body_html": post.body_html,
            "publish_at": post.publish_at.isoformat() if post.publish_at else None,
            "expires_at": post.expires_at.isoformat() if post.expires_at else None,
            "push": post.push, "popup": post.popup, "image": post.image_file,
            "audience": [[a.org_id, a.include_descendants] for a in post.audience]}


def _get(post_id: int) -> NewsPost:
    return services.get_post(db.session, g.org, post_id)


# --- admin API -------------------------------------------------------------------------------------

@blp.route("/posts")
class Posts(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.PostListArgsSchema, location="query")
    @blp.response(200, s.PostPageSchema)
    def get(self, args, org_id):
        """This organisation's posts, newest first; `status` filters (draft, scheduled, published, expired)."""
        query = services.posts_query(g.org, args["status"])
        page = paginate(db.session, query, args["page"], args["page_size"])
        counts = services.read_counts(db.session, [p.id for p in page["items"]])
        page["items"] = [post_payload(p, counts[p.id]) for p in page["items"]]
        return page

    @blp.requires(perms.WRITE)
    @blp.arguments(s.PostInSchema)
    @blp.response(201, s.PostSchema)
    @blp.alt_response(422, description="Invalid field, harmful markup, or an audience you do not manage")
    def post(self, data, org_id):
        """Write a post (a draft unless `publish_at` is given). Body HTML is sanitised on save."""
        post = services.create_post(db.session, g.org, data, manages, user_id=g.user.id)
        db.session.commit()
        return post_payload(post, 0)


@blp.route("/posts/<int:post_id>")
class PostResource(MethodView):
    @blp.requires(perms.READ)
    @blp.etag
    @blp.response(200, s.PostSchema)
    def get(self, org_id, post_id):
        post = _get(post_id)
        blp.set_etag(etag_data(post), s.PostEtagSchema)
        return post_payload(post)

    @blp.requires(perms.WRITE)
    @blp.etag
    @blp.arguments(s.PostUpdateSchema)
    @blp.response(200, s.PostSchema)
    @blp.alt_response(422, description="Invalid field, harmful markup, or an audience you do not manage")
    def patch(self, data, org_id, post_id):
        """Change a post (send `If-Match` with the ETag of your copy: 428 without, 412 when stale)."""
        post = _get(post_id)
        blp.check_etag(etag_data(post), s.PostEtagSchema)
        services.update_post(db.session, g.org, post, data, manages)
        db.session.commit()
        blp.set_etag(etag_data(post), s.PostEtagSchema)
        return post_payload(post)

    @blp.requires(perms.WRITE)
    @blp.response(204)
    def delete(self, org_id, post_id):
        """Delete a post with its read counts and image."""
        image = services.delete_post(db.session, _get(post_id))
        db.session.commit()
        storage.delete(image)


@blp.route("/posts/<int:post_id>/publish")
class PublishResource(MethodView):
    @blp.requires(perms.WRITE)
    @blp.response(200, s.PostSchema)
    def post(self, org_id, post_id):
        """Publish now (a scheduled post moves to now); sends its push when it asked for one."""
        post = services.publish_now(db.session, _get(post_id))
        db.session.commit()
        return post_payload(post)


@blp.route("/posts/<int:post_id>/image", endpoint="post_image")
class ImageResource(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, description="The image")
    def get(self, org_id, post_id):
        return image_response(_get(post_id))

    @blp.requires(perms.WRITE)
    @blp.arguments(s.ImageUploadSchema, location="files")
    @blp.response(200, s.PostSchema)
    @blp.alt_response(413, description="Larger than 2 MB")
    @blp.alt_response(422, description="Not a JPEG, PNG, GIF or WebP image")
    def post(self, files, org_id, post_id):
        """Upload the post's image (multipart field `image`); checked by its content, at most 2 MB."""
        post = _get(post_id)
        try:
            data = storage.read_limited(files["image"].stream)
        except storage.ImageError as exc:
            raise services.ImageTooLarge(str(exc), field="image") from None
        old = services.set_image(db.session, post, data)
        db.session.commit()
        storage.delete(old)
        return post_payload(post)

    @blp.requires(perms.WRITE)
    @blp.response(204)
    def delete(self, org_id, post_id):
        old = services.remove_image(db.session, _get(post_id))
        db.session.commit()
        storage.delete(old)


# --- member app ---------------------------------------------------------------------------------------

def _person_id() -> int:
    return g.user.person_id


def _enabled(org: Organisation) -> bool:
    return is_enabled(org, "news")


def my_post_payload(post: NewsPost, read: bool) -> dict:
    org = post.organisation
    return {"id": post.id, "org_id": post.org_id, "org_name": org.short_name or org.name, "title": post.title,
            "body_html": post.body_html, "image_url": reader_image_url(post), "published_at": post.publish_at,
            "read": read}


@me_blp.route("/<int:post_id>/read")
class MyRead(MethodView):
    @authenticated_endpoint
    @me_blp.response(200, s.ReadSchema)
    @me_blp.alt_response(401, description="Not authenticated")
    @me_blp.alt_response(404, description="Not a post of this member's feed")
    def post(self, post_id):
        """Mark a post of my feed as read (again is fine: read counts count people, not reads)."""
        post = services.visible_post(db.session, _person_id(), post_id, _enabled)
        first = services.mark_read(db.session, _person_id(), post)
        db.session.commit()
        return {"post_id": post.id, "first_read": first}


@me_blp.route("/popups")
class MyPopups(MethodView):
    @authenticated_endpoint
    @me_blp.response(200, s.MyPostSchema(many=True))
    @me_blp.alt_response(401, description="Not authenticated")
    def get(self):
        """Pop-up messages to show me once, newest first."""
        person_id = _person_id()
        posts = [p for p in db.session.execute(services.posts_for_person(db.session, person_id, popups_only=True),
                                               execution_options=services.UNSCOPED).scalars() if _enabled(p.organisation)]
        read = services.read_post_ids(db.session, person_id, [p.id for p in posts])
        return [my_post_payload(p, p.id in read) for p in posts]


@me_blp.route("/popups/<int:post_id>/seen")
class MyPopupSeen(MethodView):
    @authenticated_endpoint
    @me_blp.response(204)
    @me_blp.alt_response(404, description="Not a pending pop-up of this member")
    def post(self, post_id):
        """Do not show this pop-up to me again."""
        post = services.visible_post(db.session, _person_id(), post_id, _enabled)
        if not post.popup:
            raise NotFound("news post not found")
        services.mark_popup_seen(db.session, _person_id(), post)
        db.session.commit()
