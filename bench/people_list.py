"""Benchmark: the people-list API on PostgreSQL with 100,000 people in 1,000 clubs.

    FEDERA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/federa_bench python bench/people_list.py

Builds (once; reused while its size matches) a federation with 10 regions and 1,000 clubs, 100,000
people with a few percent in two clubs and a federation-wide custom field, loaded with COPY. Then it
measures in-process, through `app.test_client()` with a bearer token, after a warm-up:

- one club, page of 50 with filters (gender, age range, custom field), 200 requests over many clubs;
- federation-wide, page of 50 with a free-text search of 3+ letters (pg_trgm), 200 requests.

Prints JSON with p50/p95 per case and the targets (p50 <= 10 ms club, <= 25 ms federation-wide).
Not part of `make test`: run `make bench`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from core import demo  # noqa: E402
from core.app import create_app  # noqa: E402
from core.db import db  # noqa: E402
from core.models import CustomField, Organisation, Person  # noqa: E402
from core.reference_data import ensure_reference_data  # noqa: E402
from core.services.people import search_text_for  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/federa_bench"
TARGETS_MS = {"club_page_with_filters": 10.0, "federation_search": 25.0}
SEARCHES = ["peeters", "janssens", "mertens", "lotte", "wouters", "jacobs", "vermeulen", "claes", "sofie",
            "willems", "goossens", "maes", "hanne", "jonas", "seppe", "dubois", "lambert", "mechelen",
            "hasselt", "brugge"]
CLUB_FILTERS = [
    {"gender": "F", "age_min": 10, "age_max": 40},
    {"gender": "M", "age_min": 6, "age_max": 18, "sort": "-birth_date"},
    {"cf.tshirt_size": "M"},
    {"gender": "F", "cf.tshirt_size": "L", "age_min": 18},
]


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _admin_engine(url: str) -> sa.Engine:
    base, _, _ = url.rpartition("/")
    return sa.create_engine(_psycopg_url(f"{base}/postgres"), isolation_level="AUTOCOMMIT")


def _database_name(url: str) -> str:
    return url.rpartition("/")[2]


def _loaded_size(url: str) -> tuple[int, int] | None:
    """(people, clubs) of an existing benchmark database, None when there is none or it is unusable."""
    engine = sa.create_engine(_psycopg_url(url))
    try:
        with engine.connect() as conn:
            # People in clubs: the benchmark's own login is a person without a club.
            people = conn.scalar(sa.text("SELECT count(DISTINCT person_id) FROM person_organisation"))
            clubs = conn.scalar(sa.text("SELECT count(*) FROM organisation WHERE kind = 'club'"))
            return people, clubs
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def recreate_database(url: str) -> None:
    admin = _admin_engine(url)
    name = _database_name(url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _copy(conn, table: str, columns: list[str], rows) -> None:
    """COPY rows into `table` through psycopg 3 (the raw DBAPI connection)."""
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def load(app, people: int, clubs: int, regions: int = 10) -> dict:
    """Create the tree with explicit ids and paths, then people, links and custom field values with COPY."""
    rng = random.Random(demo.SEED)
    started = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        db.create_all()
        ensure_reference_data(db.session)
        db.session.commit()
        towns = [town for _, _, region_towns in demo.REGIONS for town in region_towns]
        orgs = [{"id": 1, "parent_id": None, "path": "/1/", "depth": 0, "kind": "federation",
                 "name": "Benchmark Federatie", "country": "BE", "created_at": now, "updated_at": now}]
        for r in range(regions):
            rid = 2 + r
            orgs.append({"id": rid, "parent_id": 1, "path": f"/1/{rid}/", "depth": 1, "kind": "region",
                         "name": f"Regio {r + 1}", "country": "BE", "created_at": now, "updated_at": now})
        club_rows = []
        for c in range(clubs):
            cid = 2 + regions + c
            rid = 2 + c % regions
            town, postal_code = towns[c % len(towns)]
            sport = demo.SPORTS[c % len(demo.SPORTS)][0]
            club_rows.append({"id": cid, "parent_id": rid, "path": f"/1/{rid}/{cid}/", "depth": 2, "kind": "club",
                              "name": f"{sport} {town} {c + 1}", "city": town, "postal_code": postal_code,
                              "country": "BE", "created_at": now, "updated_at": now})
        with db.engine.begin() as conn:
            conn.execute(sa.insert(Organisation.__table__), orgs + club_rows)
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('organisation', 'id'), "
                                 "(SELECT max(id) FROM organisation))"))
            field_id = conn.execute(sa.insert(CustomField.__table__).returning(CustomField.__table__.c.id), {
                "org_id": 1, "key": "tshirt_size", "label": "T-shirtmaat", "field_type": "choice",
                "choices": demo.TSHIRT_SIZES, "required": False, "position": 10, "created_at": now,
            }).scalar_one()

            columns = ["id", "first_name", "last_name", "birth_date", "gender", "national_number", "street",
                       "house_number", "postal_code", "city", "country", "email", "mobile", "preferred_language",
                       "search_text", "created_at", "updated_at"]
            links, values, numbers = [], [], set()

            def person_rows():
                for pid in range(1, people + 1):
                    gender = rng.choice("MF")
                    french = rng.random() < 0.15
                    first = rng.choice((demo.FIRST_NAMES_FR if french else demo.FIRST_NAMES_NL)[gender])
                    last = rng.choice(demo.LAST_NAMES_FR if french else demo.LAST_NAMES_NL)
                    birth = demo._birth_date(rng)
                    serial = rng.randrange(1, 997) | 1 if gender == "M" else (rng.randrange(1, 498) * 2)
                    number = demo.national_number(birth, serial)
                    if number in numbers:
                        number = None
                    else:
                        numbers.add(number)
                    club = club_rows[rng.randrange(clubs)]
                    links.append((pid, club["id"]))
                    if rng.random() < 0.03:
                        other = club_rows[rng.randrange(clubs)]["id"]
                        if other != club["id"]:
                            links.append((pid, other))
                    if rng.random() < 0.6:
                        values.append((field_id, pid, rng.choice(demo.TSHIRT_SIZES)))
                    email = f"{demo._ascii(first)}.{demo._ascii(last)}.{pid}@example.be"
                    row = SimpleNamespace(first_name=first, last_name=last, email=email,
                                          postal_code=club["postal_code"], city=club["city"])
                    yield (pid, first, last, birth, gender, number, rng.choice(demo.STREETS),
                           str(rng.randint(1, 180)), club["postal_code"], club["city"], "BE", email,
                           demo._mobile(rng), "fr" if french else "nl", search_text_for(row), now, now)

            _copy(conn, "person", columns, person_rows())
            _copy(conn, "person_organisation", ["person_id", "org_id", "relation", "created_at"],
                  ((pid, oid, "member", now) for pid, oid in links))
            _copy(conn, "custom_field_value", ["field_id", "person_id", "value"], values)
            for table in ("person", "person_organisation", "custom_field_value"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    return {"people": people, "clubs": clubs, "links": len(links), "custom_field_values": len(values),
            "load_seconds": round(time.perf_counter() - started, 1)}


def bearer_token(app) -> str:
    """A federation secretariat login on the federation (sees every club)."""
    from core import auth
    from core.models import User
    from core.permissions import FEDERATION_SECRETARIAT
    from core.services.users import assign_role, builtin_role, create_user

    with app.app_context():
        session = db.session
        user = session.execute(sa.select(User).where(User.email == "bench@example.be")).scalar_one_or_none()
        if user is None:
            person = Person(first_name="Bench", last_name="Mark", email="bench@example.be", search_text="bench mark")
            session.add(person)
            session.flush()
            user = create_user(session, person, "bench@example.be")
            assign_role(session, user, builtin_role(session, FEDERATION_SECRETARIAT), session.get(Organisation, 1))
        raw, _ = auth.issue_token(session, user, name="bench")
        session.commit()
        return raw


def measure(client, headers: dict, urls: list[str], warmup: int) -> dict:
    for url in urls[:warmup]:
        client.get(url, headers=headers)
    timings, cpu, totals = [], [], []
    for url in urls:
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        totals.append(response.json["total"])
    timings.sort()
    return {"requests": len(timings), "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2), "mean_ms": round(statistics.fmean(timings), 2),
            # CPU of this process alone (Python side, without the database server): a check on a busy machine.
            "python_cpu_p50_ms": round(statistics.median(cpu), 2),
            "median_total_matches": statistics.median(totals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--clubs", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true", help="drop and reload the benchmark database")
    args = parser.parse_args()
    url = os.environ.get("FEDERA_BENCH_DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgresql"):
        raise SystemExit("this benchmark needs PostgreSQL (FEDERA_BENCH_DATABASE_URL)")

    data = tempfile.mkdtemp(prefix="federa-bench-")
    config = {"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data, "SECRET_KEY": "bench", "REDIS_URL": None}
    result: dict = {"benchmark": "people_list", "database": "postgresql"}
    if args.rebuild or _loaded_size(url) != (args.people, args.clubs):
        recreate_database(url)
        app = create_app(config)
        result["load"] = load(app, args.people, args.clubs)
    else:
        app = create_app(config)
        result["load"] = {"people": args.people, "clubs": args.clubs, "reused": True}

    headers = {"Authorization": f"Bearer {bearer_token(app)}"}
    rng = random.Random(7)
    with app.app_context():
        club_ids = list(db.session.execute(sa.select(Organisation.id).where(Organisation.kind == "club")).scalars())
    client = app.test_client()
    from urllib.parse import urlencode

    club_urls = []
    for i in range(args.requests):
        params = {"page_size": 50, **CLUB_FILTERS[i % len(CLUB_FILTERS)]}
        club_urls.append(f"/api/v1/orgs/{rng.choice(club_ids)}/people?{urlencode(params)}")
    federation_urls = [f"/api/v1/orgs/1/people?{urlencode({'q': SEARCHES[i % len(SEARCHES)], 'page_size': 50})}"
                       for i in range(args.requests)]
    # The secretariat's default view: the first page of everyone, no filter (no target; watched for regressions).
    unfiltered_urls = ["/api/v1/orgs/1/people?page_size=50"] * min(args.requests, 50)
    cases = {"club_page_with_filters": club_urls, "federation_search": federation_urls,
             "federation_first_page_unfiltered": unfiltered_urls}
    for name, urls in cases.items():
        figures = measure(client, headers, urls, args.warmup)
        if name in TARGETS_MS:
            figures["target_p50_ms"] = TARGETS_MS[name]
            figures["meets_target"] = figures["p50_ms"] <= TARGETS_MS[name]
        result[name] = figures
    with app.app_context():
        db.engine.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
