"""Documents admin pages, the person-page section, member cards with their public verification, GDPR hooks."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from core.db import db
from plugins.documents import services
from plugins.documents.kinds import card_token
from plugins.documents.models import Document, DocumentBatch, DocumentTemplate
from plugins.membership.models import Season
from tests.conftest import web_login
from tests.plugins.documents.conftest import api, run_jobs

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def page(client, url):
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return r.get_data(as_text=True)


def token(html):
    return CSRF.search(html).group(1)


def test_template_pages_refuse_errors_and_preview(client, world):
    web_login(client, "admin-a@example.org")
    base = f"/o/{world.club_a.id}/documents/"
    html = page(client, base + "templates/new?kind=member_card&language=fr")
    assert "Carte de membre" in html and "srcdoc" in html
    r = client.post(base + "templates/new", data={"csrf_token": token(html), "kind": "member_card", "name": "Kaart",
                                                  "language": "nl", "html": "<p>{{ member.name }\n</p>", "css": ""})
    assert r.status_code == 200 and "line 1" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentTemplate)) == 0
    r = client.post(base + "templates/new", data={"csrf_token": token(html), "kind": "member_card", "name": "Kaart",
                                                  "language": "nl", "html": "<p>{{ member.name }}</p>", "css": "p{}"})
    assert r.status_code == 302
    template = db.session.execute(sa.select(DocumentTemplate)).scalar_one()
    html = page(client, base)
    assert "Kaart" in html
    pdf = client.get(base + f"templates/{template.id}/preview.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # Another club's admin does not see the page.
    client.post("/logout", data={"csrf_token": token(html)})
    web_login(client, "contact-b@example.org")
    assert client.get(base + f"templates/{template.id}").status_code == 404


def test_generate_from_the_person_page(client, world, app):
    web_login(client, "admin-a@example.org")
    person_page = page(client, f"/o/{world.club_a.id}/people/{world.an.id}")
    assert "Digital member card" in person_page
    url = f"/o/{world.club_a.id}/documents/generate?person_id={world.an.id}&kind=member_card"
    html = page(client, url)
    assert "An Peeters" in html
    r = client.post(url, data={"csrf_token": token(html), "kind": "member_card"})
    assert r.status_code == 302 and "/batches/" in r.headers["Location"]
    run_jobs(app)
    html = page(client, r.headers["Location"])
    assert 'data-count="generated">1<' in html
    document = db.session.execute(sa.select(Document)).scalar_one()
    assert document.kind == "member_card"
    person_page = page(client, f"/o/{world.club_a.id}/people/{world.an.id}")
    assert f"/files/{document.id}.pdf" in person_page
    pdf = client.get(f"/o/{world.club_a.id}/documents/files/{document.id}.pdf")
    assert pdf.status_code == 200
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # Someone outside the organisation cannot generate for this person.
    r = client.post(f"/o/{world.club_a.id}/documents/generate?person_id={world.bert.id}",
                    data={"csrf_token": token(html), "kind": "member_card"})
    assert r.status_code == 200 and "not members" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentBatch)) == 1


def test_verification_page(client, world):
    good = card_token(world.an.id, world.club_a.id, world.season.id)
    html = page(client, f"/verify/{good}")
    assert 'data-verify-status="valid"' in html and "An Peeters" in html and "SK Gent" in html
    assert world.an.national_number not in html and "Kerkstraat" not in html
    forged = good[:-3] + ("abc" if not good.endswith("abc") else "xyz")
    html = page(client, f"/verify/{forged}")
    assert 'data-verify-status="invalid"' in html and "An Peeters" not in html
    html = page(client, "/verify/not-a-token")
    assert 'data-verify-status="invalid"' in html
    # A card of a season that is over says expired.
    old = Season(org_id=world.fed.id, name="Oud", starts_on=dt.date(2020, 9, 1), ends_on=dt.date(2021, 8, 31))
    db.session.add(old)
    db.session.commit()
    html = page(client, f"/verify/{card_token(world.an.id, world.club_a.id, old.id)}")
    assert 'data-verify-status="expired"' in html
    # A card signed with another key is not valid.
    from itsdangerous import URLSafeSerializer

    other = URLSafeSerializer("another-secret", salt="documents.member-card").dumps(
        {"p": world.an.id, "o": world.club_a.id, "s": world.season.id})
    assert 'data-verify-status="invalid"' in page(client, f"/verify/{other}")


def test_member_card_is_credit_card_size_one_page_per_member(world):
    from plugins.documents.kinds import MEMBER_CARD

    template = services.default_template(MEMBER_CARD, "nl")
    contexts = [(p.id, MEMBER_CARD.build(db.session, world.club_a, p, {}, {})) for p in (world.an, world.jan)]
    pdfs = list(services.render_many(MEMBER_CARD, template, contexts))
    assert [key for key, _ in pdfs] == [world.an.id, world.jan.id]
    rendered = services.layout(services.full_html(MEMBER_CARD, template, [("doc-1", "<p>x</p>")]))
    page = rendered.pages[0]
    # 85.6 x 54 mm in CSS pixels (96 per inch).
    assert abs(page.width - 85.6 / 25.4 * 96) < 0.5 and abs(page.height - 54 / 25.4 * 96) < 0.5


def test_templates_cannot_reach_files_or_the_network(world):
    from plugins.documents.kinds import LETTER

    template = services.ResolvedTemplate(None, "t", "nl", '<img src="file:///etc/hostname"><p>{{ member.name }}</p>',
                                         "body { background: url(http://127.0.0.1:9/x.png) }")
    pdf = services.render_pdf(LETTER, template, LETTER.sample())
    assert pdf.startswith(b"%PDF")
    fetcher = services._url_fetcher()
    for url in ("file:///etc/hostname", "http://127.0.0.1:9/x.png", "https://example.org/x.png"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain;base64,eA==") is not None


def test_card_qr_points_to_the_verification_page(world, app):
    from plugins.documents.kinds import MEMBER_CARD

    cache: dict = {}
    context = MEMBER_CARD.build(db.session, world.club_a, world.an, {}, cache)
    assert context["verify_url"].startswith(app.config["BASE_URL"].rstrip("/") + "/verify/")
    assert context["qr"].startswith("data:image/png;base64,")
    assert services.verify(db.session, context["verify_url"].rsplit("/", 1)[1])["status"] == "valid"


def test_export_and_erase(client, world, app):
    r = client.post(api(world.club_a, "batches"), headers=world.admin_a,
                    json={"kind": "member_card", "person_ids": [world.an.id, world.jan.id]})
    assert r.status_code == 202
    run_jobs(app)
    from core.gates import call_org_hook, flatten

    exported = flatten([d.get("documents", []) for d in call_org_hook("person_export", world.club_a, person=world.an)])
    assert len(exported) == 1 and exported[0]["kind"] == "member_card"
    key = db.session.execute(sa.select(Document.file_key).where(Document.person_id == world.an.id)).scalar_one()
    from core.files import storage

    assert storage().read(key) is not None
    call_org_hook("person_erase", world.club_a, person=world.an)
    db.session.commit()
    assert storage().read(key) is None
    remaining = db.session.execute(sa.select(Document.person_id)).scalars().all()
    assert remaining == [world.jan.id]


def test_large_batches_lay_out_in_worker_processes(client, world, app):
    """The worker-process path gives the same documents as the in-process one."""
    from plugins.documents.models import DocumentBatch

    batch = DocumentBatch(org_id=world.club_a.id, kind="member_card", person_ids=[world.an.id, world.jan.id],
                          options={}, skipped=[])
    db.session.add(batch)
    db.session.commit()
    outcome = services.generate_batch(db.session, batch, processes=2)
    db.session.commit()
    run_jobs(app)  # the notification's fan-out
    assert outcome == {"generated": 2, "skipped": 0, "notified": 2}
    from core.files import storage

    keys = db.session.execute(sa.select(Document.file_key).order_by(Document.person_id)).scalars().all()
    assert len(keys) == 2 and all(storage().read(k).startswith(b"%PDF") for k in keys)


def test_generate_for_a_member_list_filter(client, world, app):
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/documents/generate?kind=letter&q=peeters"
    html = page(client, url)
    assert 'name="filter.q" value="peeters"' in html
    r = client.post(f"/o/{world.club_a.id}/documents/generate", data={
        "csrf_token": token(html), "kind": "letter", "filter.q": "peeters", "subject": "Uitnodiging", "body": "Kom"})
    assert r.status_code == 302
    run_jobs(app)
    batch = db.session.execute(sa.select(DocumentBatch)).scalar_one()
    assert batch.person_ids == [world.an.id] and batch.options == {"subject": "Uitnodiging", "body": "Kom"}
    assert db.session.execute(sa.select(Document.person_id)).scalars().all() == [world.an.id]
