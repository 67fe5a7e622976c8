"""Background jobs on dramatiq, with a `job` table users can follow.

- With `FEDERA_REDIS_URL`: a Redis broker; `federa worker` processes run the actors.
- Without it (embedded default): an in-process broker and a few worker threads in the web process
  (`federa serve` starts them; tests wait with `app.extensions["federa"].jobs.join()`).

Actors are declared per app from the `register_jobs` hook (no global broker: tests build many apps).
A job is enqueued inside the caller's transaction and its message is sent only after the outermost
transaction commits; a rolled-back savepoint drops only the messages enqueued inside it.
Gate 3: `ModuleGateMiddleware` skips a message whose plugin is now off for its organisation.
Actors must be idempotent: a retried or re-sent message must not duplicate work; the runner itself
never re-runs a job whose row says it is finished (done, failed or skipped).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import dramatiq
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Middleware, SkipMessage
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from core.db import db, scoped_to, utcnow
from core.models import Job, Organisation

log = logging.getLogger(__name__)

#: A job in one of these states is never run again.
FINISHED = ("done", "failed", "skipped")
_PENDING = "federa_pending_messages"


class JobFailed(Exception):
    """Raise from a job to fail it at once, without retries (bad input, nothing to gain by trying again)."""


@dataclass(frozen=True)
class JobSpec:
    """A background job a plugin offers. `fn(ctx, **kwargs)`; `ctx` is a `JobContext`; kwargs are JSON.

    A failing job is retried `max_retries` times with exponential backoff starting at `min_backoff_ms`."""

    name: str  # unique, "<plugin>.<verb_object>"
    fn: Callable[..., Any]
    queue: str = "default"
    max_retries: int = 3
    time_limit_ms: int = 60 * 60 * 1000
    min_backoff_ms: int = 5_000
    max_backoff_ms: int = 10 * 60 * 1000
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
        if not plugin or org_id is None or plugin in self.app.extensions["federa"].plugins.always_on:
            return
        from core.modules import compute_enabled

        with self.app.app_context():
            try:
                org = db.session.get(Organisation, org_id)
                registry = self.app.extensions["federa"].plugins
                if org is not None and plugin in compute_enabled(db.session, registry, org):
                    return
                job = db.session.get(Job, message.options.get("federa_job_id"))
                if job is not None and job.status not in FINISHED:
                    job.status = "skipped"
                    job.message = f"module {plugin} is not enabled for this organisation"
                    job.finished_at = utcnow()
                    db.session.commit()
            finally:
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
        self.inprocess = not redis_url
        if redis_url:
            import redis
            from dramatiq.brokers.redis import RedisBroker

            # Workers and web nodes must agree on the namespace; tests use one per run.
            namespace = app.config.get("REDIS_NAMESPACE") or os.environ.get("FEDERA_REDIS_NAMESPACE") or "federa"
            client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
            self.broker = RedisBroker(client=client, namespace=namespace)
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
                                     "min_backoff": spec.min_backoff_ms, "max_backoff": spec.max_backoff_ms,
                                     "throws": (JobFailed,)},
            )
        self._worker: dramatiq.Worker | None = None
        self._lock = threading.Lock()

    @property
    def broker_name(self) -> str:
        return "in-process" if self.inprocess else "redis"

    # --- enqueueing ---------------------------------------------------------------------------

    def enqueue(self, session: Session, name: str, *, org_id: int | None = None, title: str | None = None,
                idempotency_key: str | None = None, created_by_id: int | None = None, **kwargs) -> Job:
        """Create the job row in the caller's transaction; the message is sent after it commits.

        With an `idempotency_key` that was used before, the existing job is returned and nothing is sent.
        `kwargs` go to the job function and must be JSON-serialisable (checked here, not after commit)."""
        if name not in self.specs:
            raise KeyError(f"unknown job {name!r}")
        if isinstance(session, scoped_session):
            session = session()  # the real session: its transactions decide when the message goes out
        try:
            json.dumps(kwargs)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"arguments of job {name!r} must be JSON-serialisable: {exc}") from None
        owner, spec = self.specs[name]
        if idempotency_key:
            existing = session.execute(sa.select(Job).where(Job.idempotency_key == idempotency_key)).scalar_one_or_none()
            if existing is not None:
                return existing
        job = Job(id=str(uuid.uuid4()), org_id=org_id, plugin=owner, actor=name, title=title or name,
                  idempotency_key=idempotency_key, created_by_id=created_by_id, status="queued")
        session.add(job)
        session.flush()
        message = self.actors[name].message_with_options(
            kwargs=kwargs, federa_job_id=job.id, federa_org_id=org_id, federa_plugin=owner)
        transaction = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_PENDING, []).append((transaction, self, message))
        return job

    def send_now(self, message) -> None:
        self.broker.enqueue(message)
        if self.inprocess and self.app.config.get("JOBS_INPROCESS_AUTOSTART", True):
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
        """Run one attempt of a job and record the outcome on its row (dramatiq retries failures)."""
        owner, spec = self.specs[name]
        with self.app.app_context():
            session = db.session
            try:
                job = session.get(Job, job_id)
                if job is None or job.status in FINISHED:
                    return  # a re-sent message of a finished job changes nothing
                job.status = "running"
                job.started_at = job.started_at or utcnow()
                session.commit()
                # Writes made by the job are audited as the user who started it, on its organisation.
                session.info["federa_audit_actor"] = (job.created_by_id, job.org_id)
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
            except BaseException as exc:  # also dramatiq's time-limit and shutdown interrupts
                session.rollback()
                self._record_failure(session, spec, job_id, exc, retries)
                raise
            finally:
                db.session.remove()

    @staticmethod
    def _record_failure(session: Session, spec: JobSpec, job_id: str, exc: BaseException, retries: int) -> None:
        job = session.get(Job, job_id)
        if job is None:
            return
        error = f"{type(exc).__name__}: {exc}".rstrip(": ")
        final = isinstance(exc, JobFailed) or retries >= spec.max_retries
        if final:
            # The message and attempts only: tracebacks stay in the worker log, not in what users see.
            job.status = "failed"
            job.message = error
            job.result = {"error": error, "attempts": retries + 1}
            job.finished_at = utcnow()
        else:
            job.status = "queued"
            job.message = f"attempt {retries + 1} of {spec.max_retries + 1} failed, retrying: {error}"
        session.commit()

    def start_inprocess_worker(self) -> None:
        if not self.inprocess:
            raise RuntimeError("the in-process worker is for the embedded broker; run `federa worker`")
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
        for queue in [q for q in self.broker.queues if not q.endswith(".DQ")]:
            self.broker.join(queue, timeout=timeout_ms, fail_fast=False)
        self._worker.join()

    def stop(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None

    # --- health ------------------------------------------------------------------------------------

    def health(self) -> dict:
        """`{"broker": "in-process"|"redis", "status": "ok"|"error", ...}` for `/healthz`."""
        if self.inprocess:
            return {"broker": "in-process", "status": "ok",
                    "worker": "running" if self._worker is not None else "idle"}
        try:
            self.broker.client.ping()
        except Exception as exc:  # any connection problem: report, do not raise
            return {"broker": "redis", "status": "error", "error": type(exc).__name__}
        return {"broker": "redis", "status": "ok"}

    # --- periodic jobs -----------------------------------------------------------------------------

    def enqueue_due_periodic(self, now: dt.datetime | None = None) -> list[Job]:
        """Enqueue the periodic jobs whose current period has no job yet; once per period across all
        schedulers (the idempotency key `periodic:<name>:<period number>` is unique in the job table)."""
        now = now or utcnow()
        jobs = []
        with self.app.app_context():
            try:
                for name, (owner, spec) in self.specs.items():
                    if not spec.periodic_seconds:
                        continue
                    slot = int(now.timestamp()) // spec.periodic_seconds
                    key = f"periodic:{name}:{slot}"
                    if db.session.execute(sa.select(Job.id).where(Job.idempotency_key == key)).first():
                        continue
                    try:
                        job = self.enqueue(db.session, name, title=name, idempotency_key=key)
                        db.session.commit()
                    except sa.exc.IntegrityError:  # another scheduler took this period a moment ago
                        db.session.rollback()
                        continue
                    jobs.append(job)
            finally:
                db.session.remove()
        return jobs

    def run_scheduler(self, stop: threading.Event, tick_seconds: float = 30.0) -> None:
        while not stop.is_set():
            try:
                self.enqueue_due_periodic()
            except Exception:  # keep the scheduler alive; the job table shows failures
                log.exception("periodic job scheduling failed")
            stop.wait(tick_seconds)


# --- sending after commit -------------------------------------------------------------------------
# Each pending message remembers the (possibly nested) transaction it was enqueued in. A released
# savepoint keeps its messages for the outer transaction; a rolled-back one drops only its own;
# the outermost commit sends them all.

def _lineage(transaction: SessionTransaction | None) -> Iterator[SessionTransaction]:
    while transaction is not None:
        yield transaction
        transaction = transaction.parent


@event.listens_for(Session, "after_commit")
def _send_pending_messages(session: Session) -> None:
    if session.in_nested_transaction():  # only a savepoint was released; the outer transaction may still roll back
        return
    pending = session.info.pop(_PENDING, None)
    for _transaction, runner, message in pending or ():
        try:
            runner.send_now(message)
        except Exception:  # the data is committed; raising here would make callers think it was not
            log.exception("could not send job message %s (job %s)", message.message_id,
                          message.options.get("federa_job_id"))


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back_messages(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [item for item in pending
                                  if not any(t is previous_transaction for t in _lineage(item[0]))]


@event.listens_for(Session, "after_transaction_end")
def _forget_unsent_messages(session: Session, transaction: SessionTransaction) -> None:
    """An outermost transaction that ended without commit (e.g. `session.close()`) sends nothing."""
    if transaction.parent is not None:
        return
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [item for item in pending
                                  if not any(t is transaction for t in _lineage(item[0]))]


def job_runner(app: Flask | None = None) -> JobRunner:
    from flask import current_app

    return (app or current_app).extensions["federa"].jobs


def enqueue(session: Session, name: str, **kwargs) -> Job:
    """Shortcut for `job_runner().enqueue(session, name, ...)` inside an app context."""
    return job_runner().enqueue(session, name, **kwargs)
