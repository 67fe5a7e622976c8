"""Billing benchmarks on PostgreSQL.

- an invoice run club -> members for MEMBERS members (numbered, structured communications), target <= 30 s;
- one invoice PDF (WeasyPrint, with the EPC QR), p50, target <= 150 ms;
- a CODA file with 10,000 movements matched and booked, target <= 10 s.

FEDERA_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/federa_bench_billing) is dropped
and recreated. Not part of the test run. Usage: python bench/billing_bench.py [--members 100000]
Prints JSON.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.app import create_app  # noqa: E402
from core.db import db, set_scope  # noqa: E402
from core.models import ModuleOverride, Organisation  # noqa: E402
from core.reference_data import ensure_reference_data  # noqa: E402
from core.services.organisations import create_organisation  # noqa: E402

URL = os.environ.get("FEDERA_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/federa_bench_billing")
CODA_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "coda" / \
    "coda_sample_v2_3_single_statement.txt"
IBAN = "BE86407051416150"  # the account of the sample statement


def recreate(url: str) -> None:
    base, _, name = url.rpartition("/")
    admin = sa.create_engine(f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def load(session, members: int) -> dict:
    from plugins.membership.models import MembershipType, Season

    ensure_reference_data(session)
    fed = create_organisation(session, name="Benchfederatie", kind="federation")
    club = create_organisation(session, name="Benchclub", kind="club", parent=fed, iban=IBAN,
                               street="Kerkstraat 1", postal_code="9000", city="Gent")
    for plugin in ("membership", "billing"):
        session.add_all([ModuleOverride(org_id=o.id, plugin=plugin, enabled=True) for o in (fed, club)])
    adult = MembershipType(org_id=fed.id, name="Volwassene", price=Decimal("30"), sporting=True)
    season = Season(org_id=fed.id, name="Seizoen", starts_on=dt.date(2025, 1, 1), ends_on=dt.date(2030, 12, 31))
    session.add_all([adult, season])
    session.flush()
    session.execute(sa.text(
        "INSERT INTO person (first_name, last_name, country, preferred_language, street, postal_code, city, "
        "search_text, created_at, updated_at) SELECT 'Lid', 'Nummer' || g, 'BE', 'nl', 'Dorpstraat ' || g, "
        "'9000', 'Gent', '', now(), now() FROM generate_series(1, :n) g"), {"n": members})
    session.execute(sa.text(
        "INSERT INTO membership_membership (org_id, person_id, type_id, starts_on, status, created_at, updated_at) "
        "SELECT :club, id, :type, DATE '2024-01-01', 'active', now(), now() FROM person"),
        {"club": club.id, "type": adult.id})
    session.commit()
    session.execute(sa.text("ANALYZE"))
    session.commit()
    return {"club_id": club.id, "season_id": season.id}


def coda_file(refs: list[tuple[str, Decimal]], per_statement: int = 5000) -> bytes:
    """A valid CODA file built on the sample's records, one credit movement per (structured ref, amount)."""
    sample = CODA_SAMPLE.read_bytes().decode("latin-1").split("\r\n")
    header = next(line for line in sample if line.startswith("0"))
    old = next(line for line in sample if line.startswith("1"))
    move = next(line for line in sample if line.startswith("21"))
    new = next(line for line in sample if line.startswith("8"))
    trailer = next(line for line in sample if line.startswith("9"))
    out = []
    for number, start in enumerate(range(0, len(refs), per_statement), start=1):
        chunk = refs[start:start + per_statement]
        out.append(header)
        out.append(old[:2] + f"{number:03d}" + old[5:])
        total = Decimal(0)
        for seq, (ref, amount) in enumerate(chunk, start=1):
            cents = f"{int(amount * 1000):015d}"
            rec = (move[:2] + f"{seq:04d}" + "0000" + f"BENCH{number:03d}{seq:013d}"[:21].ljust(21) + "0" + cents
                   + move[47:61] + ("1101" + ref).ljust(54) + move[115:125] + "0" + move[126:])
            assert len(rec) == 128, len(rec)
            out.append(rec)
            total += amount
        balance = f"{int(total * 1000):015d}"
        out.append(new[:1] + f"{number:03d}" + new[4:41] + "0" + balance + new[57:])
        out.append(trailer[:16] + f"{len(chunk) + 2:06d}" + "0" * 15 + balance + trailer[52:])
    return ("\r\n".join(out) + "\r\n").encode("latin-1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    args = parser.parse_args()
    recreate(URL)
    data_dir = Path(tempfile.mkdtemp(prefix="federa-billing-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": URL, "DATA_DIR": data_dir, "SECRET_KEY": "bench",
                      "REDIS_URL": None, "JOBS_INPROCESS_AUTOSTART": False})
    from plugins.billing import banking, documents, runs
    from plugins.billing.models import Invoice, InvoiceRun

    results: dict = {"members": args.members}
    with app.test_request_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        db.create_all()
        ids = load(db.session, args.members)
        club = db.session.get(Organisation, ids["club_id"])
        set_scope(db.session, club)
        run = InvoiceRun(org_id=club.id, season_id=ids["season_id"], target="members", status="queued")
        db.session.add(run)
        db.session.commit()
        start = time.perf_counter()
        result = runs.execute_run(db.session, club, run.id, deliver=False)
        results["run_seconds"] = round(time.perf_counter() - start, 2)
        results["run_invoices"] = result["invoices"]
        results["run_target_seconds"] = 30

        db.session.execute(sa.text("ANALYZE"))  # what autovacuum does after a bulk load
        db.session.commit()
        invoice = db.session.execute(sa.select(Invoice).order_by(Invoice.id).limit(1)).scalar_one()
        documents.invoice_pdf(db.session, invoice)  # warm-up (fonts)
        times = []
        for _ in range(15):
            start = time.perf_counter()
            documents.invoice_pdf(db.session, invoice)
            times.append((time.perf_counter() - start) * 1000)
        results["pdf_p50_ms"] = round(statistics.median(times), 1)
        results["pdf_target_ms"] = 150

        sample = db.session.execute(sa.select(Invoice.structured_ref, Invoice.total).order_by(Invoice.id)
                                    .limit(10_000)).all()
        data = coda_file([(ref, Decimal(total)) for ref, total in sample])
        start = time.perf_counter()
        summary = banking.import_coda(db.session, club, data)
        db.session.commit()
        results["coda_10k_seconds"] = round(time.perf_counter() - start, 2)
        results["coda_booked"] = summary["booked"]
        results["coda_target_seconds"] = 10
        start = time.perf_counter()
        again = banking.import_coda(db.session, club, data)
        db.session.commit()
        results["coda_again_seconds"] = round(time.perf_counter() - start, 2)
        results["coda_again_booked"] = again["booked"]
    results["loadavg"] = os.getloadavg()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
