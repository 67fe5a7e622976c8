"""Benchmark: the member app's first load (target <= 150 KB transferred) and GET /api/v1/me/feed
(target p50 <= 15 ms in-process).

    python bench/app_shell.py [--requests 200]

First load = what a browser fetches to show the login screen and install the app: the shell page, its
script and style, the manifest, the icons it links, the service worker and what the worker precaches
(counted once; gzip off, so this is the upper bound). The feed is asked for a member of a club in a
federation with a module feeding it (the test plugin of tests/mobile_api, standing in for news), on
SQLite or FEDERA_BENCH_DATABASE_URL. Prints JSON with the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    import sqlalchemy as sa

    from core.app import create_app
    from core.db import db
    from core.reference_data import ensure_reference_data
    from tests.factories import Factory
    from tests.mobile_api.feed_plugin import FeedTestPlugin

    data_dir = tempfile.mkdtemp(prefix="federa-appbench-")
    url = os.environ.get("FEDERA_BENCH_DATABASE_URL") or f"sqlite:///{data_dir}/bench.sqlite"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir, "SECRET_KEY": "bench",
                      "REDIS_URL": None}, plugins=[FeedTestPlugin])
    client = app.test_client()

    # --- first load -----------------------------------------------------------------------------
    sizes: dict[str, int] = {}
    shell = client.get("/app/")
    sizes["/app/"] = len(shell.data)
    html = shell.get_data(as_text=True)
    linked = re.findall(r'(?:href|src|data-sw)="(/app/[^"]+)"', html)
    worker = client.get("/app/sw.js").get_data(as_text=True)
    precached = json.loads(re.search(r"const FILES = (\[.*?\]);", worker).group(1))
    for path in dict.fromkeys([*linked, "/app/sw.js", *precached]):
        if path not in sizes:
            response = client.get(path)
            assert response.status_code == 200, path
            sizes[path] = len(response.data)
    total = sum(sizes.values())

    # --- the feed ---------------------------------------------------------------------------------
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        db.create_all()
        ensure_reference_data(db.session)
        db.session.commit()
        make = Factory(db.session)
        federation = make.federation(f"Bench federation {time.time()}")
        region = make.region(federation)
        club = make.club(region)
        make.subscribe(federation, make.package(f"bench{int(time.time() * 1000)}", ["feedtest"]),
                       include_descendants=True)
        user = make.user(f"bench{time.time()}@example.org", role="member", org=club)
        headers = make.headers(user)
    timings = []
    for _ in range(args.requests + 10):
        start = time.perf_counter()
        response = client.get("/api/v1/me/feed", headers=headers)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200 and response.json["items"], response.json
    timings = sorted(timings[10:])
    p50 = statistics.median(timings)
    print(json.dumps({
        "benchmark": "app_shell",
        "first_load_bytes": total, "first_load_kb": round(total / 1024, 1), "target_kb": 150,
        "first_load_meets_target": total <= 150 * 1024, "files": sizes,
        "feed_requests": args.requests, "feed_items": len(response.json["items"]),
        "feed_organisations_asked": 3, "feed_p50_ms": round(p50, 2),
        "feed_p90_ms": round(timings[int(len(timings) * 0.9)], 2), "feed_target_p50_ms": 15,
        "feed_meets_target": p50 <= 15, "database": url.split(":", 1)[0],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }, indent=2))


if __name__ == "__main__":
    main()
