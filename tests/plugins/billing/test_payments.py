"""Payments: CODA bank statements (the real sample file), manual matching, Mollie links and the
webhook that books exactly once; bad files and foreign payments change nothing."""
from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from core.db import db
from plugins.billing import services
from plugins.billing.models import BankLine, Invoice, Payment
from tests.plugins.billing.conftest import TODAY, api, manual

CODA = Path(__file__).resolve().parents[4] / "shared" / "reference" / "coda" / \
    "coda_sample_v2_3_single_statement.txt"
STATEMENT_IBAN = "BE86407051416150"


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def issued(client, world, amount="20.00", person=None):
    body = manual(person or world.jan, lines=[{"description": "Lidgeld", "quantity": "1", "unit_price": amount}])
    r = client.post(api(world.club_a, "invoices"), headers=world.admin_a, json=body)
    return client.post(api(world.club_a, "invoices", r.json["id"], "issue"), headers=world.admin_a).json


def with_structured_first_movement(data: bytes, ref: str) -> bytes:
    """The sample file with the structured communication `ref` on its first movement (20.00 EUR)."""
    lines = data.decode("latin-1").split("\r\n")
    i = next(n for n, line in enumerate(lines) if line.startswith("21"))
    record = lines[i]
    lines[i] = record[:61] + ("1101" + ref).ljust(54) + record[115:]
    assert len(lines[i]) == 128
    return "\r\n".join(lines).encode("latin-1")


def upload(client, world, data: bytes, name="statement.cod"):
    return client.post(api(world.club_a, "coda-imports"), headers=world.admin_a,
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_coda_import_books_matching_lines_once_and_lists_the_rest(client, world):
    world.club_a.iban = STATEMENT_IBAN
    db.session.commit()
    inv = issued(client, world, "20.00")
    ref = services.parse_structured_ref(inv["structured_communication"])
    data = with_structured_first_movement(CODA.read_bytes(), ref)
    r = upload(client, world, data)
    assert r.status_code == 201, r.json
    credits = r.json["movements"]
    assert r.json["booked"] == 1 and r.json["unmatched"] == credits - 1 and credits > 10
    r = client.get(api(world.club_a, "invoices", inv["id"]), headers=world.admin_a)
    assert r.json["status"] == "paid" and r.json["payments"][0]["method"] == "coda"
    assert r.json["payments"][0]["amount"] == "20.00"
    # The same statement again: nothing new, nothing booked twice.
    r = upload(client, world, data)
    assert r.json == {**r.json, "booked": 0, "unmatched": 0, "already_imported": credits}
    assert count(Payment) == 1 and count(BankLine) == credits
    # Unmatched lines wait for manual matching; amounts are exact Decimals.
    waiting = client.get(api(world.club_a, "bank-lines"), headers=world.admin_a).json
    assert waiting["total"] == credits - 1
    assert {Decimal(x["amount"]) for x in waiting["items"]} >= {Decimal("15.00"), Decimal("2249.70")}
    other = issued(client, world, "15.00")
    line = next(x for x in waiting["items"] if x["amount"] == "15.00")
    r = client.post(api(world.club_a, "bank-lines", line["id"], "match"), headers=world.admin_a,
                    json={"invoice_id": other["id"]})
    assert r.status_code == 200 and r.json["status"] == "booked"
    r = client.post(api(world.club_a, "bank-lines", line["id"], "match"), headers=world.admin_a,
                    json={"invoice_id": other["id"]})
    assert r.status_code == 409
    assert client.get(api(world.club_a, "invoices", other["id"]), headers=world.admin_a).json["status"] == "paid"
    # Another club cannot see or match these lines.
    assert client.get(api(world.club_b, "bank-lines"), headers=world.admin_b).json["total"] == 0
    r = client.post(api(world.club_b, "bank-lines", waiting["items"][0]["id"], "match"), headers=world.admin_b,
                    json={"invoice_id": other["id"]})
    assert r.status_code == 404


def test_bad_coda_files_change_nothing(client, world):
    world.club_a.iban = STATEMENT_IBAN
    db.session.commit()
    good = CODA.read_bytes()
    broken = good.replace(b"\r\n21000100", b"\r\n2100010", 1)  # a record one character short
    for data in (broken, b"hello", good[: len(good) // 2]):
        r = upload(client, world, data)
        assert r.status_code == 422 and "file" in r.json["errors"]["json"], r.json
    world.club_a.iban = "BE43068999999501"
    db.session.commit()
    r = upload(client, world, good)
    assert r.status_code == 422 and "account" in r.json["message"]
    assert count(BankLine) == 0 and count(Payment) == 0


def test_mollie_link_and_webhook_book_exactly_once(client, world, mollie):
    from core.gates import federa
    from core.settings import set_setting

    set_setting(db.session, federa().settings, world.club_a, "billing.mollie_api_key", "test_key")
    db.session.commit()
    inv = issued(client, world, "20.00")
    from flask import current_app

    current_app.extensions["federa"].jobs.join()
    invoice = db.session.get(Invoice, inv["id"])
    assert invoice.payment_url == "https://mollie.test/checkout/tr_test1" and invoice.emailed_at is not None
    assert client.post("/billing/mollie/webhook", data={"id": "tr_test1"}).json["result"] == "open"
    assert invoice.amount_paid == 0
    mollie.set_status("tr_test1", "paid")
    for _ in range(2):  # Mollie calls again; we book once
        r = client.post("/billing/mollie/webhook", data={"id": "tr_test1"})
        assert r.status_code == 200
    assert r.json["result"] == "already booked" and mollie.fetched.count("tr_test1") == 3
    db.session.refresh(invoice)
    assert invoice.status == "paid" and count(Payment) == 1
    # Unknown, malformed or foreign payments book nothing.
    assert client.post("/billing/mollie/webhook", data={"id": "tr_nope"}).json["result"] == "unknown"
    assert client.post("/billing/mollie/webhook", data={}).status_code == 422
    second = issued(client, world, "15.00")
    current_app.extensions["federa"].jobs.join()
    mollie.set_status("tr_test2", "paid", metadata={"invoice_id": 999999})
    assert client.post("/billing/mollie/webhook", data={"id": "tr_test2"}).json["result"] == "foreign"
    assert db.session.get(Invoice, second["id"]).amount_paid == 0 and count(Payment) == 1
