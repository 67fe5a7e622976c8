"""Billing admin pages: the overview with menu entry, a manual invoice (and its bad input), issuing
twice from the page, a payment, a run from preview to job, a CODA upload, reports, the person page."""
from __future__ import annotations

import io
import re

import sqlalchemy as sa

from core.db import db
from plugins.billing.models import BankLine, Invoice, Payment
from tests.conftest import web_login
from tests.plugins.billing.conftest import TODAY
from tests.plugins.billing.test_payments import CODA, STATEMENT_IBAN

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="token" value="([^"]+)"')


def page(client, url):
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return r.get_data(as_text=True)


def form_tokens(html):
    token = TOKEN.search(html)
    return {"csrf_token": CSRF.search(html).group(1), **({"token": token.group(1)} if token else {})}


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_manual_invoice_from_draft_to_paid(client, world):
    web_login(client, "admin-a@example.org")
    base = f"/o/{world.club_a.id}/billing/"
    assert "Invoices" in page(client, f"/o/{world.club_a.id}/")  # the menu item
    html = page(client, base + "new")
    form = {**form_tokens(html), "recipient": f"p:{world.jan.id}", "description_0": "Sweater",
            "quantity_0": "2", "unit_price_0": "abc", "vat_0": "S:21"}
    r = client.post(base + "new", data=form)
    assert r.status_code == 422 and "Not a valid number." in r.get_data(as_text=True) and count(Invoice) == 0
    r = client.post(base + "new", data={**form, "unit_price_0": "20,00"})
    assert r.status_code == 302
    again = client.post(base + "new", data={**form, "unit_price_0": "20,00"})  # the same form sent twice
    assert again.status_code == 302 and again.location == r.location and count(Invoice) == 1
    html = page(client, r.location)
    assert "48.40" in html and "Draft" in html
    invoice = db.session.execute(sa.select(Invoice)).scalar_one()
    url = f"{base}{invoice.id}"
    for _ in range(2):  # double click on "issue"
        assert client.post(url + "/issue", data=form_tokens(html)).status_code == 302
    db.session.refresh(invoice)
    assert invoice.number == f"{TODAY.year}-00001" and invoice.sequence == 1
    html = page(client, url)
    assert invoice.number in html and "+++" in html
    pay = {**form_tokens(html), "amount": "48,40", "paid_on": TODAY.isoformat(), "reference": "cash"}
    client.post(url + "/payments", data=pay)
    client.post(url + "/payments", data=pay)  # sent twice: booked once
    db.session.refresh(invoice)
    assert invoice.status == "paid" and count(Payment) == 1
    assert client.get(url + ".pdf").data.startswith(b"%PDF")
    listing = page(client, base + "?status=paid")
    assert invoice.number in listing
    # The person page shows the invoice; another club's pages are 404.
    assert invoice.number in page(client, f"/o/{world.club_a.id}/people/{world.jan.id}")
    assert client.get(f"/o/{world.club_b.id}/billing/").status_code == 404
    assert client.get(f"/o/{world.club_b.id}/billing/{invoice.id}").status_code == 404


def test_member_without_rights_gets_403(client, world):
    web_login(client, "lid-a@example.org")
    assert client.get(f"/o/{world.club_a.id}/billing/").status_code == 403


def test_run_from_preview_to_job(client, world):
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/billing/runs"
    html = page(client, url + f"?season_id={world.season.id}&target=members")
    assert "Jan Peeters" in html and "Issue invoices" in html
    r = client.post(url, data={**form_tokens(html), "season_id": world.season.id, "target": "members"})
    assert r.status_code == 302 and "/jobs/" in r.location
    from flask import current_app

    current_app.extensions["federa"].jobs.join()
    assert count(Invoice) == 1
    assert "Nothing to invoice" in page(client, url + f"?season_id={world.season.id}&target=members")


def test_bank_statement_upload_and_reports(client, world):
    world.club_a.iban = STATEMENT_IBAN
    db.session.commit()
    web_login(client, "admin-a@example.org")
    url = f"/o/{world.club_a.id}/billing/bank"
    html = page(client, url)
    r = client.post(url, data={**form_tokens(html), "file": (io.BytesIO(b"garbage"), "x.cod")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and "Not a valid CODA file" in r.get_data(as_text=True) and count(BankLine) == 0
    r = client.post(url, data={**form_tokens(html), "file": (io.BytesIO(CODA.read_bytes()), "x.cod")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and "lines to match" in r.get_data(as_text=True)
    assert count(BankLine) > 10 and "2,249.70" not in r.get_data(as_text=True)
    assert "2249.70" in r.get_data(as_text=True)
    html = page(client, f"/o/{world.club_a.id}/billing/reports")
    assert "Per organisation" in html and "No invoices yet." in html


def test_logo_upload_is_checked_and_printed(client, world, make):
    from PIL import Image

    from core.gates import federa
    from core.settings import get_setting
    from plugins.billing import documents

    make.user("contact-a@example.org", role="club_contact", org=world.club_a)
    web_login(client, "contact-a@example.org")
    url = f"/o/{world.club_a.id}/billing/logo"
    html = page(client, f"/o/{world.club_a.id}/billing/reports")
    r = client.post(url, data={**form_tokens(html), "logo": (io.BytesIO(b"<svg/>"), "x.png")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "not an image" in r.get_data(as_text=True)
    assert get_setting(db.session, federa().settings, world.club_a, "billing.logo_file") == ""
    png = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(png, "PNG")
    png.seek(0)
    client.post(url, data={**form_tokens(html), "logo": (png, "logo.png")}, content_type="multipart/form-data")
    key = get_setting(db.session, federa().settings, world.club_a, "billing.logo_file")
    assert key and documents.logo_data_uri(world.club_a, key).startswith("data:image/jpeg;base64,")
