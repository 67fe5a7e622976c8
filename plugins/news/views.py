"""Admin pages of the news module (`/o/<org_id>/news/...`) and the public, signed image link of the app.

The list with status tabs and read counts; writing and editing a post with a live preview of the
sanitised body, its image, audience, publication and expiry time (entered and shown in Europe/Brussels,
stored in UTC), push and pop-up; publishing now, deleting; the admin pop-ups of an organisation.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.access import current_access
from core.db import db, utcnow
from core.gates import public_endpoint
from core.models import Organisation
from core.services import DomainError, NotFound
from core.web.guard import can, require
from plugins.news import api as news_api
from plugins.news import permissions as perms
from plugins.news import services, storage
from plugins.news.models import STATUSES, NewsPost
from plugins.news.sanitize import clean_html, harmful_markup

web = Blueprint("news_web", __name__, template_folder="templates", url_prefix="/o/<int:org_id>/news")
public = Blueprint("news_public", __name__, url_prefix="/news")

BRUSSELS = ZoneInfo("Europe/Brussels")
PAGE_SIZE = 25
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def _get(post_id: int) -> NewsPost:
    try:
        return services.get_post(db.session, g.org, post_id)
    except NotFound:
        abort(404)


def _errors_of(exc: DomainError) -> dict:
    errors = dict(exc.details.get("errors") or {})
    if not errors:
        errors[exc.field or "form"] = exc.message
    return errors


def to_local_input(value: dt.datetime | None) -> str:
    return value.astimezone(BRUSSELS).strftime(LOCAL_FORMAT) if value else ""


def from_local_input(value: str, field: str, errors: dict) -> dt.datetime | None:
    """A `datetime-local` value, meant in Brussels time, as aware UTC."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        local = dt.datetime.strptime(value[:16], LOCAL_FORMAT)
    except ValueError:
        errors[field] = _("Enter a date and time.")
        return None
    return local.replace(tzinfo=BRUSSELS).astimezone(dt.timezone.utc)


def _targets(org: Organisation) -> list[Organisation]:
    """Organisations a post of `org` can be for: its subtree, where the user may write news."""
    subtree = db.session.execute(sa.select(Organisation).where(Organisation.path.startswith(org.path))
                                 .order_by(Organisation.path)).scalars()
    return [o for o in subtree if news_api.manages(o)]


def _form_values(post: NewsPost | None, org: Organisation) -> dict:
    if post is None:
        return {"title": "", "body_html": "", "mode": "draft", "publish_at": "", "expires_at": "",
                "audience": [org.id], "include_descendants": True, "push": False, "popup": False}
    status = post.status_at(utcnow())
    return {"title": post.title, "body_html": post.body_html, "mode": "draft" if status == "draft" else "at",
            "publish_at": to_local_input(post.publish_at), "expires_at": to_local_input(post.expires_at),
            "audience": [a.org_id for a in post.audience],
            "include_descendants": post.audience[0].include_descendants if post.audience else True,
            "push": post.push, "popup": post.popup}


def _time_field(form, name: str, current: dt.datetime | None, errors: dict) -> dt.datetime | None:
    """The form's time, or the stored one unchanged when the form shows it as it was (inputs have
    minutes only; re-saving must not move a time or refuse an expiry that has passed)."""
    raw = (form.get(name) or "").strip()
    if current is not None and raw == to_local_input(current):
        return current
    return from_local_input(raw, name, errors)


def _data_from_form(form, errors: dict, post: NewsPost | None) -> dict:
    mode = form.get("mode", "draft")
    publish_at = _time_field(form, "publish_at", post.publish_at if post else None, errors)
    if mode == "now":
        publish_at = utcnow()
    elif mode == "draft":
        publish_at = None
    elif mode == "at" and publish_at is None and "publish_at" not in errors:
        errors["publish_at"] = _("Enter a date and time.")
    audience = []
    for value in form.getlist("audience"):
        try:
            audience.append(int(value))
        except ValueError:
            errors["audience_org_ids"] = _("Choose organisations from the list.")
    if not audience and "audience_org_ids" not in errors:
        errors["audience_org_ids"] = _("Choose at least one organisation.")
    return {"title": form.get("title", ""), "body_html": form.get("body_html", ""), "publish_at": publish_at,
            "expires_at": _time_field(form, "expires_at", post.expires_at if post else None, errors),
            "audience_org_ids": audience, "include_descendants": form.get("include_descendants") == "1",
            "push": form.get("push") == "1", "popup": form.get("popup") == "1"}


def _values_from_form(form) -> dict:
    return {"title": form.get("title", ""), "body_html": form.get("body_html", ""),
            "mode": form.get("mode", "draft"), "publish_at": form.get("publish_at", ""),
            "expires_at": form.get("expires_at", ""), "audience": [v for v in form.getlist("audience")],
            "include_descendants": form.get("include_descendants") == "1", "push": form.get("push") == "1",
            "popup": form.get("popup") == "1"}


def _save(post: NewsPost | None):
    """Create or change a post from the form; on any error nothing is kept and the form shows why."""
    org = g.org
    existing = post
    errors: dict = {}
    data = _data_from_form(request.form, errors, post)
    upload = request.files.get("image")
    status = 422
    if not errors:
        try:
            if post is None:
                post = services.create_post(db.session, org, data, news_api.manages, user_id=g.user.id)
            else:
                services.update_post(db.session, org, post, data, news_api.manages)
            old_image = None
            if request.form.get("remove_image") == "1":
                old_image = services.remove_image(db.session, post)
            if upload and upload.filename:
                try:
                    bytes_ = storage.read_limited(upload.stream)
                except storage.ImageError as exc:
                    raise services.ImageTooLarge(str(exc), field="image") from None
                old_image = services.set_image(db.session, post, bytes_) or old_image
        except DomainError as exc:
            db.session.rollback()
            errors = _errors_of(exc)
            status = exc.status if exc.status in (413, 422) else 422
        else:
            db.session.commit()
            storage.delete(old_image)
            flash(_("The news post was saved."), "success")
            return redirect(url_for("news_web.detail", org_id=org.id, post_id=post.id))
    values = _values_from_form(request.form)
    values["audience"] = [int(v) for v in values["audience"] if v.isdigit()]
    return render_template("news/form.html", org=org, post=existing,
                           values=values, errors=errors, targets=_targets(org)), status


@web.route("/")
@require(perms.READ)
def posts(org_id: int):
    org = g.org
    status = request.args.get("status") or None
    if status not in (None, *STATUSES):
        abort(400)
    page_no = max(request.args.get("page", 1, type=int) or 1, 1)
    query = services.posts_query(org, status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.execute(query.limit(PAGE_SIZE).offset((page_no - 1) * PAGE_SIZE)).scalars().all()
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template("news/list.html", org=org, items=items, total=total, page=page_no, pages=pages,
                           status=status, statuses=STATUSES, now=utcnow(),
                           counts=services.read_counts(db.session, [p.id for p in items]),
                           can_write=can(perms.WRITE))


@web.route("/new", methods=["GET", "POST"])
@require(perms.WRITE)
def new(org_id: int):
    if request.method == "POST":
        return _save(None)
    return render_template("news/form.html", org=g.org, post=None, values=_form_values(None, g.org), errors={},
                           targets=_targets(g.org))


@web.route("/<int:post_id>/edit", methods=["GET", "POST"])
@require(perms.WRITE)
def edit(org_id: int, post_id: int):
    post = _get(post_id)
    if request.method == "POST":
        return _save(post)
    return render_template("news/form.html", org=g.org, post=post, values=_form_values(post, g.org), errors={},
                           targets=_targets(g.org))


@web.route("/preview", methods=["POST"])
@require(perms.WRITE)
def preview(org_id: int):
    """The body as readers will see it (live preview on the form); says what would be refused."""
    body = request.form.get("body_html", "")[: services.MAX_BODY]
    return jsonify({"html": clean_html(body), "refused": harmful_markup(body)})


@web.route("/<int:post_id>")
@require(perms.READ)
def detail(org_id: int, post_id: int):
    post = _get(post_id)
    return render_template("news/detail.html", org=g.org, post=post, status=post.status_at(utcnow()),
                           read_count=services.read_counts(db.session, [post.id])[post.id],
                           audience_size=services.audience_size(db.session, post), can_write=can(perms.WRITE))


@web.route("/<int:post_id>/publish", methods=["POST"])
@require(perms.WRITE)
def publish(org_id: int, post_id: int):
    post = _get(post_id)
    try:
        services.publish_now(db.session, post)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("The news post is published."), "success")
    return redirect(url_for("news_web.detail", org_id=g.org.id, post_id=post.id))


@web.route("/<int:post_id>/unpublish", methods=["POST"])
@require(perms.WRITE)
def unpublish(org_id: int, post_id: int):
    services.unpublish(db.session, _get(post_id))
    db.session.commit()
    flash(_("The news post is a draft again."), "success")
    return redirect(url_for("news_web.detail", org_id=g.org.id, post_id=post_id))


@web.route("/<int:post_id>/delete", methods=["POST"])
@require(perms.WRITE)
def delete(org_id: int, post_id: int):
    image = services.delete_post(db.session, _get(post_id))
    db.session.commit()
    storage.delete(image)
    flash(_("The news post was deleted."), "success")
    return redirect(url_for("news_web.posts", org_id=g.org.id))


@web.route("/<int:post_id>/image")
@require(perms.READ)
def post_image(org_id: int, post_id: int):
    post = _get(post_id)
    if not post.image_file or storage.path_of(post.image_file) is None:
        abort(404)
    return news_api.image_response(post)


# --- pop-ups on the admin side ------------------------------------------------------------------------
# Pending pop-ups show on the dashboard (the `dashboard_panels` hook renders `news/_popups.html`) and here.

def pending_popups(org: Organisation) -> list[NewsPost]:
    person_id = g.user.person_id
    posts = db.session.execute(services.popups_for_org(db.session, org, person_id),
                               execution_options=services.UNSCOPED).scalars().all()
    return [p for p in posts if news_api._enabled(p.organisation)]


@web.route("/popups")
def popups(org_id: int):
    """Pop-up messages for this organisation that the user has not dismissed (any user who sees it)."""
    items = pending_popups(g.org)
    if request.accept_mimetypes.best == "application/json":
        return jsonify([{"id": p.id, "title": p.title, "body_html": p.body_html, "org_name": p.organisation.name,
                         "published_at": p.publish_at.isoformat()} for p in items])
    return render_template("news/popups.html", org=g.org, items=items)


@web.route("/popups/<int:post_id>/seen", methods=["POST"])
def popup_seen(org_id: int, post_id: int):
    post = next((p for p in pending_popups(g.org) if p.id == post_id), None)
    if post is None:
        abort(404)
    services.mark_popup_seen(db.session, g.user.person_id, post)
    db.session.commit()
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("news_web.popups", org_id=g.org.id)
    return redirect(target)


# --- the member app's image link --------------------------------------------------------------------

@public.route("/image/<token>")
@public_endpoint
def image(token: str):
    post = news_api.post_for_image_token(token)
    if post is None:
        abort(404)
    return news_api.image_response(post)
