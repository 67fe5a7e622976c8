"""Benchmark: bulk generation of member cards and sport certificates (documents plugin).

    python bench/documents_batch.py [--people 10000] [--kind member_card|sport_certificate|both]

Creates a federation, one club with N members (a current season, an adult type), then runs the batch
job body (`services.generate_batch`: context, layout once per chunk, split per member, store each PDF,
queue one notification) in this process, on SQLite or FEDERA_BENCH_DATABASE_URL. Prints JSON: seconds,
documents per second, and the resident memory sampled after every chunk (it must stay flat).
Targets: 10,000 cards <= 200 s, 10,000 certificates <= 400 s on 2 cores.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--kind", default="both")
    parser.add_argument("--processes", type=int, default=None,
                        help="layout worker processes (default: the app's choice, 2 on 2 cores)")
    args = parser.parse_args()

    import sqlalchemy as sa

    from core.app import create_app
    from core.db import db
    from core.models import ModuleOverride, Person, PersonOrganisation
    from core.reference_data import ensure_reference_data
    from plugins.documents import services
    from plugins.documents.models import DocumentBatch
    from plugins.membership.models import Membership, MembershipType, Season
    from tests.factories import Factory

    data_dir = tempfile.mkdtemp(prefix="federa-docbench-")
    url = os.environ.get("FEDERA_BENCH_DATABASE_URL") or f"sqlite:///{data_dir}/bench.sqlite"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir, "SECRET_KEY": "bench",
                      "REDIS_URL": None, "JOBS_INPROCESS_AUTOSTART": False,
                      "PLUGINS": ["membership", "documents", "mobile_api"]})
    results = {"people": args.people, "database": url.split(":", 1)[0], "cpus": os.cpu_count()}
    with app.app_context():
        db.create_all()
        ensure_reference_data(db.session)
        make = Factory(db.session)
        fed = make.federation("Benchfederatie")
        club = make.club(fed, "Benchclub", kbo_number="0123456749")
        for org in (fed, club):
            for plugin in ("membership", "documents"):
                db.session.add(ModuleOverride(org_id=org.id, plugin=plugin, enabled=True))
        today = dt.date.today()
        season = Season(org_id=fed.id, name="Seizoen", starts_on=today - dt.timedelta(days=100),
                        ends_on=today + dt.timedelta(days=200))
        mtype = MembershipType(org_id=fed.id, name="Volwassene", price=Decimal("30"))
        db.session.add_all([season, mtype])
        db.session.commit()
        people = [{"first_name": f"Voornaam{i}", "last_name": f"Achternaam{i}", "birth_date": dt.date(1990, 1, 1),
                   "search_text": f"voornaam{i} achternaam{i}", "street": "Kerkstraat", "house_number": str(i),
                   "postal_code": "9000", "city": "Gent"} for i in range(args.people)]
        db.session.execute(sa.insert(Person), people)
        ids = db.session.execute(sa.select(Person.id).order_by(Person.id)).scalars().all()
        db.session.execute(sa.insert(PersonOrganisation), [{"person_id": i, "org_id": club.id} for i in ids])
        db.session.execute(sa.insert(Membership), [
            {"person_id": i, "org_id": club.id, "type_id": mtype.id, "starts_on": dt.date(2020, 1, 1),
             "status": "active"} for i in ids])
        db.session.commit()
        kinds = ["member_card", "sport_certificate"] if args.kind == "both" else [args.kind]
        for kind in kinds:
            options = {"amount_paid": "30", "paid_on": str(today)} if kind == "sport_certificate" else {}
            batch, _ = services.create_batch(db.session, club, {"kind": kind, "person_ids": ids, "options": options})
            db.session.commit()
            samples: list[float] = []

            def progress(done, total):
                db.session.commit()
                samples.append(round(rss_mb(), 1))

            start = time.perf_counter()
            outcome = services.generate_batch(db.session, db.session.get(DocumentBatch, batch.id), progress=progress,
                                              processes=args.processes)
            db.session.commit()
            seconds = time.perf_counter() - start
            results[kind] = {
                "seconds": round(seconds, 1), "per_document_ms": round(seconds * 1000 / args.people, 1),
                "extrapolated_10000_s": round(seconds * 10_000 / args.people, 1), **outcome,
                "rss_mb_first_chunk": samples[0] if samples else None,
                "rss_mb_last_chunk": samples[-1] if samples else None,
                "rss_mb_max": max(samples) if samples else None,
                "stored_mb": round(sum(f.stat().st_size for f in (Path(data_dir) / "files" / "documents").iterdir())
                                   / 1024 / 1024, 1),
            }
            print(json.dumps({kind: results[kind]}), flush=True)
    results["loadavg"] = os.getloadavg()
    results["workers_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
