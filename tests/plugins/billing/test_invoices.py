"""Invoices through the API: manual invoices with VAT, issuing with gapless numbers and structured
communications, double-click safety, credit notes, payments, bad input, tenant isolation."""
from __future__ import annotations

import sqlalchemy as sa

from core.db import db
from plugins.billing import services
from plugins.billing.models import Invoice, InvoiceCounter, Payment
from tests.plugins.billing.conftest import TODAY, api, manual


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_manual_invoice_totals_vat_per_rate_and_exempt_lines(client, world):
    lines = [
        {"description": "T-shirt", "quantity": "3", "unit_price": "9.99", "vat_category": "S", "vat_rate": "21"},
        {"description": "Cap", "quantity": "1", "unit_price": "0.05", "vat_category": "S", "vat_rate": "21"},
        {"description": "Boek", "quantity": "1", "unit_price": "20", "vat_category": "S", "vat_rate": "6"},
        {"description": "Lidgeld", "quantity": "1", "unit_price": "30.00"},
    ]
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan, lines=lines))
    assert r.status_code == 201, r.json
    body = r.json
    assert body["status"] == "draft" and body["number"] is None
    assert [l["net_amount"] for l in body["lines"]] == ["29.97", "0.05", "20.00", "30.00"]
    # VAT per group, rounded once: 21% of 30.02 = 6.3042 -> 6.30; 6% of 20 = 1.20; exempt 0.
    assert body["total_net"] == "80.02" and body["total_vat"] == "7.50" and body["total"] == "87.52"
    assert body["lines"][3]["vat_category"] == "E" and body["lines"][3]["vat_exemption_reason"]
    ogm = body["structured_communication"]
    assert ogm.startswith("+++") and services.parse_structured_ref(ogm)


def test_bad_lines_get_field_errors_and_create_nothing(client, world):
    bad = [
        ({"description": "X", "quantity": "0", "unit_price": "1"}, "lines.0.quantity"),
        ({"description": "X", "quantity": "-2", "unit_price": "1"}, "lines.0.quantity"),
        ({"description": "X", "quantity": "1", "unit_price": "1.005"}, "lines.0.unit_price"),
        ({"description": "X", "quantity": "1", "unit_price": "1", "vat_category": "S", "vat_rate": "19"},
         "lines.0.vat_rate"),
        ({"description": "X", "quantity": "1", "unit_price": "1", "vat_category": "E", "vat_rate": "21"},
         "lines.0.vat_rate"),
    ]
    for line, field in bad:
        r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan, lines=[line]))
        assert r.status_code == 422 and field in r.json["errors"]["json"], (line, r.json)
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(
        world.jan, lines=[{"description": "X", "unit_price": "1", "vat_category": "Q"}]))
    assert r.status_code == 422 and "lines" in r.json["errors"]["json"]
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan, colour="red"))
    assert r.status_code == 422 and "colour" in r.json["errors"]["json"]
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual())
    assert r.status_code == 422 and "recipient_person_id" in r.json["errors"]["json"]
    assert count(Invoice) == 0


def test_issue_numbers_gapless_per_issuer_and_double_click_is_harmless(client, world):
    ids = []
    for _ in range(3):
        r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan))
        ids.append(r.json["id"])
    # Issue the second one first: numbers follow the order of issuing, not of creation.
    r = client.post(api(world.club_a, "invoices", ids[1], "issue"), headers=world.admin_a)
    assert r.status_code == 200 and r.json["status"] == "issued"
    assert r.json["number"] == f"{TODAY.year}-00001" and r.json["recipient_name"] == "Jan Peeters"
    again = client.post(api(world.club_a, "invoices", ids[1], "issue"), headers=world.admin_a)
    assert again.status_code == 200 and again.json["number"] == f"{TODAY.year}-00001"
    assert client.post(api(world.club_a, "invoices", ids[0], "issue"), headers=world.admin_a).json["number"] == \
        f"{TODAY.year}-00002"
    # Another issuer has its own series.
    r = client.post(api(world.club_b, "invoices"), headers=world.admin_b, json=manual(world.jan))
    assert client.post(api(world.club_b, "invoices", r.json["id"], "issue"),
                       headers=world.admin_b).json["number"] == f"{TODAY.year}-00001"
    # The draft left stays unnumbered; cancelling it leaves no gap.
    assert client.post(api(world.club_a, "invoices", ids[2], "cancel"), headers=world.admin_a).json["status"] == \
        "cancelled"
    r = client.post(api(world.club_a, "invoices", ids[2], "issue"), headers=world.admin_a)
    assert r.status_code == 409
    numbers = db.session.execute(sa.select(Invoice.number).where(Invoice.org_id == world.club_a.id)
                                 .order_by(Invoice.id)).scalars().all()
    assert numbers == [f"{TODAY.year}-00002", f"{TODAY.year}-00001", None]
    refs = db.session.execute(sa.select(Invoice.structured_ref)).scalars().all()
    assert len(set(refs)) == len(refs) == 4


def test_a_failed_issue_uses_no_number(client, world, make):
    homeless = make.person("Piet", "Zonderadres", org=world.club_a)
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(homeless))
    r = client.post(api(world.club_a, "invoices", r.json["id"], "issue"), headers=world.admin_a)
    assert r.status_code == 422 and "recipient" in r.json["errors"]["json"]
    assert db.session.execute(sa.select(Invoice.status)).scalar() == "draft"
    assert count(InvoiceCounter) == 0
    # An issuer with an invalid IBAN cannot issue (the address book may predate validation).
    world.club_b.iban = "BE00123456789012"
    db.session.commit()
    r = client.post(api(world.club_b, "invoices"), headers=world.admin_b, json=manual(world.jan))
    r = client.post(api(world.club_b, "invoices", r.json["id"], "issue"), headers=world.admin_b)
    assert r.status_code == 422 and "iban" in r.json["errors"]["json"]
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan))
    r = client.post(api(world.club_a, "invoices", r.json["id"], "issue"), headers=world.admin_a)
    assert r.json["number"] == f"{TODAY.year}-00001"


def test_idempotency_key_makes_one_invoice(client, world):
    headers = {**world.admin_a, "Idempotency-Key": "abc-1"}
    first = client.post(api(world.club_a, "invoices"), headers=headers, json=manual(world.jan))
    second = client.post(api(world.club_a, "invoices"), headers=headers, json=manual(world.jan))
    assert first.status_code == second.status_code == 201 and first.json["id"] == second.json["id"]
    assert count(Invoice) == 1


def _issued(client, world, **body):
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan, **body))
    return client.post(api(world.club_a, "invoices", r.json["id"], "issue"), headers=world.admin_a).json


def test_payments_partly_then_paid_and_idempotent(client, world):
    inv = _issued(client, world)  # 2 x 12.50 + 21% = 30.25
    assert inv["total"] == "30.25" and inv["open_amount"] == "30.25"
    url = api(world.club_a, "invoices", inv["id"], "payments")
    headers = {**world.admin_a, "Idempotency-Key": "pay-1"}
    r = client.post(url, headers=headers, json={"amount": "10.00", "paid_on": TODAY.isoformat()})
    assert r.status_code == 201 and r.json["status"] == "partly_paid" and r.json["open_amount"] == "20.25"
    r = client.post(url, headers=headers, json={"amount": "10.00", "paid_on": TODAY.isoformat()})
    assert r.json["amount_paid"] == "10.00"  # the same request again books nothing
    for bad, field in (({"amount": "-1", "paid_on": TODAY.isoformat()}, "amount"),
                       ({"amount": "0", "paid_on": TODAY.isoformat()}, "amount"),
                       ({"amount": "1", "paid_on": "2999-01-01"}, "paid_on"),
                       ({"amount": "abc", "paid_on": TODAY.isoformat()}, "amount")):
        r = client.post(url, headers=world.admin_a, json=bad)
        assert r.status_code == 422 and field in r.json["errors"]["json"], r.json
    r = client.post(url, headers=world.admin_a, json={"amount": "20.25", "paid_on": TODAY.isoformat()})
    assert r.json["status"] == "paid" and r.json["open_amount"] == "0.00"
    assert count(Payment) == 2
    r = client.get(api(world.club_a, "invoices") + "?status=paid", headers=world.admin_a)
    assert [i["id"] for i in r.json["items"]] == [inv["id"]]
    for q in (inv["number"], inv["structured_communication"], "peeters"):
        r = client.get(api(world.club_a, "invoices"), headers=world.admin_a, query_string={"q": q})
        assert [i["id"] for i in r.json["items"]] == [inv["id"]], q
    assert client.get(api(world.club_a, "invoices") + "?q=nobody", headers=world.admin_a).json["total"] == 0


def test_credit_note_references_and_credits_the_invoice(client, world):
    inv = _issued(client, world)
    r = client.post(api(world.club_a, "invoices", inv["id"], "credit-note"), headers=world.admin_a, json={})
    assert r.status_code == 201 and r.json["kind"] == "credit_note" and r.json["corrects_id"] == inv["id"]
    note = client.post(api(world.club_a, "invoices", r.json["id"], "issue"), headers=world.admin_a).json
    assert note["number"] == f"CN-{TODAY.year}-00001"
    r = client.get(api(world.club_a, "invoices", inv["id"]), headers=world.admin_a)
    assert r.json["status"] == "credited" and r.json["amount_credited"] == "30.25"
    # Nothing is left to credit, and an issued invoice is never cancelled.
    r = client.post(api(world.club_a, "invoices", inv["id"], "credit-note"), headers=world.admin_a, json={})
    assert r.status_code == 409
    assert client.post(api(world.club_a, "invoices", inv["id"], "cancel"), headers=world.admin_a).status_code == 409


def test_partial_credit_note_lowers_what_is_open(client, world):
    inv = _issued(client, world)
    r = client.post(api(world.club_a, "invoices", inv["id"], "credit-note"), headers=world.admin_a, json={
        "lines": [{"description": "Retour", "quantity": "1", "unit_price": "12.50", "vat_category": "S",
                   "vat_rate": "21"}]})
    client.post(api(world.club_a, "invoices", r.json["id"], "issue"), headers=world.admin_a)
    r = client.get(api(world.club_a, "invoices", inv["id"]), headers=world.admin_a)
    assert r.json["status"] == "issued" and r.json["open_amount"] == "15.12"
    r = client.post(api(world.club_a, "invoices", inv["id"], "credit-note"), headers=world.admin_a, json={
        "lines": [{"description": "Te veel", "quantity": "3", "unit_price": "12.50", "vat_category": "S",
                   "vat_rate": "21"}]})
    assert r.status_code == 422


def test_draft_updates_need_a_fresh_etag(client, world):
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=manual(world.jan))
    url = api(world.club_a, "invoices", r.json["id"])
    etag = client.get(url, headers=world.admin_a).headers["ETag"]
    assert client.patch(url, headers=world.admin_a, json={"note": "x"}).status_code == 428
    r = client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={
        "lines": [{"description": "Bal", "quantity": "1", "unit_price": "8"}]})
    assert r.status_code == 200 and r.json["total"] == "8.00"
    assert client.patch(url, headers={**world.admin_a, "If-Match": etag}, json={"note": "y"}).status_code == 412


def test_other_organisations_and_members_cannot_reach_invoices(client, world):
    inv = _issued(client, world)
    # Club B (same region) and a member of club A: 404 / 403; another federation: 404.
    assert client.get(api(world.club_b, "invoices", inv["id"]), headers=world.admin_b).status_code == 404
    assert client.get(api(world.club_a, "invoices", inv["id"]), headers=world.admin_b).status_code == 404
    assert client.get(api(world.club_a, "invoices"), headers=world.member_a).status_code == 403
    r = client.post(api(world.club_b, "invoices", inv["id"], "payments"), headers=world.admin_b,
                    json={"amount": "1", "paid_on": TODAY.isoformat()})
    assert r.status_code == 404
    assert client.get(api(world.club_b, "invoices"), headers=world.admin_b).json["total"] == 0
    # The federation secretariat sees the clubs' invoices below it.
    r = client.get(api(world.fed, "invoices"), headers=world.secretariat)
    assert [i["id"] for i in r.json["items"]] == [inv["id"]]


def test_club_sees_invoices_the_federation_sent_it(client, world):
    r = client.post(api(world.fed, "invoices"), headers=world.secretariat, json=manual(org=world.club_a))
    fed_draft = r.json["id"]
    r = client.get(api(world.club_a, "invoices"), headers=world.admin_a)
    assert r.json["total"] == 0  # drafts stay with the issuer
    client.post(api(world.fed, "invoices", fed_draft, "issue"), headers=world.secretariat)
    r = client.get(api(world.club_a, "invoices") + "?received=true", headers=world.admin_a)
    assert [(i["id"], i["received"], i["issuer_name"]) for i in r.json["items"]] == [
        (fed_draft, True, "Sportfederatie")]
    assert client.get(api(world.club_a, "invoices", fed_draft), headers=world.admin_a).status_code == 200
    # ...but cannot book payments on, credit or cancel it.
    r = client.post(api(world.club_a, "invoices", fed_draft, "payments"), headers=world.admin_a,
                    json={"amount": "1", "paid_on": TODAY.isoformat()})
    assert r.status_code == 404
    assert client.get(api(world.club_b, "invoices", fed_draft), headers=world.admin_b).status_code == 404


def test_module_off_answers_404(client, world):
    from core.models import ModuleOverride

    db.session.execute(sa.delete(ModuleOverride).where(ModuleOverride.org_id == world.club_b.id,
                                                       ModuleOverride.plugin == "billing"))
    db.session.commit()
    assert client.get(api(world.club_b, "invoices"), headers=world.admin_b).status_code == 404
