"""Numbering under concurrency: invoices issued at the same time from several connections get
consecutive numbers without gaps or duplicates (PostgreSQL row lock; SQLite write lock); the
`invoice.paid` event reaches the plugins enabled for the issuer."""
from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import current_app

from core.db import db
from core.models import ModuleOverride
from plugins.billing import services
from plugins.billing.models import Invoice
from tests.plugins.billing.conftest import TODAY, build_world


def test_concurrent_issuing_never_gaps_or_duplicates(make, ctx):
    world = build_world(make)
    lines = [{"description": "Lidgeld", "quantity": "1", "unit_price": "10"}]
    ids = []
    for _ in range(8):
        ids.append(services.create_invoice(db.session, world.club_a, lines, recipient_person_id=world.jan.id).id)
    db.session.commit()
    app = current_app._get_current_object()
    errors = []
    barrier = threading.Barrier(4)

    def worker(chunk):
        with app.app_context():
            try:
                barrier.wait()
                for invoice_id in chunk:
                    for attempt in range(20):
                        try:
                            invoice = db.session.get(Invoice, invoice_id)
                            services.issue(db.session, invoice)
                            services.issue(db.session, invoice)  # the double click, in the same breath
                            db.session.commit()
                            break
                        except sa.exc.OperationalError:  # SQLite: "database is locked" past the busy timeout
                            db.session.rollback()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    # Two threads per invoice pair: each invoice is issued from two connections at once.
    chunks = [ids[0:4], ids[4:8], ids[0:4], ids[4:8]]
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    rows = db.session.execute(sa.select(Invoice.sequence, Invoice.number, Invoice.status)
                              .where(Invoice.org_id == world.club_a.id)).all()
    assert sorted(r.sequence for r in rows) == list(range(1, 9))
    assert len({r.number for r in rows}) == 8 and {r.status for r in rows} == {"issued"}


def test_paid_event_reaches_enabled_plugins(sample_make, sample_ctx, sample_client):
    world = build_world(sample_make)
    db.session.add(ModuleOverride(org_id=world.club_a.id, plugin="sample", enabled=True))
    db.session.commit()
    plugin = sample_ctx.extensions["federa"].plugins["sample"]
    invoice = services.create_invoice(db.session, world.club_a, [{"description": "X", "unit_price": "5"}],
                                      recipient_person_id=world.jan.id)
    services.issue(db.session, invoice)
    services.register_payment(db.session, invoice, "2.00", TODAY)
    assert not [e for e in plugin.events if e[1] == "invoice.paid"]
    services.register_payment(db.session, invoice, "3.00", TODAY)
    db.session.commit()
    paid = [e for e in plugin.events if e[1] == "invoice.paid"]
    assert paid == [(world.club_a.id, "invoice.paid", {
        "invoice_id": invoice.id, "number": invoice.number, "org_id": world.club_a.id,
        "recipient_person_id": world.jan.id, "recipient_org_id": None, "total": "5.00"})]
