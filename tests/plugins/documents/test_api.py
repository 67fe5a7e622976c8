"""The documents API: kinds, templates checked on save, batches as jobs, delivery to the member app."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from core.db import db
from core.models import ModuleOverride
from core.notifications.models import Notification
from plugins.documents.models import Document, DocumentBatch, DocumentTemplate
from tests.plugins.documents.conftest import api, run_jobs

GOOD = "<h1>{{ member.name }}</h1>\n<p>{{ club.name }} {{ season.name }}</p>"


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_kinds_are_listed_with_their_variables(client, world):
    r = client.get(api(world.club_a, "kinds"), headers=world.admin_a)
    assert r.status_code == 200
    kinds = {k["key"]: k for k in r.json}
    assert {"sport_certificate", "member_card", "letter"} <= set(kinds)
    assert "amount_paid" in kinds["sport_certificate"]["variables"]
    fr = client.get(api(world.club_a, "kinds", "sport_certificate", "default-template") + "?language=fr",
                    headers=world.admin_a)
    assert fr.status_code == 200 and "Attestation" in fr.json["html"]
    en = client.get(api(world.club_a, "kinds", "member_card", "default-template") + "?language=en",
                    headers=world.admin_a)
    assert "Member card" in en.json["html"]
    assert client.get(api(world.club_a, "kinds", "nope", "default-template"), headers=world.admin_a).status_code == 404
    bad = client.get(api(world.club_a, "kinds", "letter", "default-template") + "?language=de", headers=world.admin_a)
    assert bad.status_code == 422


def test_template_syntax_error_is_refused_with_its_line(client, world):
    r = client.post(api(world.club_a, "templates"), headers=world.admin_a, json={
        "kind": "sport_certificate", "name": "Attest", "html": "<p>ok</p>\n<p>{% if member %}</p>"})
    assert r.status_code == 422
    assert r.json["line"] == 2
    assert "line 2" in r.json["errors"]["json"]["html"][0]
    assert count(DocumentTemplate) == 0


def test_template_unknown_variable_is_refused_with_its_line(client, world):
    r = client.post(api(world.club_a, "templates"), headers=world.admin_a, json={
        "kind": "member_card", "name": "Kaart", "html": "<p>{{ member.name }}</p>\n\n<p>{{ amount_paid }}</p>"})
    assert r.status_code == 422
    assert r.json["unknown"] == ["amount_paid"] and r.json["line"] == 3
    assert count(DocumentTemplate) == 0


def test_template_sandbox_refuses_unsafe_access(client, world):
    r = client.post(api(world.club_a, "templates"), headers=world.admin_a, json={
        "kind": "letter", "name": "Brief", "html": "{{ member.__class__.__mro__ }}"})
    assert r.status_code == 422
    assert count(DocumentTemplate) == 0


def test_template_crud_etag_and_inheritance(client, world):
    r = client.post(api(world.fed, "templates"), headers=world.secretariat,
                    json={"kind": "sport_certificate", "name": "Federatie", "html": GOOD, "language": "fr"})
    assert r.status_code == 201, r.json
    fed_template = r.json["id"]
    # The club sees and can use its federation's template, but cannot change it.
    listed = client.get(api(world.club_a, "templates"), headers=world.admin_a).json
    assert [(t["id"], t["inherited"]) for t in listed] == [(fed_template, True)]
    got = client.get(api(world.club_a, "templates", fed_template), headers=world.admin_a)
    r = client.patch(api(world.club_a, "templates", fed_template),
                     headers={**world.admin_a, "If-Match": got.headers["ETag"]}, json={"name": "Mine"})
    assert r.status_code == 403
    # Another federation's club never sees it.
    other = make_headers_other(client, world)
    assert client.get(api(world.other_club, "templates", fed_template), headers=other).status_code == 404
    # Updates need If-Match; a stale one is refused.
    path = api(world.fed, "templates", fed_template)
    assert client.patch(path, headers=world.secretariat, json={"name": "X"}).status_code == 428
    etag = client.get(path, headers=world.secretariat).headers["ETag"]
    r = client.patch(path, headers={**world.secretariat, "If-Match": etag}, json={"name": "Nieuw"})
    assert r.status_code == 200 and r.json["name"] == "Nieuw"
    assert client.patch(path, headers={**world.secretariat, "If-Match": etag}, json={"name": "Y"}).status_code == 412
    bad = client.patch(path, headers={**world.secretariat, "If-Match": r.headers["ETag"]}, json={"html": "{{ nope }}"})
    assert bad.status_code == 422
    assert db.session.get(DocumentTemplate, fed_template).html == GOOD


def make_headers_other(client, world):
    from tests.factories import Factory

    return Factory(db.session).headers(Factory(db.session).user("admin-other@example.org", role="club_admin",
                                                                org=world.other_club))


def test_preview_renders_a_pdf_with_the_sample_member(client, world):
    r = client.post(api(world.club_a, "templates", "preview"), headers=world.admin_a,
                    json={"kind": "member_card", "html": "<p>{{ member.name }}</p>", "css": ""})
    assert r.status_code == 200 and r.data.startswith(b"%PDF")


def test_logo_upload_checks_the_image(client, world):
    import io

    from PIL import Image

    t = client.post(api(world.club_a, "templates"), headers=world.admin_a,
                    json={"kind": "letter", "name": "Brief", "html": "<img src='{{ logo }}'>{{ member.name }}"}).json
    bad = client.put(api(world.club_a, "templates", t["id"], "logo"), headers=world.admin_a,
                     data={"logo": (io.BytesIO(b"not an image"), "logo.png")}, content_type="multipart/form-data")
    assert bad.status_code == 422
    png = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(png, format="PNG")
    png.seek(0)
    ok = client.put(api(world.club_a, "templates", t["id"], "logo"), headers=world.admin_a,
                    data={"logo": (png, "logo.png")}, content_type="multipart/form-data")
    assert ok.status_code == 200 and ok.json["has_logo"]


def test_certificate_batch_generates_notifies_and_lists_missing_data(client, world, app):
    r = client.post(api(world.club_a, "batches"), headers=world.admin_a, json={
        "kind": "sport_certificate", "person_ids": [world.an.id, world.jan.id],
        "options": {"payments": {str(world.an.id): {"amount": "30.00", "paid_on": "2025-09-15"}}}})
    assert r.status_code == 202, r.json
    assert r.json["job_url"] == f"/api/v1/jobs/{r.json['job_id']}"
    run_jobs(app)
    batch = client.get(api(world.club_a, "batches", r.json["batch_id"]), headers=world.admin_a).json
    assert batch["job_status"] == "done"
    assert (batch["generated"], batch["delivered"], batch["opened"]) == (1, 1, 0)
    assert batch["skipped"] == [{"person_id": world.jan.id, "name": "Jan Janssens", "missing": ["payment"]}]
    job = client.get(r.json["job_url"], headers=world.admin_a).json
    assert job["status"] == "done"
    document = db.session.execute(sa.select(Document)).scalar_one()
    assert document.person_id == world.an.id
    pdf = client.get(api(world.club_a, "documents", f"{document.id}.pdf"), headers=world.admin_a)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    notes = db.session.execute(sa.select(Notification)).scalars().all()
    assert [n.person_id for n in notes] == [world.an.id]

    # Running the batch again makes no second document and no second notification.
    from plugins.documents import services

    services.generate_batch(db.session, db.session.get(DocumentBatch, r.json["batch_id"]))
    db.session.commit()
    run_jobs(app)
    assert count(Document) == 1
    assert count(Notification) == 1


def test_certificate_requires_a_paid_season(client, world, app):
    r = client.post(api(world.club_a, "batches"), headers=world.admin_a,
                    json={"kind": "sport_certificate", "person_ids": [world.an.id]})
    assert r.status_code == 202
    run_jobs(app)
    assert count(Document) == 0
    assert db.session.get(DocumentBatch, r.json["batch_id"]).skipped[0]["missing"] == ["payment"]
    listed = client.get(api(world.club_a, "batches"), headers=world.admin_a).json
    assert listed["total"] == 1 and listed["items"][0]["skipped_count"] == 1
    assert client.get(api(world.club_b, "batches"), headers=world.contact_b).json["total"] == 0


def test_selection_outside_the_organisation_is_refused(client, world):
    r = client.post(api(world.club_a, "batches"), headers=world.admin_a,
                    json={"kind": "member_card", "person_ids": [world.an.id, world.bert.id, world.stranger.id]})
    assert r.status_code == 422
    assert r.json["outside"] == sorted([world.bert.id, world.stranger.id])
    assert count(DocumentBatch) == 0


def test_bad_batch_requests(client, world):
    path = api(world.club_a, "batches")
    r = client.post(path, headers=world.admin_a, json={"kind": "diploma", "person_ids": [world.an.id]})
    assert r.status_code == 422 and "kind" in r.json["errors"]["json"]
    r = client.post(path, headers=world.admin_a, json={"kind": "letter", "person_ids": [world.an.id],
                                                        "options": {"amount_paid": "3"}})
    assert r.status_code == 422 and "options.amount_paid" in r.json["errors"]["json"]
    both = client.post(path, headers=world.admin_a, json={"kind": "letter"})
    assert both.status_code == 422
    r = client.post(path, headers=world.admin_a, json={"kind": "letter", "filter": {"status": "bogus"}})
    assert r.status_code == 422
    r = client.post(path, headers=world.member_a, json={"kind": "letter", "person_ids": [world.an.id]})
    assert r.status_code == 403
    assert count(DocumentBatch) == 0


def test_other_organisations_answer_404(client, world):
    assert client.post(api(world.club_a, "batches"), headers=world.contact_b,
                       json={"kind": "letter", "person_ids": [world.an.id]}).status_code == 404
    assert client.get(api(world.club_a, "kinds"), headers=world.contact_b).status_code == 404


def test_module_off_answers_404(client, world):
    db.session.execute(sa.update(ModuleOverride).where(ModuleOverride.org_id == world.club_a.id,
                                                        ModuleOverride.plugin == "documents").values(enabled=False))
    db.session.commit()
    assert client.get(api(world.club_a, "kinds"), headers=world.admin_a).status_code == 404


def test_filter_selection_and_member_app_delivery(client, world, app):
    r = client.post(api(world.club_a, "batches"), headers=world.admin_a, json={
        "kind": "letter", "filter": {"q": "peeters"}, "options": {"subject": "Hallo", "body": "Tekst"}})
    assert r.status_code == 202, r.json
    run_jobs(app)
    items = client.get("/api/v1/me/documents", headers=world.an_headers).json["items"]
    assert [i["title"] for i in items] == ["Hallo"]
    url = items[0]["download_url"]
    # Someone else's document is not found; the member's own is, and counts as opened.
    assert client.get(url, headers=world.jan_headers).status_code == 404
    got = client.get(url, headers=world.an_headers)
    assert got.status_code == 200 and got.data.startswith(b"%PDF")
    batch = client.get(api(world.club_a, "batches", r.json["batch_id"]), headers=world.admin_a).json
    assert (batch["generated"], batch["delivered"], batch["opened"]) == (1, 1, 1)
    assert client.get("/api/v1/me/documents", headers=world.jan_headers).json["items"] == []


def test_a_failed_chunk_leaves_no_files_and_a_retry_completes(client, world, app, monkeypatch):
    from pathlib import Path

    from plugins.documents import services

    batch = DocumentBatch(org_id=world.club_a.id, kind="letter", person_ids=[world.an.id], options={"subject": "S"},
                          skipped=[])
    db.session.add(batch)
    db.session.commit()

    def broken(done, total):
        raise RuntimeError("database went away")

    folder = Path(app.config["DATA_DIR"]) / "files" / "documents"
    before = set(folder.iterdir()) if folder.exists() else set()
    import pytest

    with pytest.raises(RuntimeError):
        services.generate_batch(db.session, batch, progress=broken)
    db.session.rollback()
    assert (set(folder.iterdir()) if folder.exists() else set()) == before
    assert count(Document) == 0
    services.generate_batch(db.session, db.session.get(DocumentBatch, batch.id))
    db.session.commit()
    run_jobs(app)  # the notification's fan-out
    assert count(Document) == 1


def test_person_documents_need_a_person_of_the_organisation(client, world):
    assert client.get(api(world.club_a, "people", world.an.id, "documents"), headers=world.admin_a).json == []
    assert client.get(api(world.club_a, "people", world.bert.id, "documents"), headers=world.admin_a).status_code == 404


def test_every_documents_endpoint_answers_404_when_the_module_is_off(client, world, app):
    import re

    db.session.execute(sa.update(ModuleOverride).where(ModuleOverride.org_id == world.club_a.id,
                                                        ModuleOverride.plugin == "documents").values(enabled=False))
    db.session.commit()
    from tests.conftest import web_login

    web_login(client, "admin-a@example.org")
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("documents_api.", "documents_web.")):
            continue
        url = re.sub(r"<int:org_id>", str(world.club_a.id), rule.rule)
        url = re.sub(r"<[^>]+>", "1", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            headers = world.admin_a if rule.endpoint.startswith("documents_api.") else {}
            r = client.open(url, method=method, headers=headers, json={} if method != "GET" else None)
            assert r.status_code == 404, (method, url, r.status_code)
            checked += 1
    assert checked >= 20


def test_a_paid_invoice_from_billing_makes_the_certificate(client, world, app):
    from decimal import Decimal

    from plugins.billing.models import Invoice, MembershipCharge, Payment

    db.session.add(ModuleOverride(org_id=world.club_a.id, plugin="billing", enabled=True))
    invoice = Invoice(org_id=world.club_a.id, status="paid", total=Decimal("30.00"), amount_paid=Decimal("30.00"),
                      recipient_person_id=world.an.id)
    db.session.add(invoice)
    db.session.flush()
    db.session.add_all([
        MembershipCharge(issuer_id=world.club_a.id, membership_id=world.m_an.id, season_id=world.season.id,
                         invoice_id=invoice.id),
        Payment(invoice_id=invoice.id, amount=Decimal("30.00"), paid_on=dt.date(2025, 9, 20), method="manual")])
    db.session.commit()
    r = client.post(api(world.club_a, "batches"), headers=world.admin_a,
                    json={"kind": "sport_certificate", "person_ids": [world.an.id, world.jan.id]})
    assert r.status_code == 202
    run_jobs(app)
    batch = db.session.get(DocumentBatch, r.json["batch_id"])
    # An's fee is paid in billing; Jan has no paid invoice and no payment in the request.
    assert [s["person_id"] for s in batch.skipped] == [world.jan.id]
    assert db.session.execute(sa.select(Document.person_id)).scalars().all() == [world.an.id]
    from plugins.documents.kinds import CERTIFICATE

    context = CERTIFICATE.build(db.session, world.club_a, world.an, {}, {})
    assert (context["amount_paid"], context["paid_on"]) == ("30,00", "20/09/2025")
