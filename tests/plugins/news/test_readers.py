"""What readers get: the member app feed (hook and GET /api/v1/me/feed) with scheduling, expiry and
audience, read counts, pop-ups in the app and for admins, push on publish, the image link, GDPR hooks."""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa

from core.db import db, utcnow
from core.gates import call_org_hook, flatten
from core.models import Job
from plugins.news import services
from plugins.news.models import NewsPost, NewsRead
from plugins.news.tasks import push_due_job
from tests.plugins.news.conftest import counts, create, png_bytes, same_picture, switch


def iso(delta_minutes: int) -> str:
    return (utcnow() + dt.timedelta(minutes=delta_minutes)).isoformat()


def feed_titles(client, headers) -> list[str]:
    r = client.get("/api/v1/me/feed", headers=headers)
    assert r.status_code == 200
    return [i["title"] for i in r.get_json()["items"] if i["plugin"] == "news"]


def hook_titles(org, person) -> list[str]:
    with client_request():
        return [i["title"] for i in flatten(call_org_hook("mobile_feed", org, person=person, since=None))]


def client_request():
    from flask import current_app

    return current_app.test_request_context()


def test_feed_shows_published_unexpired_posts_for_the_members_organisations(client, world):
    create(client, world.fed, world.sec, title="Federatie aan iedereen")
    create(client, world.fed, world.sec, title="Alleen federatie", include_descendants=False)
    create(client, world.fed, world.sec, title="Club B gekozen", audience_org_ids=[world.club_b.id])
    create(client, world.club_a, world.admin_a, title="Club A nu")
    create(client, world.club_a, world.admin_a, title="Club A concept", publish_at=None)
    create(client, world.club_a, world.admin_a, title="Club A later", publish_at=iso(60))
    expiring = create(client, world.club_a, world.admin_a, title="Club A verlopen", expires_at=iso(30))
    create(client, world.club_b, world.admin_b, title="Club B nu")
    db.session.execute(sa.update(NewsPost).where(NewsPost.id == expiring["id"])
                       .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()

    member = world.member_user.person
    assert sorted(hook_titles(world.club_a, member)) == ["Club A nu"]
    assert hook_titles(world.fed, member) == ["Federatie aan iedereen"]
    assert sorted(feed_titles(client, world.member)) == ["Club A nu", "Federatie aan iedereen"]
    assert sorted(feed_titles(client, world.member_b)) == ["Club B gekozen", "Club B nu", "Federatie aan iedereen"]

    # The scheduled post appears once its time has come.
    db.session.execute(sa.update(NewsPost).where(NewsPost.title == "Club A later")
                       .values(publish_at=utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()
    assert "Club A later" in feed_titles(client, world.member)
    # News switched off for the federation hides its posts (gate 2), and only those.
    switch(world.fed, False)
    assert hook_titles(world.fed, member) == []
    assert sorted(feed_titles(client, world.member)) == ["Club A later", "Club A nu"]


def test_feed_item_is_safe_and_says_whether_it_was_read(client, world):
    post = create(client, world.club_a, world.admin_a, body_html='<p>Lees <a href="https://x.be">dit</a></p>')
    item = next(i for i in client.get("/api/v1/me/feed", headers=world.member).get_json()["items"]
                if i["plugin"] == "news")
    assert item["id"] == str(post["id"]) and item["summary"] == "Lees dit" and item["status"] == "unread"
    assert item["org_name"] == "SK Gent" and "<a href=\"https://x.be\"" in item["body_html"]
    assert client.post(f"/api/v1/me/news/{post['id']}/read", headers=world.member).status_code == 200
    item = next(i for i in client.get("/api/v1/me/feed", headers=world.member).get_json()["items"]
                if i["plugin"] == "news")
    assert item["status"] == "read"


def test_read_counts_count_distinct_people_of_the_feed_only(client, world):
    post = create(client, world.fed, world.sec)
    draft = create(client, world.fed, world.sec, title="Concept", publish_at=None)
    club_a_only = create(client, world.club_a, world.admin_a)
    url = f"/api/v1/me/news/{post['id']}/read"
    r = client.post(url, headers=world.member)
    assert r.status_code == 200 and r.get_json() == {"post_id": post["id"], "first_read": True}
    assert client.post(url, headers=world.member).get_json()["first_read"] is False
    assert client.post(url, headers=world.member_b).status_code == 200
    assert client.post(url).status_code == 401
    # Not in the member's feed: a draft, another club's post, a post that does not exist.
    before = counts()
    assert client.post(f"/api/v1/me/news/{draft['id']}/read", headers=world.member).status_code == 404
    assert client.post(f"/api/v1/me/news/{club_a_only['id']}/read", headers=world.member_b).status_code == 404
    assert client.post("/api/v1/me/news/999999/read", headers=world.member).status_code == 404
    assert counts() == before
    one = client.get(f"/api/v1/orgs/{world.fed.id}/news/posts/{post['id']}", headers=world.sec).get_json()
    assert one["read_count"] == 2
    listing = client.get(f"/api/v1/orgs/{world.fed.id}/news/posts?status=published", headers=world.sec).get_json()
    assert listing["items"][0]["read_count"] == 2
    # With the module off for the publisher, the post is out of the feed: nothing to mark.
    switch(world.fed, False)
    assert client.post(url, headers=world.member).status_code == 404


def test_app_popups_are_shown_once(client, world):
    popup = create(client, world.fed, world.sec, title="Belangrijk", popup=True)
    create(client, world.fed, world.sec, title="Gewoon")
    create(client, world.fed, world.sec, title="Later", popup=True, publish_at=iso(60))
    r = client.get("/api/v1/me/news/popups", headers=world.member)
    assert r.status_code == 200 and [p["title"] for p in r.get_json()] == ["Belangrijk"]
    assert client.post(f"/api/v1/me/news/popups/{popup['id']}/seen", headers=world.member).status_code == 204
    assert client.get("/api/v1/me/news/popups", headers=world.member).get_json() == []
    assert [p["title"] for p in client.get("/api/v1/me/news/popups", headers=world.member_b).get_json()] == ["Belangrijk"]
    # Another federation's pop-up never reaches this member.
    create(client, world.other_club, world.other, title="Elders", popup=True)
    assert client.get("/api/v1/me/news/popups", headers=world.member).get_json() == []
    assert client.post("/api/v1/me/news/popups/999999/seen", headers=world.member).status_code == 404
    assert client.get("/api/v1/me/news/popups").status_code == 401


def test_push_on_publish_now_and_when_a_scheduled_post_comes_due(client, world):
    runner = client.application.extensions["federa"].jobs
    now_post = create(client, world.club_a, world.admin_a, title="Nu met push", push=True)
    later = create(client, world.club_a, world.admin_a, title="Later met push", push=True, publish_at=iso(60))
    create(client, world.club_a, world.admin_a, title="Zonder push")
    runner.join()
    db.session.expire_all()
    keys = set(db.session.execute(sa.select(Job.idempotency_key).where(Job.actor == "core.notifications_fan_out")).scalars())
    assert keys == {f"notify:news.published:{now_post['id']}"}
    assert db.session.get(NewsPost, now_post["id"]).pushed_at is not None
    from core.notifications.models import Notification

    inbox = db.session.execute(sa.select(Notification)).scalars().all()
    # Everyone linked to club A: the member and the club admin (whose person the factory linked there).
    assert {(n.person_id, n.title, n.type_key) for n in inbox} == {
        (world.member_user.person_id, "Nu met push", "news.published"),
        (world.admin_a_user.person_id, "Nu met push", "news.published")}
    # The periodic job pushes the scheduled post once its time has come, once.
    db.session.execute(sa.update(NewsPost).where(NewsPost.id == later["id"])
                       .values(publish_at=utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()
    with client.application.test_request_context():
        from types import SimpleNamespace

        ctx = SimpleNamespace(session=db.session)
        assert push_due_job(ctx) == {"pushed": 1, "module_off": 0}
        assert push_due_job(ctx) == {"pushed": 0, "module_off": 0}
    runner.join()
    db.session.expire_all()
    keys = set(db.session.execute(sa.select(Job.idempotency_key).where(Job.actor == "core.notifications_fan_out")).scalars())
    assert f"notify:news.published:{later['id']}" in keys and len(keys) == 2


def test_image_link_for_the_app_works_while_the_post_is_published(client, world):
    post = create(client, world.club_a, world.admin_a)
    r = client.post(f"/api/v1/orgs/{world.club_a.id}/news/posts/{post['id']}/image",
                    data={"image": (io.BytesIO(png_bytes()), "f.png")}, headers=world.admin_a,
                    content_type="multipart/form-data")
    assert r.status_code == 200
    item = next(i for i in client.get("/api/v1/me/feed", headers=world.member).get_json()["items"]
                if i["plugin"] == "news")
    link = item["image_url"]
    assert link.startswith("/news/image/")
    anonymous = client.application.test_client()
    r = anonymous.get(link)  # an <img src> sends no bearer token
    assert r.status_code == 200 and same_picture(r.data, png_bytes())
    assert anonymous.get(link[:-3] + "abc").status_code == 404  # tampered
    db.session.execute(sa.update(NewsPost).where(NewsPost.id == post["id"]).values(publish_at=None))
    db.session.commit()
    assert anonymous.get(link).status_code == 404


def test_person_export_and_erase_hooks(client, world):
    post = create(client, world.club_a, world.admin_a, popup=True)
    fed_post = create(client, world.fed, world.sec)
    other = create(client, world.other_club, world.other)
    client.post(f"/api/v1/me/news/{post['id']}/read", headers=world.member)
    client.post(f"/api/v1/me/news/{fed_post['id']}/read", headers=world.member)
    client.post(f"/api/v1/me/news/popups/{post['id']}/seen", headers=world.member)
    person = world.member_user.person
    with client.application.test_request_context():
        exported = call_org_hook("person_export", world.club_a, person=person)
        news = [e for e in exported if isinstance(e, dict) and "read" in e and "popups_seen" in e]
        assert len(news) == 1
        assert {r["post_id"] for r in news[0]["read"]} == {post["id"], fed_post["id"]}
        assert [r["post_id"] for r in news[0]["popups_seen"]] == [post["id"]]
        # Another federation's club knows nothing of it.
        elsewhere = [e for e in call_org_hook("person_export", world.other_club, person=person)
                     if isinstance(e, dict) and "read" in e]
        assert elsewhere == [{"read": [], "popups_seen": []}]
        erased = [e for e in call_org_hook("person_erase", world.club_a, person=person)
                  if isinstance(e, dict) and "reads_deleted" in e]
        assert erased[0]["reads_deleted"] == 2 and erased[0]["popups_seen_deleted"] == 1
        db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NewsRead)) == 0
    assert other["id"] not in {r["post_id"] for r in news[0]["read"]}
