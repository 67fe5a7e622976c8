"""The documents of an invoice: PDF with the EPC QR, the e-mail with the PDF attached, the Peppol UBL
(checked against the official rules) and its folder-drop delivery, and the member app's copy."""
from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

from flask import current_app

from core.db import db
from core.mail import outbox_dir
from plugins.billing import documents, services, ubl
from plugins.billing.models import Invoice
from tests.plugins.billing.conftest import api, manual

VAT_LINES = [
    {"description": "Lidgeld 2026", "quantity": "12", "unit_price": "25.00"},
    {"description": "Truitjes", "quantity": "12", "unit_price": "18.50", "vat_category": "S", "vat_rate": "21"},
    {"description": "Boekjes", "quantity": "3", "unit_price": "7.99", "vat_category": "S", "vat_rate": "6"},
]


def fed_to_club(client, world, lines=None) -> dict:
    r = client.post(api(world.fed, "invoices"), headers=world.secretariat, json=manual(org=world.club_a, lines=lines))
    return client.post(api(world.fed, "invoices", r.json["id"], "issue"), headers=world.secretariat).json


def test_pdf_carries_the_structured_communication_and_an_epc_qr(client, world):
    inv = fed_to_club(client, world)
    r = client.get(api(world.fed, "invoices", f"{inv['id']}.pdf"), headers=world.secretariat)
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    # The receiving club gets the same PDF; another club does not.
    assert client.get(api(world.club_a, "invoices", f"{inv['id']}.pdf"), headers=world.admin_a).status_code == 200
    assert client.get(api(world.club_b, "invoices", f"{inv['id']}.pdf"), headers=world.admin_b).status_code == 404
    invoice = db.session.get(Invoice, inv["id"])
    html = documents.invoice_html(db.session, invoice)
    assert inv["structured_communication"] in html and "<svg" in html and world.fed.iban in html
    # The EPC payload: service tag, IBAN, amount and the structured communication as creditor reference.
    import segno.helpers

    qr = segno.helpers.make_epc_qr(name=world.fed.name, iban=world.fed.iban, amount=invoice.open_amount,
                                   reference=invoice.structured_ref, bic=world.fed.bic)
    assert documents.epc_qr_svg(invoice, world.fed).count("<path") >= 1 and qr.designator
    # Drafts have no PDF yet.
    r = client.post(api(world.fed, "invoices"), headers=world.secretariat, json=manual(org=world.club_a))
    assert client.get(api(world.fed, "invoices", f"{r.json['id']}.pdf"), headers=world.secretariat).status_code == 409


def test_issuing_mails_the_pdf_and_drops_a_valid_peppol_invoice(client, world):
    inv = fed_to_club(client, world, VAT_LINES)
    assert inv["total_net"] == "545.97" and inv["total_vat"] == "48.06" and inv["total"] == "594.03"
    current_app.extensions["federa"].jobs.join()
    invoice = db.session.get(Invoice, inv["id"])
    assert invoice.emailed_at is not None and invoice.peppol_message_id
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in outbox_dir().glob("*.eml")]
    mail = next(m for m in mails if m["To"] == "club-a@example.org")
    assert invoice.number in mail["Subject"] and inv["structured_communication"] in mail.get_body(("plain",)).get_content()
    assert [a.get_content_type() for a in mail.iter_attachments()] == ["application/pdf"]
    dropped = list((Path(current_app.config["DATA_DIR"]) / "peppol-outbox").glob(
        f"0208_0202239951__{invoice.peppol_message_id}.xml"))
    assert len(dropped) == 1
    assert ubl.fatal_findings(ubl.validate(dropped[0].read_bytes())) == []


def test_ubl_endpoint_for_invoices_and_credit_notes(client, world):
    inv = fed_to_club(client, world, VAT_LINES[:1])  # exempt only
    r = client.get(api(world.fed, "invoices", inv["id"], "ubl"), headers=world.secretariat)
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert b"0202239951" in r.data and b'schemeID="0208"' in r.data
    assert services.parse_structured_ref(inv["structured_communication"]).encode() in r.data.replace(b"/", b"")
    assert ubl.fatal_findings(ubl.validate(r.data)) == []
    note = client.post(api(world.fed, "invoices", inv["id"], "credit-note"), headers=world.secretariat, json={}).json
    client.post(api(world.fed, "invoices", note["id"], "issue"), headers=world.secretariat)
    r = client.get(api(world.fed, "invoices", note["id"], "ubl"), headers=world.secretariat)
    assert b"<CreditNote" in r.data and inv["number"].encode() in r.data
    assert ubl.fatal_findings(ubl.validate(r.data)) == []
    # Invoices to people have no e-invoice.
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan))
    client.post(api(world.club_a, "invoices", r.json["id"], "issue"), headers=world.admin_a)
    r = client.get(api(world.club_a, "invoices", r.json["id"], "ubl"), headers=world.admin_a)
    assert r.status_code == 422 and "recipient_org_id" in r.json["errors"]["json"]


def test_member_app_lists_and_downloads_own_invoices(client, world, make):
    jan_user = make.user("jan@example.org", role="member", org=world.club_a, person=world.jan)
    headers = make.headers(jan_user)
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan))
    inv = client.post(api(world.club_a, "invoices", r.json["id"], "issue"), headers=world.admin_a).json
    items = client.get("/api/v1/me/invoices", headers=headers).json
    items = items["items"] if isinstance(items, dict) else items
    mine = [i for i in items if i.get("id") == f"invoice:{inv['id']}" or i.get("title", "").endswith(inv["number"])]
    assert len(mine) == 1 and mine[0]["status"] == "issued"
    r = client.get(mine[0]["download_url"], headers=headers)
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    # Someone else's invoice: 404.
    other = make.headers(make.user("lid-a2@example.org", role="member", org=world.club_a))
    assert client.get(mine[0]["download_url"], headers=other).status_code == 404
