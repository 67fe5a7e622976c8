"""Jobs, integration tier: the real Redis broker and a real `federa worker` process.

Each run uses its own Redis namespace and deletes only its own keys. The worker loads the test plugin
through `FEDERA_EXTRA_PLUGINS` and shares the test database.
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.db import db
from core.models import Job, ModuleOverride
from tests.conftest import _clean
from tests.core.jobs_plugin import JobsDemoPlugin

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("FEDERA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def namespace():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (the integration tier needs it; CI has it)")
    name = f"federa-test-{uuid.uuid4().hex[:12]}"
    yield name
    keys = list(client.scan_iter(match=f"{name}:*", count=500))  # only this run's keys
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def redis_app(make_app, namespace):
    return make_app(plugins=[JobsDemoPlugin], REDIS_URL=REDIS_URL, REDIS_NAMESPACE=namespace)


@pytest.fixture
def rctx(redis_app):
    _clean(redis_app)
    with redis_app.app_context():
        yield redis_app
        db.session.remove()


class Worker:
    """One `federa worker` subprocess for this module's namespace, started when a test is ready for it."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.process: subprocess.Popen | None = None

    def ensure(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            federa = Path(sys.executable).with_name("federa")
            self.process = subprocess.Popen([str(federa), "worker", "--threads", "2", "--no-scheduler"], cwd=ROOT,
                                            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            ready, _, _ = select.select([self.process.stdout], [], [], 60)
            line = self.process.stdout.readline() if ready else ""
            if "worker running" not in line:
                self.process.kill()
                pytest.fail(f"federa worker did not start: {line}\n{self.process.stderr.read()}")
        return self.process

    def stop(self) -> tuple[int | None, str]:
        """SIGTERM, as a supervisor would; returns (exit code, what it printed)."""
        if self.process is None:
            return None, ""
        process, self.process = self.process, None
        process.terminate()
        try:
            out, _err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _err = process.communicate()
        return process.returncode, out


@pytest.fixture(scope="module")
def workers(redis_app, namespace, database_url, tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDERA_")}
    env.update({
        "FEDERA_DATABASE_URL": database_url,
        "FEDERA_REDIS_URL": REDIS_URL,
        "FEDERA_REDIS_NAMESPACE": namespace,
        "FEDERA_EXTRA_PLUGINS": "tests.core.jobs_plugin:JobsDemoPlugin",
        "FEDERA_PLUGINS": ",".join(p for p in redis_app.extensions["federa"].plugins.order
                                   if p not in ("core", "jobsdemo")) or "all",
        "FEDERA_DATA_DIR": str(tmp_path_factory.mktemp("worker")),
        "FEDERA_SECRET_KEY": "test-secret",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    })
    manager = Worker(env)
    yield manager
    manager.stop()


def wait_for(job_id: str, statuses=("done", "failed", "skipped"), timeout: float = 30.0, worker=None) -> Job:
    """Bounded poll of the job row."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        if job is not None and job.status in statuses:
            return job
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"federa worker exited with {worker.returncode}:\n{worker.stderr.read()}")
        time.sleep(0.05)
    detail = ""
    if worker is not None:
        worker.terminate()
        detail = worker.communicate(timeout=15)[1]
    pytest.fail(f"job {job_id} not finished after {timeout}s (status {job.status if job else None}); "
                f"worker said:\n{detail}")


def enable(org, on=True):
    db.session.add(ModuleOverride(org_id=org.id, plugin="jobsdemo", enabled=on))
    db.session.commit()


@pytest.fixture
def club(rctx):
    from tests.factories import Factory

    make = Factory(db.session)
    club = make.club(make.federation())
    enable(club)
    return club


def runner():
    from flask import current_app

    return current_app.extensions["federa"].jobs


def test_worker_runs_a_job_sent_through_redis(club, workers):
    assert runner().broker_name == "redis"
    worker = workers.ensure()
    job = runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, n=3)
    db.session.commit()
    job = wait_for(job.id, worker=worker)
    assert job.status == "done", job.message
    assert (job.progress, job.total, job.result) == (3, 3, {"counted": 3})


def test_worker_retries_a_failing_job(club, workers):
    worker = workers.ensure()
    job = runner().enqueue(db.session, "jobsdemo.flaky", org_id=club.id, failures=1)
    db.session.commit()
    job = wait_for(job.id, worker=worker)
    assert job.status == "done" and job.result == {"attempts": 2}


def test_worker_skips_a_job_whose_module_was_switched_off(club, workers):
    workers.stop()  # nobody may take the message before the module is switched off
    job = runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, n=1)
    db.session.commit()
    db.session.execute(sa.update(ModuleOverride).where(ModuleOverride.org_id == club.id).values(enabled=False))
    db.session.commit()
    worker = workers.ensure()  # picks the waiting message up only now
    job = wait_for(job.id, worker=worker)
    assert job.status == "skipped"
    assert "not enabled" in job.message
    code, out = workers.stop()
    assert code == 0 and "worker stopped" in out  # SIGTERM stops it gracefully
