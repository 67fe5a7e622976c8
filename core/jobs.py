"""Background jobs on dramatiq, with a `job` table users can follow.

- With `FEDERA_REDIS_URL`: a Redis broker; `federa worker` processes run the actors.
- Without it (embedded default): an in-process broker and a few worker threads in the web process.

Actors are declared per app from the `register_jobs` hook (no global broker: tests build many apps).
A job is enqueued inside the caller's transaction and sent only after that transaction commits.
Gate 3: `ModuleGateMiddleware` skips a message whose plugin is now off for its organisation.
Actors must be idempotent: a retried or re-sent message must not duplicate work; the runner itself
never re-runs a job whose row says it is done.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import dramatiq
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Middleware, SkipMessage
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.db import db, scoped_to, utcnow
from core.models import Job, Organisation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """A background job a plugin offers. `fn(ctx, **kwargs)`; `ctx` is a `JobContext`."""

    name: str  # unique, "<plugin>.<verb_object>"
    fn: Callable[..., Any]
    queue: str = "default"
    max_retries: int = 3
    time_limit_ms: int = 60 * 60 * 1000
    #: When set, the scheduler enqueues this job (without org) every N seconds, once per period cluster-wide.
    periodic_seconds: int | None = None


@dataclass
class JobContext:
    """Given to a job function: its row, the database session and its organisation."""

    job: Job
    session: Session
    org: Organisation | None
    app: Flask

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Record progress and commit (jobs work in idempotent chunks; commit once per chunk)."""
        self.job.progress = done
        if total is not None:
            self.job.total = total
        if message is not None:
            self.job.message = message
        self.session.commit()


class ModuleGateMiddleware(Middleware):
    """Gate 3: a message of a plugin that is off for its organisation is skipped, not run."""

    def __init__(self, app: Flask):
        self.app = app

    def before_process_message(self, broker, message):
        plugin = message.options.get("federa_plugin")
        org_id = message.options.get("federa_org_id")
        if not plugin or plugin == "core" or org_id is None:
            return
        from core.modules import compute_enabled

        with self.app.app_context():
            org = db.session.get(Organisation, org_id)
            enabled = org is not None and plugin in compute_enabled(
                db.session, self.app.extensions["federa"].plugins, org)
            if not enabled:
                job = db.session.get(Job, message.options.get("federa_job_id"))
                if job is not None and job.status == "queued":
                    job.status = "skipped"
                    job.message = f"module {plugin} is not enabled for this organisation"
                    job.finished_at = utcnow()
                    db.session.commit()
                db.session.remove()
                raise SkipMessage()


class JobRunner:
    """One per app: the broker, the declared actors, the in-process worker and the scheduler."""

    def __init__(self, app: Flask, registry) -> None:
        self.app = app
        self.specs: dict[str, tuple[str, JobSpec]] = {}
        for owner, spec in registry.collect("register_jobs"):
            if spec.name in self.specs:
                raise RuntimeError(f"duplicate job {spec.name!r} (declared again by {owner})")
            self.specs[spec.name] = (owner, spec)
        redis_url = app.config.get("REDIS_URL")
        if redis_url:
            from dramatiq.brokers.redis import RedisBroker

            self.broker = RedisBroker(url=redis_url, namespace=app.config.get("REDIS_NAMESPACE", "federa"))
        else:
            self.broker = StubBroker()
            self.broker.emit_after("process_boot")
        self.broker.add_middleware(CurrentMessage())
        self.broker.add_middleware(ModuleGateMiddleware(app))
        self.actors: dict[str, dramatiq.Actor] = {}
        for name, (owner, spec) in self.specs.items():
            self.actors[name] = dramatiq.Actor(
                self._make_runner(name), broker=self.broker, actor_name=name, queue_name=spec.queue,
                priority=0, options={"max_retries": spec.max_retries, "time_limit": spec.time_limit_ms,
                                     "min_backoff": 500, "max_backoff": 30_000},
            )
        self.inprocess = not redis_url
        self._worker: dramatiq.Worker | None = None
        self._lock = threading.Lock()

    @property
    def broker_name(self) -> str:
        return "redis" if not self.inprocess else "in-process"

    # --- enqueueing ---------------------------------------------------------------------------

    def enqueue(self, session: Session, name: str, *, org_id: int | None = None, title: str | None = None,
                idempotency_key: str | None = None, created_by_id: int | None = None, **kwargs) -> Job:
        """Create the job row in the caller's transaction; the message is sent after it commits.

        With an `idempotency_key` that was used before, the existing job is returned and nothing is sent."""
        if name not in self.specs:
            raise KeyError(f"unknown job {name!r}")
        owner, spec = self.specs[name]
        if idempotency_key:
            existing = session.execute(sa.select(Job).where(Job.idempotency_key == idempotency_key)).scalar_one_or_none()
            if existing is not None:
                return existing
        job = Job(id=str(uuid.uuid4()), org_id=org_id, plugin=owner, actor=name, title=title,
                  idempotency_key=idempotency_key, created_by_id=created_by_id, status="queued")
        session.add(job)
        session.flush()
        message = self.actors[name].message_with_options(
            kwargs=kwargs, federa_job_id=job.id, federa_org_id=org_id, federa_plugin=owner)
        pending = session.info.setdefault("federa_pending_messages", [])
        pending.append((self, message))
        return job

    def send_now(self, message) -> None:
        self.broker.enqueue(message)
        if self.inprocess:
            self.start_inprocess_worker()

    # --- running --------------------------------------------------------------------------------

    def _make_runner(self, name: str) -> Callable:
        runner = self

        def run(**kwargs):
            message = CurrentMessage.get_current_message()
            runner.execute(name, message.options.get("federa_job_id"), kwargs,
                           retries=message.options.get("retries", 0))

        run.__name__ = name.replace(".", "_")
        return run

    def execute(self, name: str, job_id: str, kwargs: dict, retries: int = 0) -> None:
        owner, spec = self.specs[name]
        with self.app.app_context():
            session = db.session
            try:
                job = session.get(Job, job_id)
                if job is None or job.status in ("done", "skipped"):
                    return  # already done: a re-sent message changes nothing
                job.status = "running"
                job.started_at = job.started_at or utcnow()
                session.commit()
                org = session.get(Organisation, job.org_id) if job.org_id else None
                ctx = JobContext(job=job, session=session, org=org, app=self.app)
                if org is not None:
                    with scoped_to(session, org):
                        result = spec.fn(ctx, **kwargs)
                else:
                    result = spec.fn(ctx, **kwargs)
                job.status = "done"
                job.result = result if isinstance(result, dict) else ({"value": result} if result is not None else None)
                job.finished_at = utcnow()
                if job.total is not None:
                    job.progress = job.total
                session.commit()
            except Exception as exc:
                session.rollback()
                job = session.get(Job, job_id)
                if job is not None:
                    final = retries >= spec.max_retries
                    job.status = "failed" if final else "queued"
                    job.message = f"{type(exc).__name__}: {exc}"
                    job.result = {"traceback": traceback.format_exc(limit=8)} if final else job.result
                    job.finished_at = utcnow() if final else None
                    session.commit()
                raise
            finally:
                db.session.remove()

    def start_inprocess_worker(self) -> None:
        if self._worker is not None:
            return
        with self._lock:
            if self._worker is None:
                worker = dramatiq.Worker(self.broker, worker_threads=self.app.config["JOBS_INPROCESS_THREADS"],
                                         worker_timeout=100)
                worker.start()
                self._worker = worker

    def join(self, timeout_ms: int = 60_000) -> None:
        """Wait until every queued in-process message has been handled (tests, CLI)."""
        if not self.inprocess:
            raise RuntimeError("join() is for the in-process broker")
        self.start_inprocess_worker()
        for queue in list(self.broker.queues):
            self.broker.join(queue, timeout=timeout_ms, fail_fast=False)
        self._worker.join()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    # --- periodic jobs -----------------------------------------------------------------------------

    def enqueue_due_periodic(self, now: dt.datetime | None = None) -> list[Job]:
        """Enqueue periodic jobs whose period has started; once per period across all workers."""
        now = now or utcnow()
        jobs = []
        with self.app.app_context():
            for name, (owner, spec) in self.specs.items():
                if not spec.periodic_seconds:
                    continue
                slot = int(now.timestamp()) // spec.periodic_seconds
                key = f"periodic:{name}:{slot}"
                try:
                    job = self.enqueue(db.session, name, title=name, idempotency_key=key)
                    db.session.commit()
                    jobs.append(job)
                except sa.exc.IntegrityError:  # another worker took this period
                    db.session.rollback()
            db.session.remove()
        return jobs

    def run_scheduler(self, stop: threading.Event, tick_seconds: float = 30.0) -> None:
        while not stop.is_set():
            try:
                self.enqueue_due_periodic()
            except Exception:  # keep the scheduler alive; the job table shows failures
                log.exception("periodic job scheduling failed")
            stop.wait(tick_seconds)


@event.listens_for(Session, "after_commit")
def _send_pending_messages(session: Session) -> None:
    pending = session.info.pop("federa_pending_messages", None)
    for runner, message in pending or ():
        runner.send_now(message)


@event.listens_for(Session, "after_rollback")
def _drop_pending_messages(session: Session) -> None:
    session.info.pop("federa_pending_messages", None)


def job_runner(app: Flask | None = None) -> JobRunner:
    from flask import current_app

    return (app or current_app).extensions["federa"].jobs
