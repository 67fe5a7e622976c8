"""The notification service: one call to notify people on every channel they want.

    from core.notifications import notify
    notify(session, [person.id], "billing.invoice_sent", "New invoice", "Invoice 2025-0012 is ready",
           url="/app/#/invoices", org_id=club.id, idempotency_key=f"invoice-sent:{invoice.id}")
    session.commit()   # the fan-out job is queued when the transaction commits

Channels: the in-app inbox (always), Web Push to every device the person subscribed, and e-mail.
Which of push and e-mail a person gets is their preference per notification type; the type's
`default_channels` hold until they choose. Types are declared by plugins with the
`register_notification_types` hook (a `NotificationType`, or a dict with the same keys).
Fan-out and delivery run as background jobs (`core.notifications.tasks`); deliveries are unique per
notification and device, so retries never send twice; a push service answering 404/410 makes
the subscription go away.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, current_app
from sqlalchemy.orm import Session

from core.db import utcnow
from core.notifications.models import (Notification, NotificationDelivery, NotificationPreference,
                                       PushSubscription, VapidKey)
from core.services import DomainError, NotFound

__all__ = ["NotificationType", "notify", "notification_types", "preferences_of", "set_preferences",
           "subscribe", "unsubscribe", "inbox_query", "mark_read", "unread_count", "Notification",
           "NotificationDelivery", "NotificationPreference", "PushSubscription", "VapidKey", "blueprint"]

CHANNELS = ("push", "email")
MAX_TITLE = 120
MAX_BODY = 2000
MAX_URL = 500
MAX_RECIPIENTS = 200_000

# Holds the e-mail templates (mail/notification.<lang>.txt); it has no routes.
blueprint = Blueprint("notifications", __name__, template_folder="templates")


@dataclass(frozen=True)
class NotificationType:
    """A kind of notification a plugin sends; people choose its channels in the member app."""

    key: str  # "<plugin>.<what_happened>"
    label: str
    description: str = ""
    default_channels: tuple[str, ...] = ("push",)
    #: How long a push service keeps an undelivered message, and how urgently it delivers it.
    ttl_seconds: int = 24 * 3600
    urgency: str = "normal"


def _as_type(item) -> NotificationType:
    if isinstance(item, NotificationType):
        return item
    fields = NotificationType.__dataclass_fields__
    return NotificationType(**{k: (tuple(v) if k == "default_channels" else v)
                               for k, v in dict(item).items() if k in fields})


# Core's own type, for messages an organisation sends to its members.
CORE_TYPES = [NotificationType("core.message", "Messages from your organisation", default_channels=("push",))]


def notification_types(app=None) -> dict[str, NotificationType]:
    """Every declared type by key (core's and the loaded plugins'); collected once per app."""
    app = app or current_app
    extra = app.extensions["federa"].extra
    found = extra.get("notification_types")
    if found is None:
        found = {t.key: t for t in CORE_TYPES}
        for owner, item in app.extensions["federa"].plugins.collect("register_notification_types"):
            kind = _as_type(item)
            if kind.key in found:
                raise RuntimeError(f"duplicate notification type {kind.key!r} (declared again by {owner})")
            found[kind.key] = kind
        extra["notification_types"] = found
    return found


# --- notify ---------------------------------------------------------------------------------------

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!]")


def _check_text(errors: dict, field: str, value, limit: int, required: bool) -> str:
    value = "" if value is None else str(value).strip()
    if required and not value:
        errors[field] = "this field is required"
    elif len(value) > limit:
        errors[field] = f"at most {limit} characters"
    elif _TAG.search(value):
        # Plain text only: every channel shows it as text; markup would reach some reader unescaped one day.
        errors[field] = "plain text only, no HTML"
    elif any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        errors[field] = "contains control characters"
    return value


def check_url(url: str | None) -> str | None:
    """A notification opens a page of this site: a path starting with "/" (no scheme, no other host)."""
    if url in (None, ""):
        return None
    url = str(url).strip()
    if (len(url) > MAX_URL or not url.startswith("/") or url.startswith("//") or "\\" in url
            or any(ord(ch) < 33 for ch in url)):
        raise ValueError("must be a path on this site, starting with /")
    return url


def notify(session: Session, person_ids, type_key: str, title: str, body: str = "", url: str | None = None,
           org_id: int | None = None, idempotency_key: str | None = None, created_by_id: int | None = None):
    """Notify people: queue the fan-out job (sent when the caller's transaction commits) and return it.

    The same `idempotency_key` twice returns the first job and notifies nobody again; without one,
    every call is a new notification. Raises `DomainError` with field errors for bad input."""
    from core.jobs import enqueue

    errors: dict[str, str] = {}
    types = notification_types()
    if type_key not in types:
        errors["type_key"] = "unknown notification type"
    title = _check_text(errors, "title", title, MAX_TITLE, required=True)
    body = _check_text(errors, "body", body, MAX_BODY, required=False)
    try:
        url = check_url(url)
    except ValueError as exc:
        errors["url"] = str(exc)
    try:
        ids = sorted({int(pid) for pid in person_ids})
    except (TypeError, ValueError):
        errors["person_ids"] = "a list of person ids"
        ids = []
    if len(ids) > MAX_RECIPIENTS:
        errors["person_ids"] = f"at most {MAX_RECIPIENTS} people per notification"
    if idempotency_key is not None and not (0 < len(str(idempotency_key)) <= 150):
        errors["idempotency_key"] = "1 to 150 characters"
    if errors:
        raise DomainError("invalid notification", errors=errors)
    key = str(idempotency_key) if idempotency_key else uuid.uuid4().hex
    # The job is not tied to the organisation's modules: a notification already promised is delivered.
    return enqueue(session, "core.notifications_fan_out", title=f"Notify: {title}"[:255],
                   idempotency_key=f"notify:{key}", created_by_id=created_by_id,
                   key=key, type_key=type_key, subject=title, body=body, url=url, notification_org_id=org_id,
                   person_ids=ids)


# --- preferences ----------------------------------------------------------------------------------

def preferences_of(session: Session, person_id: int) -> list[dict]:
    """Every type with the person's channels: `{"type", "label", "description", "push", "email", "custom"}`."""
    stored = {p.type_key: p for p in session.execute(
        sa.select(NotificationPreference).where(NotificationPreference.person_id == person_id)).scalars()}
    result = []
    for kind in notification_types().values():
        pref = stored.get(kind.key)
        result.append({
            "type": kind.key, "label": kind.label, "description": kind.description,
            "push": pref.push if pref else "push" in kind.default_channels,
            "email": pref.email if pref else "email" in kind.default_channels,
            "custom": pref is not None,
        })
    return result


def set_preferences(session: Session, person_id: int, changes: list[dict]) -> None:
    """Store choices `[{"type", "push"?, "email"?}]`; one unknown type refuses them all."""
    types = notification_types()
    errors = {}
    for index, change in enumerate(changes):
        if change.get("type") not in types:
            errors[f"preferences.{index}.type"] = "unknown notification type"
    if errors:
        raise DomainError("invalid preferences", errors=errors)
    current = {p["type"]: p for p in preferences_of(session, person_id)}
    for change in changes:
        row = session.execute(sa.select(NotificationPreference).where(
            NotificationPreference.person_id == person_id,
            NotificationPreference.type_key == change["type"])).scalar_one_or_none()
        if row is None:
            row = NotificationPreference(person_id=person_id, type_key=change["type"],
                                         push=current[change["type"]]["push"], email=current[change["type"]]["email"])
            session.add(row)
        for channel in CHANNELS:
            if channel in change and change[channel] is not None:
                setattr(row, channel, bool(change[channel]))
    session.flush()


def channels_for(session: Session, type_key: str, person_ids: list[int]) -> dict[int, set[str]]:
    """{person_id: channels} for one type, in one query."""
    kind = notification_types()[type_key]
    default = {c for c in CHANNELS if c in kind.default_channels}
    result = {pid: set(default) for pid in person_ids}
    rows = session.execute(sa.select(NotificationPreference.person_id, NotificationPreference.push,
                                     NotificationPreference.email)
                           .where(NotificationPreference.type_key == type_key,
                                  NotificationPreference.person_id.in_(person_ids)))
    for pid, push, email in rows:
        result[pid] = {c for c, on in (("push", push), ("email", email)) if on}
    return result


# --- push subscriptions ---------------------------------------------------------------------------

def subscribe(session: Session, person_id: int, data: dict, user_agent: str | None = None,
              allow_loopback_http: bool = False) -> tuple[PushSubscription, bool]:
    """Register a browser's PushSubscription JSON for a person; returns (subscription, created).

    The same endpoint again updates its keys; an endpoint another person registered moves to this
    one (the device now belongs to whoever logged in last). Raises DomainError for a bad subscription."""
    from core.notifications.push import check_subscription

    errors = check_subscription(data, allow_loopback_http=allow_loopback_http)
    if errors:
        raise DomainError("invalid push subscription", errors=errors)
    keys = data["keys"]
    row = session.execute(sa.select(PushSubscription).where(PushSubscription.endpoint == data["endpoint"])
                          ).scalar_one_or_none()
    created = row is None
    if row is None:
        row = PushSubscription(endpoint=data["endpoint"], person_id=person_id, p256dh=keys["p256dh"],
                               auth_secret=keys["auth"])
        session.add(row)
    else:
        row.person_id, row.p256dh, row.auth_secret, row.failures = person_id, keys["p256dh"], keys["auth"], 0
    row.user_agent = (user_agent or "")[:255] or None
    session.flush()
    return row, created


def unsubscribe(session: Session, person_id: int, subscription_id: int) -> None:
    """Remove one of the person's subscriptions; someone else's is NotFound, like one that does not exist."""
    row = session.get(PushSubscription, subscription_id)
    if row is None or row.person_id != person_id:
        raise NotFound("push subscription not found")
    session.delete(row)
    session.flush()


def subscriptions_of(session: Session, person_id: int) -> list[PushSubscription]:
    return list(session.execute(sa.select(PushSubscription).where(PushSubscription.person_id == person_id)
                                .order_by(PushSubscription.id)).scalars())


# --- the inbox --------------------------------------------------------------------------------------

def inbox_query(person_id: int, unread_only: bool = False):
    query = sa.select(Notification).where(Notification.person_id == person_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query.order_by(Notification.created_at.desc(), Notification.id.desc())


def unread_count(session: Session, person_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.person_id == person_id, Notification.read_at.is_(None))) or 0


def mark_read(session: Session, person_id: int, notification_id: int | None = None) -> int:
    """Mark one notification (or, without an id, all) as read; someone else's is NotFound."""
    if notification_id is not None:
        row = session.get(Notification, notification_id)
        if row is None or row.person_id != person_id:
            raise NotFound("notification not found")
        if row.read_at is None:
            row.read_at = utcnow()
        session.flush()
        return 1
    rows = session.execute(sa.select(Notification).where(Notification.person_id == person_id,
                                                         Notification.read_at.is_(None))).scalars().all()
    now = utcnow()
    for row in rows:
        row.read_at = now
    session.flush()
    return len(rows)
