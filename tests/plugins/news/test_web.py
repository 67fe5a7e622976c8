"""News admin pages: list with status tabs and read counts, the form (Brussels times, audience, image,
refused script), live preview, publish, delete, admin pop-ups, menu, cross-organisation and module 404s."""
from __future__ import annotations

import datetime as dt
import io
import re

import sqlalchemy as sa

from core.db import db, utcnow
from plugins.news.models import NewsPost
from tests.conftest import web_login
from tests.plugins.news.conftest import counts, create, png_bytes, switch

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def page(client, url):
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return r.get_data(as_text=True)


def form(world, token, **fields):
    data = {"csrf_token": token, "title": "Clubfeest", "body_html": "<p>Welkom</p>", "mode": "now",
            "publish_at": "", "expires_at": "", "audience": [str(world.club_a.id)], "include_descendants": "1"}
    data.update(fields)
    return data


def test_list_menu_and_read_counts(client, world):
    post = create(client, world.club_a, world.admin_a, title="Gepubliceerd")
    create(client, world.club_a, world.admin_a, title="Concept", publish_at=None)
    create(client, world.club_b, world.admin_b, title="Van club B")
    client.post(f"/api/v1/me/news/{post['id']}/read", headers=world.member)
    web_login(client, "admin-a@example.org")
    html = page(client, f"/o/{world.club_a.id}/news/")
    assert "Gepubliceerd" in html and "Concept" in html and "Van club B" not in html
    assert f'<td data-reads="1">1</td>' in html
    html = page(client, f"/o/{world.club_a.id}/news/?status=draft")
    assert "Concept" in html and "Gepubliceerd" not in html
    assert client.get(f"/o/{world.club_a.id}/news/?status=nope").status_code == 400
    assert f"/o/{world.club_a.id}/news/" in page(client, f"/o/{world.club_a.id}/")  # menu item
    detail = page(client, f"/o/{world.club_a.id}/news/{post['id']}")
    assert "1 of 2 people" in detail  # the member and the admin are linked to club A
    # Another club's pages and posts: 404.
    assert client.get(f"/o/{world.club_b.id}/news/").status_code == 404
    other = db.session.execute(sa.select(NewsPost).where(NewsPost.title == "Van club B")).scalar_one()
    assert client.get(f"/o/{world.club_a.id}/news/{other.id}").status_code == 404
    assert client.get(f"/o/{world.club_a.id}/news/{other.id}/edit").status_code == 404
    # Module off: the pages and the menu item are gone.
    switch(world.club_a, False)
    assert client.get(f"/o/{world.club_a.id}/news/").status_code == 404
    assert f"/o/{world.club_a.id}/news/" not in page(client, f"/o/{world.club_a.id}/")


def test_write_a_post_with_the_form(client, world):
    web_login(client, "sec@example.org")
    html = page(client, f"/o/{world.fed.id}/news/new")
    assert "SK Brugge" in html and "Andere federatie" not in html  # audience choices: own subtree
    token = CSRF.search(html).group(1)
    r = client.post(f"/o/{world.fed.id}/news/new", data=form(
        world, token, mode="at", publish_at="2030-07-01T12:00", expires_at="2030-07-31T23:59",
        audience=[str(world.club_a.id), str(world.club_b.id)], include_descendants="", push="1", popup="1",
        body_html='<p>Feest <span style="x">nu</span></p>'))
    assert r.status_code == 302
    post = db.session.execute(sa.select(NewsPost)).scalar_one()
    # Entered in Belgian (summer) time, stored in UTC.
    assert post.publish_at == dt.datetime(2030, 7, 1, 10, 0, tzinfo=dt.timezone.utc)
    assert post.expires_at == dt.datetime(2030, 7, 31, 21, 59, tzinfo=dt.timezone.utc)
    assert post.body_html == "<p>Feest nu</p>" and post.push and post.popup and post.pushed_at is None
    assert {(a.org_id, a.include_descendants) for a in post.audience} == {(world.club_a.id, False), (world.club_b.id, False)}
    detail = page(client, r.headers["Location"])
    assert "Scheduled" in detail and ">01-07-2030, 12:00</time>" in detail  # shown in Brussels time


def test_bad_form_input_is_shown_and_nothing_is_stored(client, world):
    web_login(client, "admin-a@example.org")
    token = CSRF.search(page(client, f"/o/{world.club_a.id}/news/new")).group(1)
    before = counts()
    url = f"/o/{world.club_a.id}/news/new"
    r = client.post(url, data=form(world, token, body_html='<p onclick="steal()">x</p><script>alert(1)</script>'))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "not allowed" in html and "The news post was not saved" in html
    assert "<script>alert(1)</script>" not in html  # the textarea escapes what was typed
    r = client.post(url, data=form(world, token, audience=[str(world.club_b.id)]))
    assert r.status_code == 422 and "not an organisation you manage" in r.get_data(as_text=True)
    r = client.post(url, data=form(world, token, mode="at", publish_at="morgen"))
    assert r.status_code == 422 and "Enter a date and time." in r.get_data(as_text=True)
    r = client.post(url, data={**form(world, token), "image": (io.BytesIO(b"not an image"), "x.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "not an image" in r.get_data(as_text=True)
    r = client.post(url, data={**form(world, token), "image": (io.BytesIO(png_bytes() + b"\0" * 2_100_000), "x.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 413
    assert client.post(url, data=form(world, "wrong-token")).status_code == 400  # CSRF
    assert counts() == before


def test_edit_with_image_publish_and_delete(client, world):
    post = create(client, world.club_a, world.admin_a, title="Oud", publish_at=None)
    web_login(client, "admin-a@example.org")
    base = f"/o/{world.club_a.id}/news/{post['id']}"
    html = page(client, base + "/edit")
    token = CSRF.search(html).group(1)
    r = client.post(base + "/edit", data={**form(world, token, title="Nieuw", mode="draft"),
                                           "image": (io.BytesIO(png_bytes()), "foto.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    stored = db.session.get(NewsPost, post["id"])
    assert stored.title == "Nieuw" and stored.publish_at is None and stored.image_file
    image = client.get(base + "/image")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert "Publish now" in page(client, base)
    assert client.post(base + "/publish", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(NewsPost, post["id"]).status_at(utcnow()) == "published"
    # Re-saving a post whose expiry passed keeps it (the form shows the time as stored).
    db.session.execute(sa.update(NewsPost).where(NewsPost.id == post["id"])
                       .values(publish_at=utcnow() - dt.timedelta(minutes=10),
                               expires_at=utcnow() - dt.timedelta(minutes=5)))
    db.session.commit()
    html = page(client, base + "/edit")
    expires = re.search(r'name="expires_at" value="([^"]*)"', html).group(1)
    publish_at = re.search(r'name="publish_at" value="([^"]*)"', html).group(1)
    r = client.post(base + "/edit", data=form(world, token, title="Verbeterd", mode="at", publish_at=publish_at,
                                              expires_at=expires))
    assert r.status_code == 302, r.get_data(as_text=True)
    assert client.post(base + "/delete", data={"csrf_token": token}).status_code == 302
    assert counts()["news_post"] == 0


def test_live_preview_sanitises(client, world):
    web_login(client, "admin-a@example.org")
    token = CSRF.search(page(client, f"/o/{world.club_a.id}/news/new")).group(1)
    r = client.post(f"/o/{world.club_a.id}/news/preview", data={
        "csrf_token": token, "body_html": '<p>Hoi <em>jij</em></p><script>x()</script><a href="javascript:x()">k</a>'})
    assert r.status_code == 200
    data = r.get_json()
    assert data["html"].startswith("<p>Hoi <em>jij</em></p>") and "script" not in data["html"]
    assert "javascript" not in data["html"] and set(data["refused"]) == {"<script>", "javascript:"}
    web_login(client, "lid-a@example.org")
    assert client.post(f"/o/{world.club_a.id}/news/preview", data={"csrf_token": token}).status_code in (400, 403)


def test_admin_popups_are_shown_once(client, world):
    popup = create(client, world.fed, world.sec, title="Vergadering", popup=True, body_html="<p>Kom</p>")
    create(client, world.fed, world.sec, title="Geen pop-up")
    web_login(client, "admin-b@example.org")
    html = page(client, f"/o/{world.club_b.id}/news/popups")
    assert "Vergadering" in html and "Geen pop-up" not in html
    as_json = client.get(f"/o/{world.club_b.id}/news/popups", headers={"Accept": "application/json"}).get_json()
    assert [p["title"] for p in as_json] == ["Vergadering"]
    token = CSRF.search(html).group(1)
    r = client.post(f"/o/{world.club_b.id}/news/popups/{popup['id']}/seen", data={"csrf_token": token})
    assert r.status_code == 302
    assert "Vergadering" not in page(client, f"/o/{world.club_b.id}/news/popups")
    assert client.post(f"/o/{world.club_b.id}/news/popups/{popup['id']}/seen", data={"csrf_token": token}).status_code == 404
    # Another federation's admin never sees it.
    web_login(client, "other@example.org")
    assert "Vergadering" not in page(client, f"/o/{world.other_club.id}/news/popups")
    assert client.get(f"/o/{world.club_b.id}/news/popups").status_code == 404


def test_popups_show_on_the_dashboard_until_dismissed(client, world):
    popup = create(client, world.fed, world.sec, title="Algemene vergadering", popup=True, body_html="<p>Kom</p>")
    web_login(client, "admin-b@example.org")
    dashboard = f"/o/{world.club_b.id}/"
    html = page(client, dashboard)
    assert 'data-plugin="news"' in html and "Algemene vergadering" in html
    token = CSRF.search(html).group(1)
    r = client.post(f"/o/{world.club_b.id}/news/popups/{popup['id']}/seen", data={"csrf_token": token,
                                                                             "next": dashboard})
    assert r.status_code == 302 and r.headers["Location"].endswith(dashboard)
    assert "Algemene vergadering" not in page(client, dashboard)
    # With news switched off for the club, the dashboard has no news panel at all.
    switch(world.club_b, False)
    assert 'data-plugin="news"' not in page(client, dashboard)
