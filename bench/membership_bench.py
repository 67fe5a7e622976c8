"""Membership benchmarks on PostgreSQL: 100,000 members in 1,000 clubs.

Prints JSON with the figures and targets:
- filtered member list page (50 rows, with the total): p50 for one club and federation-wide;
- ending 10,000 memberships in one bulk action;
- Excel export of 100,000 members (streamed) with peak memory growth;
- import of 10,000 rows (validated and committed), and a failing import of the same file that must
  leave the database unchanged.

FEDERA_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/federa_bench_membership) is
dropped and recreated. Not part of the test run. Usage: python bench/membership_bench.py [--lists-only]
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import threading
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

URL = os.environ.get("FEDERA_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/federa_bench_membership")
CLUBS, MEMBERS = 1000, 100_000
FIRST = ["Jan", "Els", "Tom", "An", "Pieter", "Sofie", "Luc", "Marie", "Wim", "Lotte", "Bart", "Nele", "Koen", "Eva"]
LAST = ["Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet",
        "Dubois", "Lambert", "Dupont", "Martin", "Hermans", "Aerts", "Vermeulen", "Pauwels", "Michiels", "Smets"]


def recreate(url: str) -> None:
    base, _, name = url.rpartition("/")
    admin = sa.create_engine(f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def p50(fn, runs: int = 30) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """The largest growth of resident memory over its value at the start, sampled every 20 ms."""

    def __enter__(self):
        self.before = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        self.growth_mb = round((self.peak - self.before) / 1e6, 1)


def load(session) -> dict:
    from plugins.membership.models import MembershipType, Season

    ensure_reference_data(session)
    fed = create_organisation(session, name="Benchfederatie", kind="federation")
    regions = [create_organisation(session, name=f"Regio {i}", kind="region", parent=fed) for i in range(10)]
    session.flush()
    org = Organisation.__table__
    club_rows = [{"parent_id": regions[i % 10].id, "kind": "club", "name": f"Club {i:04d}", "country": "BE",
                  "depth": 2, "path": ""} for i in range(CLUBS)]
    session.execute(org.insert(), club_rows)
    session.execute(sa.text("UPDATE organisation c SET path = r.path || c.id || '/' FROM organisation r "
                            "WHERE c.parent_id = r.id AND c.kind = 'club'"))
    session.add(ModuleOverride(org_id=fed.id, plugin="membership", enabled=True))
    adult = MembershipType(org_id=fed.id, name="Volwassene", price=Decimal("30"), sporting=True)
    youth = MembershipType(org_id=fed.id, name="Jeugd", price=Decimal("15"), max_age=17, sporting=True)
    session.add_all([adult, youth, Season(org_id=fed.id, name="Seizoen", starts_on=dt.date(2025, 1, 1),
                                          ends_on=dt.date(2025, 12, 31))])
    session.flush()
    club_ids = list(session.execute(sa.select(Organisation.id).where(Organisation.kind == "club")
                                    .order_by(Organisation.id)).scalars())
    session.execute(sa.text(
        "INSERT INTO module_override (org_id, plugin, enabled, created_at) "
        "SELECT id, 'membership', true, now() FROM organisation WHERE kind <> 'federation'"))
    rnd = random.Random(7)
    people = []
    for i in range(MEMBERS):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rnd.randrange(0, 30000))
        people.append({"first_name": first, "last_name": f"{last}{i % 97}", "birth_date": birth, "country": "BE",
                       "preferred_language": "nl", "email": f"p{i}@example.org", "postal_code": "9000",
                       "city": "Gent", "search_text": f"{first} {last}{i % 97} p{i}@example.org 9000 gent".lower(),
                       "created_at": dt.datetime.now(dt.timezone.utc), "updated_at": dt.datetime.now(dt.timezone.utc)})
    from core.models import Person

    for start in range(0, MEMBERS, 10_000):
        session.execute(Person.__table__.insert(), people[start:start + 10_000])
    session.execute(sa.text(
        "INSERT INTO person_organisation (person_id, org_id, relation, created_at) "
        "SELECT p.id, c.ids[1 + (p.id % :n)], 'member', now() FROM person p, "
        "(SELECT array_agg(id ORDER BY id) AS ids FROM organisation WHERE kind = 'club') c"), {"n": CLUBS})
    session.execute(sa.text(
        "INSERT INTO membership_membership (org_id, person_id, type_id, starts_on, status, created_at, updated_at) "
        "SELECT po.org_id, po.person_id, CASE WHEN p.birth_date > DATE '2008-01-01' THEN :youth ELSE :adult END, "
        "DATE '2020-01-01' + (po.person_id % 1500), 'active', now(), now() "
        "FROM person_organisation po JOIN person p ON p.id = po.person_id"), {"youth": youth.id, "adult": adult.id})
    session.commit()
    # What autovacuum does to a live database soon after a bulk load (statistics, visibility map, hint bits).
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    return {"fed_id": fed.id, "club_id": club_ids[0], "adult_id": adult.id}


def checksum(session) -> str:
    digest = hashlib.sha256()
    for table in ("person", "person_organisation", "membership_membership", "audit_log", "custom_field_value"):
        for row in session.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def main() -> None:
    recreate(URL)
    data_dir = Path(tempfile.mkdtemp(prefix="federa-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": URL, "DATA_DIR": data_dir, "SECRET_KEY": "bench",
                      "REDIS_URL": None, "JOBS_INPROCESS_AUTOSTART": False})
    from plugins.membership import exports, imports, services
    from plugins.membership.models import Membership

    results: dict = {"members": MEMBERS, "clubs": CLUBS}
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        db.create_all()
        start = time.perf_counter()
        ids = load(db.session)
        results["load_seconds"] = round(time.perf_counter() - start, 1)
        fed = db.session.get(Organisation, ids["fed_id"])
        club = db.session.get(Organisation, ids["club_id"])

    def page_of(org_id, filters):
        with app.app_context():
            org = db.session.get(Organisation, org_id)
            set_scope(db.session, org)
            mq = services.members_query(db.session, org, filters)
            services.member_page(db.session, mq, 1, 50)
            db.session.remove()

    # The machine's pace right now (a shared VM drifts by a third within minutes): a fixed Python loop and a
    # fixed trigram count, to read the other figures against.
    start = time.perf_counter()
    sum(range(5_000_000))
    results["calibration_python_ms"] = round((time.perf_counter() - start) * 1000, 1)

    def trigram_count():
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT count(*) FROM person WHERE search_text LIKE '%peeters%'")).scalar()

    with app.app_context():
        results["calibration_trigram_count_ms"] = p50(trigram_count)

    filters = {"status": "current", "type_id": str(ids["adult_id"]), "age_min": "18", "q": "peeters"}
    results["list_club_p50_ms"] = p50(lambda: page_of(club.id, filters))
    results["list_federation_p50_ms"] = p50(lambda: page_of(fed.id, filters))
    results["list_federation_unfiltered_p50_ms"] = p50(lambda: page_of(fed.id, {}))

    if "--lists-only" in sys.argv:  # quick runs while working on the member list
        print(json.dumps(results, indent=2))
        return
    with app.test_request_context():
        # Excel export of everyone, streamed.
        org = db.session.get(Organisation, ids["fed_id"])
        set_scope(db.session, org)
        path = data_dir / "export.xlsx"
        # Resident memory sampled while it runs, against before (tracemalloc would slow the export several
        # times over; the process's own peak was set earlier, by the data load).
        with RssSampler() as rss:
            start = time.perf_counter()
            rows = exports.write_xlsx(db.session, org, services.members_query(db.session, org, {}), path, True)
            results["export_seconds"] = round(time.perf_counter() - start, 2)
        results["export_rows"] = rows
        results["export_peak_rss_growth_mb"] = rss.growth_mb
        results["export_file_mb"] = round(path.stat().st_size / 1e6, 1)
        db.session.rollback()

        # Bulk end 10,000 memberships.
        ten_k = list(db.session.execute(sa.select(Membership.id).order_by(Membership.id).limit(10_000)).scalars())
        start = time.perf_counter()
        result = services.end_memberships(db.session, org, ten_k, dt.date.today(), "bench")
        db.session.commit()
        results["bulk_end_10k_seconds"] = round(time.perf_counter() - start, 2)
        results["bulk_end_count"] = len(result.done)

        # Import 10,000 new rows into one club.
        from openpyxl import Workbook

        club_org = db.session.get(Organisation, ids["club_id"])
        set_scope(db.session, club_org)
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Leden")
        ws.append(["Naam", "Voornaam", "Geboortedatum", "E-mail", "Lidmaatschap", "Begindatum"])
        for i in range(10_000):
            ws.append([f"Import{i}", "Nieuw", dt.date(1970, 1, 1) + dt.timedelta(days=i), f"imp{i}@example.org",
                       "Volwassene", dt.date(2025, 1, 1)])
        buffer = io.BytesIO()
        wb.save(buffer)
        start = time.perf_counter()
        summary = imports.run_import(db.session, club_org, io.BytesIO(buffer.getvalue()))
        db.session.commit()
        results["import_10k_seconds"] = round(time.perf_counter() - start, 2)
        results["import_created"] = summary.created_memberships

        # The same file with one bad row: nothing changes.
        wb2 = Workbook(write_only=True)
        ws2 = wb2.create_sheet("Leden")
        ws2.append(["Naam", "Voornaam", "Geboortedatum", "E-mail", "Lidmaatschap", "Begindatum"])
        for i in range(10_000):
            ws2.append([f"Fout{i}", "Nieuw", dt.date(1970, 1, 1) + dt.timedelta(days=i),
                        "geen-mail" if i == 9_999 else f"f{i}@example.org", "Volwassene", dt.date(2025, 1, 1)])
        buffer2 = io.BytesIO()
        wb2.save(buffer2)
        before = checksum(db.session)
        start = time.perf_counter()
        try:
            imports.run_import(db.session, club_org, buffer2)
            results["failing_import"] = "unexpectedly succeeded"
        except imports.ImportFailed as exc:
            db.session.rollback()
            results["failing_import_rows_reported"] = len(exc.details["rows"])
        results["failing_import_seconds"] = round(time.perf_counter() - start, 2)
        results["failing_import_unchanged"] = checksum(db.session) == before

    results["targets"] = {"list_club_p50_ms": 15, "list_federation_p50_ms": 30, "bulk_end_10k_seconds": 3,
                          "export_seconds": 12, "import_10k_seconds": 20}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
