"""News API: posts with statuses, ETags, sanitised bodies, audiences the author manages, images,
cross-organisation 404s and the module gate."""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa

from core.db import db, utcnow
from plugins.news.models import NewsPost
from tests.plugins.news.conftest import counts, create, png_bytes, same_picture, switch


def iso(delta_minutes: int) -> str:
    return (utcnow() + dt.timedelta(minutes=delta_minutes)).isoformat()


def test_create_list_by_status_and_read_one(client, world):
    base = f"/api/v1/orgs/{world.club_a.id}/news/posts"
    draft = create(client, world.club_a, world.admin_a, title="Concept", publish_at=None)
    scheduled = create(client, world.club_a, world.admin_a, title="Later", publish_at=iso(60))
    published = create(client, world.club_a, world.admin_a, title="Nu")
    expired = create(client, world.club_a, world.admin_a, title="Oud", publish_at=iso(-120), expires_at=iso(60))
    db.session.execute(sa.update(NewsPost).where(NewsPost.id == expired["id"]).values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    db.session.commit()
    assert draft["status"] == "draft" and scheduled["status"] == "scheduled" and published["status"] == "published"
    assert published["audience"] == [{"org_id": world.club_a.id, "name": "SK Gent", "include_descendants": True}]
    for status, expected in (("draft", draft), ("scheduled", scheduled), ("published", published), ("expired", expired)):
        items = client.get(f"{base}?status={status}", headers=world.admin_a).get_json()["items"]
        assert [i["id"] for i in items] == [expected["id"]], status
    listing = client.get(base, headers=world.admin_a).get_json()
    assert listing["total"] == 4 and listing["page"] == 1
    r = client.get(f"{base}?status=gone", headers=world.admin_a)
    assert r.status_code == 422 and "status" in r.get_json()["errors"]["query"]
    one = client.get(f"{base}/{published['id']}", headers=world.admin_a)
    assert one.status_code == 200 and one.headers["ETag"] and one.get_json()["read_count"] == 0


def test_bad_input_changes_nothing(client, world):
    base = f"/api/v1/orgs/{world.club_a.id}/news/posts"
    before = counts()
    cases = [
        ({"body_html": "x"}, "title"),
        ({"title": "x", "unknown": 1}, "unknown"),
        ({"title": "x", "publish_at": "2030-01-01T10:00:00"}, "publish_at"),  # no time zone
        ({"title": "x", "publish_at": iso(60), "expires_at": iso(30)}, "expires_at"),
        ({"title": "<b>x</b>"}, "title"),
        ({"title": "x", "audience_org_ids": []}, "audience_org_ids"),
    ]
    for body, field in cases:
        r = client.post(base, json=body, headers=world.admin_a)
        assert r.status_code == 422, body
        assert field in r.get_json()["errors"]["json"], (body, r.get_json())
    assert counts() == before
    assert client.post(base, json={"title": "x"}).status_code == 401
    assert client.post(base, json={"title": "x"}, headers=world.member).status_code == 403  # sees the club, may not write


def test_script_in_rich_text_is_refused_and_the_rest_sanitised(client, world):
    base = f"/api/v1/orgs/{world.club_a.id}/news/posts"
    before = counts()
    for body in ("<p>Hi</p><script>alert(1)</script>",
                 '<p><img src="x" onerror="alert(1)">Hi</p>',
                 '<p><a href="javascript:alert(1)">klik</a></p>',
                 '<p><a href="jav&#x61;script:alert(1)">klik</a></p>',
                 '<p><a href=" java\tscript:alert(1)">klik</a></p>',
                 '<p><a href="data:text/html,<script>x</script>">klik</a></p>',
                 '<iframe src="https://evil.example"></iframe>'):
        r = client.post(base, json={"title": "Aanval", "body_html": body}, headers=world.admin_a)
        assert r.status_code == 422, body
        assert "not allowed" in r.get_json()["errors"]["json"]["body_html"][0]
    assert counts() == before
    created = create(client, world.club_a, world.admin_a, body_html=(
        '<h2>Kop</h2><h3 class="x">Titel</h3><p style="color:red">Tekst <span>met</span> <strong>vet</strong>, '
        '<em>schuin</em> en <a href="https://sk-gent.be" target="_blank">een link</a>, '
        '<a href="mailto:info@sk-gent.be">mail</a>, <a href="/intern">intern</a>.</p>'
        '<ul><li>een</li></ul><ol><li>twee</li></ol><blockquote>citaat</blockquote><br><table><tr><td>t</td></tr></table>'))
    html = created["body_html"]
    assert "<h3>Titel</h3>" in html and "<strong>vet</strong>" in html and "<em>schuin</em>" in html
    assert '<a href="https://sk-gent.be" rel="noopener noreferrer">een link</a>' in html
    assert 'href="mailto:info@sk-gent.be"' in html and 'href="/intern"' not in html
    assert "<ul><li>een</li></ul>" in html and "<blockquote>citaat</blockquote>" in html
    for gone in ("<h2", "<span", "style=", "class=", "target=", "<table", "<td"):
        assert gone not in html
    stored = db.session.get(NewsPost, created["id"]).body_html
    assert stored == html


def test_etag_on_update(client, world):
    post = create(client, world.club_a, world.admin_a, publish_at=None)
    url = f"/api/v1/orgs/{world.club_a.id}/news/posts/{post['id']}"
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    assert client.patch(url, json={"title": "Nieuw"}, headers=world.admin_a).status_code == 428
    r = client.patch(url, json={"title": "Nieuw", "body_html": "<p>B</p><script>x</script>"},
                     headers={**world.admin_a, "If-Match": etag})
    assert r.status_code == 422
    assert db.session.get(NewsPost, post["id"]).title == "Nieuws"
    r = client.patch(url, json={"title": "Nieuw"}, headers={**world.admin_a, "If-Match": etag})
    assert r.status_code == 200 and r.get_json()["title"] == "Nieuw" and r.headers["ETag"] != etag
    r = client.patch(url, json={"title": "Te laat"}, headers={**world.admin_a, "If-Match": etag})
    assert r.status_code == 412
    assert db.session.get(NewsPost, post["id"]).title == "Nieuw"
    # An audience-only change moves the ETag too.
    etag2 = client.get(url, headers=world.admin_a).headers["ETag"]
    r = client.patch(url, json={"include_descendants": False}, headers={**world.admin_a, "If-Match": etag2})
    assert r.status_code == 200 and r.get_json()["audience"][0]["include_descendants"] is False
    assert client.get(url, headers=world.admin_a).headers["ETag"] != etag2


def test_audience_only_organisations_the_author_manages(client, world):
    base = f"/api/v1/orgs/{world.club_a.id}/news/posts"
    before = counts()
    for target in (world.club_b.id, world.fed.id, world.other_club.id, 999999):
        r = client.post(base, json={"title": "x", "audience_org_ids": [world.club_a.id, target]}, headers=world.admin_a)
        assert r.status_code == 422
        message = r.get_json()["errors"]["json"]["audience_org_ids"][0]
        assert "not an organisation you manage" in message and str(target) in message
    assert counts() == before
    # The federation secretariat publishes to selected clubs of its tree, not to another federation.
    post = create(client, world.fed, world.sec, audience_org_ids=[world.club_a.id, world.club_b.id],
                  include_descendants=False)
    assert {a["org_id"] for a in post["audience"]} == {world.club_a.id, world.club_b.id}
    r = client.post(f"/api/v1/orgs/{world.fed.id}/news/posts",
                    json={"title": "x", "audience_org_ids": [world.other_club.id]}, headers=world.sec)
    assert r.status_code == 422


def test_cross_organisation_access_is_404(client, world):
    post_b = create(client, world.club_b, world.admin_b)
    for method, suffix in (("get", ""), ("patch", ""), ("delete", ""), ("post", "/publish"), ("get", "/image")):
        # Club B's URL for admin A: the gate hides the organisation.
        r = getattr(client, method)(f"/api/v1/orgs/{world.club_b.id}/news/posts/{post_b['id']}{suffix}",
                                    json={} if method == "patch" else None, headers={**world.admin_a, "If-Match": "x"})
        assert r.status_code == 404, (method, suffix)
        # Club A's URL with club B's post id.
        r = getattr(client, method)(f"/api/v1/orgs/{world.club_a.id}/news/posts/{post_b['id']}{suffix}",
                                    json={} if method == "patch" else None, headers={**world.admin_a, "If-Match": "x"})
        assert r.status_code == 404, (method, suffix)
    assert client.get(f"/api/v1/orgs/{world.club_b.id}/news/posts", headers=world.other).status_code == 404
    # The federation sees the club, but a club's post is read through the club's URL only.
    assert client.get(f"/api/v1/orgs/{world.fed.id}/news/posts/{post_b['id']}", headers=world.sec).status_code == 404
    assert client.get(f"/api/v1/orgs/{world.club_b.id}/news/posts/{post_b['id']}", headers=world.sec).status_code == 200
    assert db.session.get(NewsPost, post_b["id"]) is not None


def test_every_news_endpoint_answers_404_when_the_module_is_off(client, world):
    post = create(client, world.club_a, world.admin_a)
    switch(world.club_a, False)
    rules = [r for r in client.application.url_map.iter_rules()
             if r.endpoint.startswith(("news_api.", "news_web.")) and "org_id" in r.arguments]
    assert len(rules) >= 10
    for rule in rules:
        url = rule.rule.replace("<int:org_id>", str(world.club_a.id)).replace("<int:post_id>", str(post["id"]))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            r = client.open(url, method=method, headers=world.admin_a)
            assert r.status_code == 404, (method, url, r.status_code)
    assert client.get(f"/api/v1/orgs/{world.club_b.id}/news/posts", headers=world.admin_b).status_code == 200
    # Disabling keeps the data: switched on again, the post is there.
    switch(world.club_a, True)
    assert client.get(f"/api/v1/orgs/{world.club_a.id}/news/posts/{post['id']}", headers=world.admin_a).status_code == 200


def test_publish_now_and_delete(client, world):
    post = create(client, world.club_a, world.admin_a, publish_at=iso(600))
    base = f"/api/v1/orgs/{world.club_a.id}/news/posts/{post['id']}"
    r = client.post(base + "/publish", headers=world.admin_a)
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    assert client.delete(base, headers=world.member).status_code == 403
    assert client.delete(base, headers=world.admin_a).status_code == 204
    assert client.get(base, headers=world.admin_a).status_code == 404
    assert counts()["news_post"] == 0


def test_image_upload_checks_content_and_size(client, world, tmp_path):
    post = create(client, world.club_a, world.admin_a)
    url = f"/api/v1/orgs/{world.club_a.id}/news/posts/{post['id']}/image"

    def upload(data: bytes, name="foto.png"):
        return client.post(url, data={"image": (io.BytesIO(data), name)}, headers=world.admin_a,
                           content_type="multipart/form-data")

    r = upload(b"<?php echo 'hi'; ?>", "foto.png")
    assert r.status_code == 422 and "not an image" in r.get_json()["errors"]["json"]["image"][0]
    r = upload(b"GIF89a" + b"\0" * 20, "foto.gif")  # right magic bytes, not an image
    assert r.status_code == 422
    big = png_bytes() + b"\0" * (2 * 1024 * 1024)
    r = upload(big)
    assert r.status_code == 413 and "2 MB" in r.get_json()["message"]
    assert client.post(url, data={}, headers=world.admin_a, content_type="multipart/form-data").status_code == 422
    assert db.session.get(NewsPost, post["id"]).image_file is None
    r = upload(png_bytes(), "evil.html")
    assert r.status_code == 200
    stored = db.session.get(NewsPost, post["id"])
    assert stored.image_file.endswith(".png") and stored.image_content_type == "image/png"
    image = client.get(r.get_json()["image_url"], headers=world.admin_a)
    assert image.status_code == 200 and image.mimetype == "image/png" and same_picture(image.data, png_bytes())
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    # A new image replaces the file; deleting the post removes it.
    first = stored.image_file
    assert upload(png_bytes((5, 5))).status_code == 200
    from plugins.news import storage

    with client.application.test_request_context():
        assert storage.path_of(first) is None
        second = db.session.get(NewsPost, post["id"]).image_file
        assert storage.path_of(second) is not None
        assert client.delete(f"/api/v1/orgs/{world.club_a.id}/news/posts/{post['id']}", headers=world.admin_a).status_code == 204
        assert storage.path_of(second) is None


def test_openapi_documents_the_news_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/orgs/{org_id}/news/posts" in spec["paths"]
    assert "/api/v1/me/news/popups" in spec["paths"]


def test_images_are_stored_without_their_metadata(client, world):
    """A phone photo carries where and when it was taken: the stored image keeps the picture, upright, not that."""
    from PIL import Image

    photo = Image.new("RGB", (40, 20), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned
    exif[0x9003] = "2026:05:01 10:00:00"  # taken at
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 3.0, 0.0), 3: "E", 4: (3.0, 43.0, 0.0)})  # GPS: Gent
    raw = io.BytesIO()
    photo.save(raw, "JPEG", exif=exif)
    assert b"Exif" in raw.getvalue()
    post = create(client, world.club_a, world.admin_a)
    r = client.post(f"/api/v1/orgs/{world.club_a.id}/news/posts/{post['id']}/image", headers=world.admin_a,
                    data={"image": (io.BytesIO(raw.getvalue()), "foto.jpg")}, content_type="multipart/form-data")
    assert r.status_code == 200
    served = client.get(r.get_json()["image_url"], headers=world.admin_a)
    assert served.mimetype == "image/jpeg" and b"Exif" not in served.data
    with Image.open(io.BytesIO(served.data)) as stored:
        assert stored.size == (20, 40) and not stored.getexif()
