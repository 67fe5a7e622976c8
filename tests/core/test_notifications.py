"""The notification service: notify() → fan-out job → inbox, Web Push (to a local push service that checks
the VAPID signature and decrypts like a browser) and e-mail; idempotent; bad input refused."""
from __future__ import annotations

import sqlalchemy as sa
import pytest

from core.db import db
from core.models import Job
from core.notifications import (Notification, NotificationDelivery, PushSubscription, notify, set_preferences,
                                subscribe)
from core.notifications.push import vapid_key
from core.services import DomainError
from tests.mobile_api.push_service import PushService, Subscriber


def _run(ctx):
    db.session.commit()
    ctx.extensions["federa"].jobs.join()
    db.session.expire_all()  # read what the job threads wrote


def _count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@pytest.fixture
def people(make):
    club = make.club(make.federation())
    return [make.person("An", "Peeters", org=club, email="an@example.org", preferred_language="fr"),
            make.person("Bert", "Claes", org=club)]


def test_notify_fills_the_inbox_once_per_person_and_key(ctx, people):
    ids = [p.id for p in people]
    job = notify(db.session, ids, "core.message", "Training moved", "Thursday 20:00", url="/app/#/feed",
                 idempotency_key="training-42")
    _run(ctx)
    again = notify(db.session, ids + ids, "core.message", "Training moved", "Thursday 20:00",
                   idempotency_key="training-42")
    _run(ctx)
    assert again.id == job.id
    assert db.session.get(Job, job.id).status == "done"
    rows = db.session.execute(sa.select(Notification).order_by(Notification.person_id)).scalars().all()
    assert [(n.person_id, n.title, n.url) for n in rows] == [(ids[0], "Training moved", "/app/#/feed"),
                                                           (ids[1], "Training moved", "/app/#/feed")]


@pytest.mark.parametrize("kwargs, field", [
    ({"type_key": "nope.unknown"}, "type_key"),
    ({"title": ""}, "title"),
    ({"title": "<script>alert(1)</script>"}, "title"),
    ({"body": 'Click <img src=x onerror="alert(1)">'}, "body"),
    ({"title": "x" * 121}, "title"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"url": "https://evil.example/phish"}, "url"),
    ({"url": "//evil.example/"}, "url"),
    ({"person_ids": ["one"]}, "person_ids"),
])
def test_bad_notifications_are_refused_and_nothing_is_queued(ctx, people, kwargs, field):
    arguments = {"person_ids": [people[0].id], "type_key": "core.message", "title": "Hi", "body": "text"}
    arguments.update(kwargs)
    with pytest.raises(DomainError) as caught:
        notify(db.session, **arguments)
    assert field in caught.value.details["errors"]
    _run(ctx)
    assert _count(Job) == 0 and _count(Notification) == 0


def test_push_end_to_end_through_a_local_push_service(ctx, people):
    an, bert = people
    browser, gone_browser, missing_browser = Subscriber(), Subscriber(), Subscriber()
    with PushService() as service:
        ok, _ = subscribe(db.session, an.id, browser.subscription(f"{service.url}/push/an"), allow_loopback_http=True)
        gone, _ = subscribe(db.session, an.id, gone_browser.subscription(f"{service.url}/gone/an-old"),
                            allow_loopback_http=True)
        missing, _ = subscribe(db.session, bert.id, missing_browser.subscription(f"{service.url}/missing/bert"),
                               allow_loopback_http=True)
        db.session.commit()
        an_id, bert_id, ok_id, gone_id, missing_id = an.id, bert.id, ok.id, gone.id, missing.id
        notify(db.session, [an_id, bert_id], "core.message", "Match cancelled", "Rain: no match on Saturday",
               url="/app/#/feed", idempotency_key="match-7")
        _run(ctx)
        assert service.errors == []
        assert len(service.received) == 1
        path, headers, body = service.received[0]
        assert path == "/push/an"
        assert headers["ttl"] == str(24 * 3600) and headers["urgency"] == "normal"
        # The JWT was signed with the server's VAPID key, the one browsers got from the API.
        assert f"k={vapid_key(db.session).public_key}" in headers["authorization"]
        message = browser.decrypt(body)
        inbox = db.session.execute(sa.select(Notification).where(Notification.person_id == an_id)).scalar_one()
        assert message == {"id": inbox.id, "type": "core.message", "title": "Match cancelled",
                           "body": "Rain: no match on Saturday", "url": "/app/#/feed", "tag": f"n{inbox.id}"}
        # 410 and 404 from the push service remove those subscriptions; the working one stays.
        remaining = db.session.execute(sa.select(PushSubscription.id)).scalars().all()
        assert remaining == [ok_id] and gone_id not in remaining and missing_id not in remaining
        statuses = sorted(db.session.execute(sa.select(NotificationDelivery.status)).scalars())
        assert statuses == ["gone", "gone", "sent"]
        # Running the same notification again sends nothing twice.
        notify(db.session, [an_id, bert_id], "core.message", "Match cancelled", idempotency_key="match-7")
        ctx.extensions["federa"].jobs.enqueue(db.session, "core.notifications_deliver",
                                              notification_ids=[inbox.id])
        _run(ctx)
        assert len(service.received) == 1


def test_email_channel_writes_to_the_outbox_in_the_persons_language(ctx, people):
    from core.mail import list_outbox, read_outbox

    an, bert = people
    set_preferences(db.session, an.id, [{"type": "core.message", "email": True, "push": False}])
    set_preferences(db.session, bert.id, [{"type": "core.message", "email": True}])  # Bert has no e-mail address
    notify(db.session, [an.id, bert.id], "core.message", "Assemblée générale", "Le 12 mai à 20h",
           url="/app/#/inbox")
    _run(ctx)
    messages, total = list_outbox()
    assert total == 1
    message = read_outbox(messages[0].name)
    assert message.subject == "Assemblée générale" and message.to == "an@example.org"
    assert "Bonjour An" in message.text and "Le 12 mai à 20h" in message.text
    assert "http://127.0.0.1:5000/app/#/inbox" in message.text
    failed = db.session.execute(sa.select(NotificationDelivery).where(NotificationDelivery.status == "failed")
                                ).scalars().all()
    assert failed == []  # Bert without address gets no e-mail delivery at all
    assert _count(Notification) == 2


def test_vapid_key_is_created_once(ctx):
    first = vapid_key(db.session)
    assert first.private_key.startswith("-----BEGIN PRIVATE KEY-----")
    assert vapid_key(db.session).public_key == first.public_key
    assert _count(type(first)) == 1
