"""Benchmark: one notification fanned out to 20,000 subscribed devices through the job system to a local
push service (target >= 300 deliveries/s on 2 cores).

    FEDERA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/federa_pushbench python bench/push_fanout.py

Without FEDERA_BENCH_DATABASE_URL a SQLite file in a temporary folder is used. The push service runs in
its own process (so it does not take the sender's CPU), accepts every message over keep-alive HTTP and
counts them; the in-process job broker runs the fan-out and delivery jobs with its usual 2 worker
threads. Every message is really encrypted (aes128gcm) and VAPID-signed; the JWT is reused per push
service as in production. Prints JSON with the load average, since the machine may be busy.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _push_service(port_value, count, ready):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with count.get_lock():
                count.value += 1
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_value.value = server.server_port
    ready.set()
    server.serve_forever()


def _create_database(url: str) -> None:
    import sqlalchemy as sa

    base, _, name = url.replace("postgresql://", "postgresql+psycopg://", 1).rpartition("/")
    engine = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import sqlalchemy as sa

    from core.app import create_app
    from core.db import db, utcnow
    from core.models import Person
    from core.notifications import Notification, NotificationDelivery, PushSubscription, notify
    from core.reference_data import ensure_reference_data
    from tests.mobile_api.push_service import Subscriber

    port, count, ready = multiprocessing.Value("i", 0), multiprocessing.Value("i", 0), multiprocessing.Event()
    service = multiprocessing.Process(target=_push_service, args=(port, count, ready), daemon=True)
    service.start()
    ready.wait(10)

    data_dir = tempfile.mkdtemp(prefix="federa-pushbench-")
    url = os.environ.get("FEDERA_BENCH_DATABASE_URL") or f"sqlite:///{data_dir}/bench.sqlite"
    if url.startswith("postgresql"):
        _create_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DATA_DIR": data_dir, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "JOBS_INPROCESS_THREADS": args.threads})
    subscriber = Subscriber()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        db.create_all()
        ensure_reference_data(db.session)
        db.session.commit()
        with db.engine.begin() as conn:  # start from empty notification tables and no benchmark people
            conn.execute(sa.delete(NotificationDelivery.__table__))
            conn.execute(sa.delete(Notification.__table__))
            conn.execute(sa.delete(PushSubscription.__table__))
            conn.execute(sa.delete(Person.__table__).where(Person.last_name == "Pushbench"))
        people = [{"first_name": f"P{i}", "last_name": "Pushbench", "search_text": "", "country": "BE",
                   "preferred_language": "nl"} for i in range(args.devices)]
        with db.engine.begin() as conn:
            conn.execute(sa.insert(Person.__table__), people)
            ids = conn.execute(sa.select(Person.id).where(Person.last_name == "Pushbench").order_by(Person.id)
                               ).scalars().all()
            keys = subscriber.subscription("x")["keys"]
            conn.execute(sa.insert(PushSubscription.__table__), [
                {"person_id": pid, "endpoint": f"http://127.0.0.1:{port.value}/push/{pid}", "p256dh": keys["p256dh"],
                 "auth_secret": keys["auth"], "failures": 0, "created_at": utcnow()} for pid in ids])
        runner = app.extensions["federa"].jobs
        start = time.perf_counter()
        notify(db.session, ids, "core.message", "Benchmark", "One push to every device",
               idempotency_key=f"bench-{time.time()}")
        db.session.commit()
        runner.join(timeout_ms=30 * 60 * 1000)
        elapsed = time.perf_counter() - start
        sent = db.session.scalar(sa.select(sa.func.count()).select_from(NotificationDelivery)
                                 .where(NotificationDelivery.status == "sent"))
        runner.stop()
    service.terminate()
    rate = sent / elapsed if elapsed else 0.0
    print(json.dumps({
        "benchmark": "push_fanout", "database": url.split(":", 1)[0], "devices": args.devices,
        "worker_threads": args.threads, "delivered": sent, "received_by_push_service": count.value,
        "seconds": round(elapsed, 2), "deliveries_per_second": round(rate, 1), "target_per_second": 300,
        "meets_target": rate >= 300, "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
    }, indent=2))


if __name__ == "__main__":
    main()
