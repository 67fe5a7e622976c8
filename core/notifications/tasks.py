"""Fan-out jobs of the notification service.

`core.notifications_fan_out` turns one `notify()` call into inbox rows and delivery rows, a chunk of
people at a time, and queues one `core.notifications_deliver` job per chunk, so several workers send
in parallel. Both are idempotent: rows are unique per (person, key) and (notification, target), and
delivery only sends what is still pending, so a retried or re-sent job sends nothing twice.
Rows are written with bulk statements: a fan-out to 20,000 devices must not cost 40,000 ORM flushes
(the audit log records the `notify()` job, not each inbox row).
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from flask import current_app

from core.db import utcnow
from core.jobs import JobSpec
from core.models import Person
from core.notifications import channels_for, notification_types
from core.notifications.models import Notification, NotificationDelivery, PushSubscription

CHUNK = 1000
COMMIT_EVERY = 100
MAX_ATTEMPTS = 5
PAYLOAD_BUDGET = 3000  # bytes of JSON; a push message carries at most 4096 after encryption overhead


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield start // size, items[start:start + size]


def fan_out(ctx, key: str, type_key: str, subject: str, body: str, url: str | None,
            notification_org_id: int | None, person_ids: list[int]) -> dict:
    session = ctx.session
    total = len(person_ids)
    counts = {"people": 0, "push": 0, "email": 0}
    for index, chunk in _chunks(person_ids, CHUNK):
        people = dict(session.execute(sa.select(Person.id, Person.email).where(Person.id.in_(chunk))).all())
        have = set(session.execute(sa.select(Notification.person_id).where(
            Notification.key == key, Notification.person_id.in_(list(people)))).scalars())
        now = utcnow()
        new = [{"person_id": pid, "org_id": notification_org_id, "type_key": type_key, "key": key, "title": subject,
                "body": body, "url": url, "created_at": now} for pid in people if pid not in have]
        if new:
            session.execute(sa.insert(Notification), new)
        notification_of = dict(session.execute(sa.select(Notification.person_id, Notification.id).where(
            Notification.key == key, Notification.person_id.in_(list(people)))).all())
        channels = channels_for(session, type_key, list(people))
        wanted: list[dict] = []
        push_people = [pid for pid, chosen in channels.items() if "push" in chosen]
        if push_people:
            for sub_id, pid in session.execute(sa.select(PushSubscription.id, PushSubscription.person_id)
                                               .where(PushSubscription.person_id.in_(push_people))):
                wanted.append({"notification_id": notification_of[pid], "channel": "push",
                               "target": f"push:{sub_id}", "subscription_id": sub_id})
        for pid, chosen in channels.items():
            if "email" in chosen and people.get(pid):
                wanted.append({"notification_id": notification_of[pid], "channel": "email", "target": "email",
                               "subscription_id": None})
        ids = list(notification_of.values())
        exists = set(session.execute(sa.select(NotificationDelivery.notification_id, NotificationDelivery.target)
                                     .where(NotificationDelivery.notification_id.in_(ids))).all())
        missing = [{**d, "status": "pending", "attempts": 0} for d in wanted
                   if (d["notification_id"], d["target"]) not in exists]
        if missing:
            session.execute(sa.insert(NotificationDelivery), missing)
        counts["people"] += len(people)
        for d in wanted:
            counts[d["channel"]] += 1
        if wanted:
            ctx.app.extensions["federa"].jobs.enqueue(
                session, "core.notifications_deliver", title=f"Deliver notifications ({index + 1})",
                idempotency_key=f"notify:{key}:deliver:{index}", created_by_id=ctx.job.created_by_id,
                notification_ids=ids)
        ctx.progress(min(total, (index + 1) * CHUNK), total)
    return counts


def _payload(notification: Notification) -> bytes:
    """What the service worker shows: title, text, the page a click opens, a tag against duplicates."""
    data = {"id": notification.id, "type": notification.type_key, "title": notification.title,
            "body": notification.body, "url": notification.url or "/app/#/inbox", "tag": f"n{notification.id}"}
    encoded = json.dumps(data, ensure_ascii=False).encode()
    while len(encoded) > PAYLOAD_BUDGET and data["body"]:
        data["body"] = data["body"][: max(0, len(data["body"]) * 2 // 3 - 1)].rstrip() + "…"
        if len(data["body"]) <= 1:
            data["body"] = ""
        encoded = json.dumps(data, ensure_ascii=False).encode()
    return encoded


def _send_email(notification: Notification, person: Person) -> None:
    from core.mail import send_mail

    base = current_app.config["BASE_URL"].rstrip("/")
    send_mail(person.email, "notification", {
        "person": person, "title": notification.title, "body": notification.body,
        "link": base + (notification.url or "/app/#/inbox"),
    }, lang=person.preferred_language or "nl")


def deliver(ctx, notification_ids: list[int]) -> dict:
    from core.notifications.push import sender

    session = ctx.session
    types = notification_types(ctx.app)
    rows = session.execute(
        sa.select(NotificationDelivery, Notification, PushSubscription)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .outerjoin(PushSubscription, PushSubscription.id == NotificationDelivery.subscription_id)
        .where(NotificationDelivery.notification_id.in_(notification_ids),
               NotificationDelivery.status.in_(("pending", "failed")),
               NotificationDelivery.attempts < MAX_ATTEMPTS)
        .order_by(NotificationDelivery.id)
    ).all()
    push = sender(ctx.app, session) if any(d.channel == "push" for d, _, _ in rows) else None
    people = {}
    email_people = {n.person_id for d, n, _ in rows if d.channel == "email"}
    if email_people:
        people = {p.id: p for p in session.execute(sa.select(Person).where(Person.id.in_(email_people))).scalars()}
    counts = {"sent": 0, "gone": 0, "failed": 0, "retry": 0}
    updates: list[dict] = []
    gone_subscriptions: list[int] = []
    payloads: dict[int, bytes] = {}

    def flush():
        if updates:
            session.execute(sa.update(NotificationDelivery), updates)
            updates.clear()
        if gone_subscriptions:
            session.execute(sa.delete(PushSubscription).where(PushSubscription.id.in_(gone_subscriptions)))
            gone_subscriptions.clear()
        ctx.progress(sum(counts.values()), len(rows))

    for done, (delivery, notification, subscription) in enumerate(rows, 1):
        attempts = delivery.attempts + 1
        update = {"id": delivery.id, "attempts": attempts}
        if delivery.channel == "push":
            if subscription is None:  # removed since the fan-out
                update.update(status="gone", error="subscription removed")
                counts["gone"] += 1
            else:
                if notification.id not in payloads:
                    payloads[notification.id] = _payload(notification)
                kind = types.get(notification.type_key)
                result = push.send(subscription.info(), payloads[notification.id],
                                   ttl=kind.ttl_seconds if kind else 24 * 3600,
                                   urgency=kind.urgency if kind else "normal")
                if result.ok:
                    update.update(status="sent", sent_at=utcnow(), error=None)
                    counts["sent"] += 1
                elif result.gone:
                    update.update(status="gone", error=result.error)
                    gone_subscriptions.append(subscription.id)
                    counts["gone"] += 1
                else:
                    update.update(status="failed", error=result.error)
                    if result.transient and attempts < MAX_ATTEMPTS:
                        counts["retry"] += 1
                    else:
                        update["attempts"] = MAX_ATTEMPTS  # the push service refused it for good
                        counts["failed"] += 1
        else:
            person = people.get(notification.person_id)
            try:
                if person is None or not person.email:
                    raise LookupError("no e-mail address")
                _send_email(notification, person)
                update.update(status="sent", sent_at=utcnow(), error=None)
                counts["sent"] += 1
            except LookupError as exc:
                update.update(status="failed", error=str(exc), attempts=MAX_ATTEMPTS)
                counts["failed"] += 1
            except Exception as exc:  # SMTP trouble: try again later
                update.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:255])
                counts["retry" if attempts < MAX_ATTEMPTS else "failed"] += 1
        updates.append(update)
        if done % COMMIT_EVERY == 0:
            flush()
    flush()
    if counts["retry"]:
        # dramatiq retries the job with backoff; only deliveries still pending or failed are sent again.
        raise RuntimeError(f"{counts['retry']} deliveries failed for now and will be retried")
    return counts


JOBS = [
    JobSpec("core.notifications_fan_out", fan_out, max_retries=3, min_backoff_ms=2_000),
    JobSpec("core.notifications_deliver", deliver, max_retries=MAX_ATTEMPTS - 1, min_backoff_ms=30_000),
]
