"""Domain logic of the news module: posts, their audience and status, reads and pop-ups, GDPR.

Plain functions taking a session and values; they raise `core.services.DomainError`/`NotFound`.
Whether the current user may target an organisation is decided by the caller and passed in as
`manages(org) -> bool`, so this module stays free of request objects.

Audience rule: a post of organisation O is for organisations of O's subtree (O itself by default,
optionally with everything below each). That keeps every reader of a post below its publisher, so the
member app, which asks each of a member's organisations and their ancestors for their own posts,
finds it — and switching news off for O hides O's posts everywhere.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Organisation, PersonOrganisation
from core.services import DomainError, NotFound
from plugins.news import storage
from plugins.news.models import STATUSES, NewsAudience, NewsPopupSeen, NewsPost, NewsRead
from plugins.news.sanitize import clean_html, harmful_markup, plain_text

log = logging.getLogger(__name__)

UNSCOPED = {"federa_unscoped": True}
MAX_TITLE = 200
MAX_BODY = 50_000
MAX_AUDIENCE = 500
NOTIFICATION_TYPE = "news.published"
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!]")


class ImageTooLarge(DomainError):
    status = 413


# --- reading posts ---------------------------------------------------------------------------------

def posts_query(org: Organisation, status: str | None = None, now: dt.datetime | None = None):
    """The posts of `org` itself (not of organisations below it), newest first, optionally by status."""
    now = now or utcnow()
    query = sa.select(NewsPost).where(NewsPost.org_id == org.id)
    if status is not None:
        if status not in STATUSES:
            raise DomainError(f"status must be one of {', '.join(STATUSES)}", field="status")
        query = query.where(status_condition(status, now))
    return query.order_by(NewsPost.publish_at.desc().nulls_first(), NewsPost.id.desc())


def status_condition(status: str, now: dt.datetime):
    published = sa.and_(NewsPost.publish_at.is_not(None), NewsPost.publish_at <= now)
    not_expired = sa.or_(NewsPost.expires_at.is_(None), NewsPost.expires_at > now)
    return {
        "draft": NewsPost.publish_at.is_(None),
        "scheduled": NewsPost.publish_at > now,
        "published": sa.and_(published, not_expired),
        "expired": sa.and_(published, sa.not_(not_expired)),
    }[status]


def get_post(session: Session, org: Organisation, post_id: int) -> NewsPost:
    """A post of `org`; a post of any other organisation is NotFound, like one that does not exist."""
    post = session.get(NewsPost, post_id)
    if post is None or post.org_id != org.id:
        raise NotFound("news post not found")
    return post


def read_counts(session: Session, post_ids: Iterable[int]) -> dict[int, int]:
    """{post id: number of distinct people who read it}."""
    ids = list(post_ids)
    if not ids:
        return {}
    rows = session.execute(sa.select(NewsRead.post_id, sa.func.count(sa.distinct(NewsRead.person_id)))
                           .where(NewsRead.post_id.in_(ids)).group_by(NewsRead.post_id))
    counts = {post_id: 0 for post_id in ids}
    counts.update({post_id: count for post_id, count in rows})
    return counts


def audience_condition(org_column, path_column):
    """SQL: the organisation (`org_column`, its `path_column`) is in the audience of `NewsAudience`'s post."""
    target = sa.orm.aliased(Organisation)
    below = sa.exists(sa.select(target.id).where(target.id == NewsAudience.org_id,
                                                 path_column.startswith(target.path)))
    return sa.or_(NewsAudience.org_id == org_column, sa.and_(NewsAudience.include_descendants, below))


def audience_person_ids(session: Session, post: NewsPost) -> list[int]:
    """Everyone linked (`PersonOrganisation`) to an organisation of the post's audience."""
    query = (sa.select(PersonOrganisation.person_id).distinct()
             .join(Organisation, Organisation.id == PersonOrganisation.org_id)
             .join(NewsAudience, NewsAudience.post_id == post.id)
             .where(audience_condition(Organisation.id, Organisation.path)))
    return list(session.execute(query, execution_options=UNSCOPED).scalars())


def audience_size(session: Session, post: NewsPost) -> int:
    return len(audience_person_ids(session, post))


# --- writing posts ---------------------------------------------------------------------------------

def _check_title(errors: dict, title) -> str:
    title = " ".join(str(title or "").split())
    if not title:
        errors["title"] = "this field is required"
    elif len(title) > MAX_TITLE:
        errors["title"] = f"at most {MAX_TITLE} characters"
    elif _TAG.search(title):
        errors["title"] = "plain text only, no HTML"
    return title


def _check_body(errors: dict, body) -> str:
    body = str(body or "")
    if len(body) > MAX_BODY:
        errors["body_html"] = f"at most {MAX_BODY} characters"
        return ""
    harmful = harmful_markup(body)
    if harmful:
        errors["body_html"] = ("scripts, event handlers and javascript:/data: links are not allowed "
                               f"(found {', '.join(harmful)})")
        return ""
    return clean_html(body)


def _check_audience(session: Session, org: Organisation, errors: dict, org_ids,
                    manages: Callable[[Organisation], bool]) -> list[Organisation]:
    ids = list(dict.fromkeys(int(i) for i in org_ids)) if org_ids else [org.id]
    if len(ids) > MAX_AUDIENCE:
        errors["audience_org_ids"] = f"at most {MAX_AUDIENCE} organisations"
        return []
    found = {o.id: o for o in session.execute(sa.select(Organisation).where(Organisation.id.in_(ids))).scalars()}
    refused = [i for i in ids if i not in found or not found[i].path.startswith(org.path) or not manages(found[i])]
    if refused:
        # The same answer for organisations that do not exist and those of others: nothing leaks.
        errors["audience_org_ids"] = (f"not an organisation you manage within {org.name}: "
                                      + ", ".join(str(i) for i in refused))
        return []
    return [found[i] for i in ids]


def _apply(session: Session, org: Organisation, post: NewsPost, data: dict, manages, creating: bool) -> None:
    """Validate all of `data` first (every field error at once), then change `post`."""
    errors: dict[str, str] = {}
    values: dict = {}
    if creating or "title" in data:
        values["title"] = _check_title(errors, data.get("title"))
    if creating or "body_html" in data:
        values["body_html"] = _check_body(errors, data.get("body_html"))
    for key in ("publish_at", "expires_at"):
        if key in data:
            value = data[key]
            if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
                errors[key] = "a date and time with a time zone"
            else:
                values[key] = value
    publish_at = values.get("publish_at", post.publish_at)
    expires_at = values.get("expires_at", post.expires_at)
    if expires_at is not None and "expires_at" not in errors and "publish_at" not in errors:
        if publish_at is not None and expires_at <= publish_at:
            errors["expires_at"] = "must be after the publication time"
        elif "expires_at" in values and expires_at != post.expires_at and expires_at <= utcnow():
            errors["expires_at"] = "must be in the future"
    for key in ("push", "popup"):
        if key in data:
            values[key] = bool(data[key])
    audience = None
    if creating or "audience_org_ids" in data or "include_descendants" in data:
        org_ids = data.get("audience_org_ids") if "audience_org_ids" in data else [a.org_id for a in post.audience]
        audience = _check_audience(session, org, errors, org_ids, manages)
    if errors:
        raise DomainError("the news post was not saved", errors=errors)
    for key, value in values.items():
        setattr(post, key, value)
    if audience is not None:
        if "include_descendants" in data:
            descendants = bool(data["include_descendants"])
        else:
            descendants = post.audience[0].include_descendants if post.audience else True
        wanted = {o.id for o in audience}
        for row in list(post.audience):
            if row.org_id not in wanted:
                post.audience.remove(row)
            else:
                row.include_descendants = descendants
        known = {row.org_id for row in post.audience}
        for target in audience:
            if target.id not in known:
                post.audience.append(NewsAudience(org_id=target.id, include_descendants=descendants))


def create_post(session: Session, org: Organisation, data: dict, manages: Callable[[Organisation], bool],
                user_id: int | None = None) -> NewsPost:
    """A new post of `org` (a draft unless `publish_at` is given); pushes at once when published now."""
    post = NewsPost(org_id=org.id, created_by_id=user_id, push=False, popup=False, body_html="")
    _apply(session, org, post, data, manages, creating=True)
    session.add(post)
    session.flush()
    push_if_due(session, post)
    return post


def update_post(session: Session, org: Organisation, post: NewsPost, data: dict,
                manages: Callable[[Organisation], bool]) -> NewsPost:
    _apply(session, org, post, data, manages, creating=False)
    session.flush()
    push_if_due(session, post)
    return post


def publish_now(session: Session, post: NewsPost, now: dt.datetime | None = None) -> NewsPost:
    """Publish a draft or scheduled post now (a published one stays as it is; an expired one is refused)."""
    now = now or utcnow()
    status = post.status_at(now)
    if status == "expired":
        raise DomainError("this post has expired; change its expiry time first", field="expires_at")
    if status in ("draft", "scheduled"):
        post.publish_at = now
    session.flush()
    push_if_due(session, post, now)
    return post


def unpublish(session: Session, post: NewsPost) -> NewsPost:
    """Back to draft: readers no longer see it."""
    post.publish_at = None
    session.flush()
    return post


def delete_post(session: Session, post: NewsPost) -> str | None:
    """Delete the post with its reads; return the image file for the caller to remove after commit."""
    image = post.image_file
    session.delete(post)
    session.flush()
    return image


def set_image(session: Session, post: NewsPost, data: bytes) -> str | None:
    """Store an image checked by its content and stripped of its metadata (EXIF: where and when a picture was
    taken); return the replaced file (the caller removes it after commit)."""
    try:
        data, content_type, extension = storage.without_metadata(data)
    except storage.ImageError as exc:
        cls = ImageTooLarge if exc.too_large else DomainError
        raise cls(str(exc), field="image") from None
    old = post.image_file
    post.image_file = storage.save(data, extension)
    post.image_content_type = content_type
    session.flush()
    return old


def remove_image(session: Session, post: NewsPost) -> str | None:
    old = post.image_file
    post.image_file = None
    post.image_content_type = None
    session.flush()
    return old


# --- push on publish -------------------------------------------------------------------------------

def push_if_due(session: Session, post: NewsPost, now: dt.datetime | None = None) -> bool:
    """Send the post's push notification once, when it asks for one and is published."""
    now = now or utcnow()
    if not post.push or post.pushed_at is not None or post.status_at(now) != "published":
        return False
    if send_news_notification(session, post):
        post.pushed_at = now
        session.flush()
        return True
    return False


def send_news_notification(session: Session, post: NewsPost) -> bool:
    """Hand the post to core's notification service (in-app inbox, Web Push, e-mail per preference).

    The idempotency key makes a second call for the same post notify nobody again. Returns False when
    the service cannot take it (its fan-out job is not loaded in this app): the post stays un-pushed
    and the periodic job tries again."""
    from core.notifications import notify

    person_ids = audience_person_ids(session, post)
    if not person_ids:
        return True
    title = plain_text(post.title, 120)
    body = _TAG.sub(lambda m: "‹" + m.group(0)[1:], plain_text(post.body_html, 300))
    try:
        notify(session, person_ids, NOTIFICATION_TYPE, title, body, url="/app/#/feed", org_id=post.org_id,
               idempotency_key=f"news.published:{post.id}", created_by_id=post.created_by_id)
    except KeyError:
        log.warning("news post %s: notification service unavailable, push postponed", post.id)
        return False
    return True


def due_pushes(session: Session, now: dt.datetime | None = None) -> list[NewsPost]:
    """Published posts that asked for a push and have not had it yet (scheduled posts whose time came)."""
    now = now or utcnow()
    return list(session.execute(
        sa.select(NewsPost).where(NewsPost.push.is_(True), NewsPost.pushed_at.is_(None),
                                  status_condition("published", now)).order_by(NewsPost.publish_at),
        execution_options=UNSCOPED).scalars())


# --- readers: feed, reads, pop-ups ----------------------------------------------------------------

def person_org_filter(session: Session, person_id: int):
    """SQL condition on `NewsAudience`: the audience row reaches one of the person's organisations."""
    paths = session.execute(
        sa.select(Organisation.id, Organisation.path).join(PersonOrganisation, PersonOrganisation.org_id == Organisation.id)
        .where(PersonOrganisation.person_id == person_id), execution_options=UNSCOPED).all()
    linked = {org_id for org_id, _ in paths}
    ancestors = {int(p) for _, path in paths for p in path.strip("/").split("/") if p}
    if not linked:
        return sa.false()
    return sa.or_(NewsAudience.org_id.in_(linked),
                  sa.and_(NewsAudience.include_descendants.is_(True), NewsAudience.org_id.in_(ancestors)))


def posts_for_person(session: Session, person_id: int, org: Organisation | None = None,
                     now: dt.datetime | None = None, popups_only: bool = False):
    """Select of the published, unexpired posts whose audience includes an organisation the person is
    linked to; only `org`'s own posts when given. Newest first."""
    now = now or utcnow()
    reach = sa.exists(sa.select(NewsAudience.id).where(NewsAudience.post_id == NewsPost.id,
                                                       person_org_filter(session, person_id)))
    query = sa.select(NewsPost).where(status_condition("published", now), reach)
    if org is not None:
        query = query.where(NewsPost.org_id == org.id)
    if popups_only:
        seen = sa.exists(sa.select(NewsPopupSeen.id).where(NewsPopupSeen.post_id == NewsPost.id,
                                                           NewsPopupSeen.person_id == person_id))
        query = query.where(NewsPost.popup.is_(True), sa.not_(seen))
    return query.order_by(NewsPost.publish_at.desc(), NewsPost.id.desc())


def read_post_ids(session: Session, person_id: int, post_ids: Iterable[int]) -> set[int]:
    ids = list(post_ids)
    if not ids:
        return set()
    return set(session.execute(sa.select(NewsRead.post_id).where(NewsRead.person_id == person_id,
                                                                 NewsRead.post_id.in_(ids))).scalars())


def visible_post(session: Session, person_id: int, post_id: int, enabled: Callable[[Organisation], bool],
                 popups_only: bool = False) -> NewsPost:
    """A post in the person's feed (its module on for its organisation); anything else is NotFound."""
    post = session.execute(posts_for_person(session, person_id, popups_only=popups_only)
                           .where(NewsPost.id == post_id), execution_options=UNSCOPED).scalar_one_or_none()
    if post is None or not enabled(post.organisation):
        raise NotFound("news post not found")
    return post


def mark_read(session: Session, person_id: int, post: NewsPost) -> bool:
    """Record that the person read the post; True when this is their first read."""
    exists = session.execute(sa.select(NewsRead.id).where(NewsRead.post_id == post.id,
                                                          NewsRead.person_id == person_id)).first()
    if exists:
        return False
    session.add(NewsRead(post_id=post.id, person_id=person_id))
    session.flush()
    return True


def mark_popup_seen(session: Session, person_id: int, post: NewsPost) -> None:
    exists = session.execute(sa.select(NewsPopupSeen.id).where(NewsPopupSeen.post_id == post.id,
                                                               NewsPopupSeen.person_id == person_id)).first()
    if not exists:
        session.add(NewsPopupSeen(post_id=post.id, person_id=person_id))
        session.flush()


def popups_for_org(session: Session, org: Organisation, person_id: int, now: dt.datetime | None = None):
    """Select of the pop-ups an admin sees on `org`'s dashboard: published pop-up posts whose audience
    includes `org`, not yet seen by this person."""
    now = now or utcnow()
    reach = sa.exists(sa.select(NewsAudience.id).where(
        NewsAudience.post_id == NewsPost.id,
        sa.or_(NewsAudience.org_id == org.id,
               sa.and_(NewsAudience.include_descendants.is_(True), NewsAudience.org_id.in_(org.ancestor_ids)))))
    seen = sa.exists(sa.select(NewsPopupSeen.id).where(NewsPopupSeen.post_id == NewsPost.id,
                                                       NewsPopupSeen.person_id == person_id))
    return (sa.select(NewsPost).where(status_condition("published", now), NewsPost.popup.is_(True), reach,
                                      sa.not_(seen)).order_by(NewsPost.publish_at.desc(), NewsPost.id.desc()))


# --- GDPR ------------------------------------------------------------------------------------------

def _related_posts(org: Organisation):
    """Posts whose readers can be `org`'s people: those of `org`, its ancestors and its subtree."""
    return sa.select(NewsPost.id).where(sa.or_(NewsPost.org_id.in_(org.ancestor_ids),
                                               NewsPost.org_id.in_(sa.select(Organisation.id).where(
                                                   Organisation.path.startswith(org.path)))))


def export_person(session: Session, org: Organisation, person_id: int) -> dict:
    posts = _related_posts(org)
    reads = session.execute(sa.select(NewsRead.post_id, NewsPost.title, NewsRead.read_at)
                            .join(NewsPost, NewsPost.id == NewsRead.post_id)
                            .where(NewsRead.person_id == person_id, NewsRead.post_id.in_(posts))
                            .order_by(NewsRead.read_at), execution_options=UNSCOPED).all()
    seen = session.execute(sa.select(NewsPopupSeen.post_id, NewsPost.title, NewsPopupSeen.seen_at)
                           .join(NewsPost, NewsPost.id == NewsPopupSeen.post_id)
                           .where(NewsPopupSeen.person_id == person_id, NewsPopupSeen.post_id.in_(posts))
                           .order_by(NewsPopupSeen.seen_at), execution_options=UNSCOPED).all()
    return {
        "read": [{"post_id": p, "title": t, "read_at": at.isoformat()} for p, t, at in reads],
        "popups_seen": [{"post_id": p, "title": t, "seen_at": at.isoformat()} for p, t, at in seen],
    }


def erase_person(session: Session, org: Organisation, person_id: int) -> dict:
    posts = _related_posts(org)
    reads = session.execute(sa.select(NewsRead).where(NewsRead.person_id == person_id,
                                                      NewsRead.post_id.in_(posts)),
                            execution_options=UNSCOPED).scalars().all()
    seen = session.execute(sa.select(NewsPopupSeen).where(NewsPopupSeen.person_id == person_id,
                                                          NewsPopupSeen.post_id.in_(posts)),
                           execution_options=UNSCOPED).scalars().all()
    for row in (*reads, *seen):
        session.delete(row)
    session.flush()
    return {"reads_deleted": len(reads), "popups_seen_deleted": len(seen),
            "kept": "posts stay: they are the organisation's publications, not data about this person"}
