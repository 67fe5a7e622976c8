"""Background jobs, in-process tier: sending after commit, savepoints, idempotency, gate 3, retries,
final failures, periodic jobs, audit of job writes."""
from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa
from flask import current_app

from core.db import db
from core.models import AuditLog, Job, ModuleOverride
from tests.core.jobs_plugin import RUNS, JobsDemoPlugin, jclient, jctx, jmake, jobs_app  # noqa: F401 (fixtures)


def runner():
    return current_app.extensions["federa"].jobs


def queued_messages() -> int:
    broker = runner().broker
    return sum(broker.queues[name].qsize() for name in broker.queues)


def fresh(job: Job) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job.id)


def switch(org, on: bool) -> None:
    row = db.session.execute(sa.select(ModuleOverride).where(ModuleOverride.org_id == org.id,
                                                             ModuleOverride.plugin == "jobsdemo")).scalar_one_or_none()
    if row is None:
        db.session.add(ModuleOverride(org_id=org.id, plugin="jobsdemo", enabled=on))
    else:
        row.enabled = on
    db.session.commit()


@pytest.fixture
def club(jmake):
    fed = jmake.federation()
    club = jmake.club(fed)
    switch(club, True)
    return club


def test_job_runs_with_progress_and_result(club):
    job = runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, title="Counting", n=3)
    db.session.commit()
    runner().join()
    job = fresh(job)
    assert job.status == "done", job.message
    assert (job.progress, job.total, job.percent) == (3, 3, 100)
    assert job.result == {"counted": 3}
    assert job.message == "3 of 3"
    assert job.started_at is not None and job.finished_at >= job.started_at


def test_message_is_sent_only_after_commit_and_dropped_on_rollback(club):
    job = runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, n=1)
    job_id = job.id
    assert queued_messages() == 0  # still inside the transaction
    db.session.rollback()
    assert queued_messages() == 0
    assert db.session.get(Job, job_id) is None
    runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, n=1)
    db.session.commit()
    assert queued_messages() == 1


def test_savepoints_keep_or_drop_only_their_own_messages(club):
    session = db.session
    outer = runner().enqueue(session, "jobsdemo.count", org_id=club.id, n=1)
    nested = session.begin_nested()
    dropped = runner().enqueue(session, "jobsdemo.count", org_id=club.id, n=1)
    dropped_id = dropped.id
    nested.rollback()
    with session.begin_nested():
        kept = runner().enqueue(session, "jobsdemo.count", org_id=club.id, n=1)
    assert queued_messages() == 0  # releasing a savepoint sends nothing: the outer transaction may still roll back
    session.commit()
    assert queued_messages() == 2
    runner().join()
    assert fresh(outer).status == "done"
    assert fresh(kept).status == "done"
    assert session.get(Job, dropped_id) is None
    assert dropped_id not in RUNS


def test_outer_rollback_after_released_savepoint_sends_nothing(club):
    session = db.session
    runner().enqueue(session, "jobsdemo.count", org_id=club.id, n=1)
    with session.begin_nested():
        runner().enqueue(session, "jobsdemo.count", org_id=club.id, n=1)
    session.rollback()
    session.commit()
    assert queued_messages() == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_closed_session_does_not_send_later(club):
    session = db.session
    runner().enqueue(session, "jobsdemo.count", org_id=club.id, n=1)
    session.close()
    session.add(ModuleOverride(org_id=club.id, plugin="other", enabled=False))
    session.commit()
    assert queued_messages() == 0


def test_resent_message_of_done_job_does_nothing(club):
    job = runner().enqueue(db.session, "jobsdemo.flaky", org_id=club.id, failures=0)
    db.session.commit()
    runner().join()
    finished_at = fresh(job).finished_at
    message = runner().actors["jobsdemo.flaky"].message_with_options(
        kwargs={"failures": 0}, federa_job_id=job.id, federa_org_id=club.id, federa_plugin="jobsdemo")
    runner().send_now(message)
    runner().join()
    assert RUNS[job.id] == 1
    job = fresh(job)
    assert job.status == "done" and job.finished_at == finished_at


def test_idempotency_key_returns_the_existing_job(club):
    first = runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, idempotency_key="import-42", n=2)
    db.session.commit()
    again = runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, idempotency_key="import-42", n=2)
    db.session.commit()
    assert again.id == first.id
    assert queued_messages() == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1


def test_gate_skips_a_job_whose_module_was_switched_off_after_enqueueing(club, jmake):
    other = jmake.club(jmake.federation("Andere federatie"))
    switch(other, True)
    off_job = runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, n=2)
    on_job = runner().enqueue(db.session, "jobsdemo.count", org_id=other.id, n=2)
    db.session.commit()
    switch(club, False)  # the secretariat switches the module off while the job waits
    runner().join()
    off_job, on_job = fresh(off_job), fresh(on_job)
    assert off_job.status == "skipped"
    assert "not enabled" in off_job.message
    assert off_job.id not in RUNS  # the job function never ran
    assert on_job.status == "done"


def test_retries_with_backoff_until_success(club):
    job = runner().enqueue(db.session, "jobsdemo.flaky", org_id=club.id, failures=2)  # max_retries=2
    db.session.commit()
    runner().join()
    job = fresh(job)
    assert job.status == "done"
    assert job.result == {"attempts": 3}
    assert RUNS[job.id] == 3


def test_final_failure_is_recorded_with_the_error(club, caplog):
    caplog.set_level(logging.CRITICAL, logger="dramatiq")
    job = runner().enqueue(db.session, "jobsdemo.boom", org_id=club.id)  # max_retries=1
    db.session.commit()
    runner().join()
    job = fresh(job)
    assert job.status == "failed"
    assert job.message == "RuntimeError: boom"
    assert job.result == {"error": "RuntimeError: boom", "attempts": 2}
    assert job.finished_at is not None
    assert RUNS[job.id] == 2


def test_job_failed_is_not_retried(club, caplog):
    caplog.set_level(logging.CRITICAL, logger="dramatiq")
    job = runner().enqueue(db.session, "jobsdemo.reject", org_id=club.id)  # max_retries=3
    db.session.commit()
    runner().join()
    job = fresh(job)
    assert job.status == "failed"
    assert job.message == "JobFailed: nothing to import"
    assert RUNS[job.id] == 1


def test_periodic_job_is_enqueued_once_per_period_across_schedulers(jctx, make_app):
    now = dt.datetime(2025, 3, 1, 10, 15, tzinfo=dt.timezone.utc)
    second_node = make_app(plugins=[JobsDemoPlugin], JOBS_INPROCESS_AUTOSTART=False,
                           PLUGINS=[]).extensions["federa"].jobs
    first = runner().enqueue_due_periodic(now)
    assert [j.actor for j in first] == ["jobsdemo.tick"]
    assert second_node.enqueue_due_periodic(now + dt.timedelta(minutes=20)) == []  # same hour: already taken
    assert runner().enqueue_due_periodic(now) == []
    later = second_node.enqueue_due_periodic(now + dt.timedelta(hours=1))
    assert len(later) == 1
    keys = db.session.execute(sa.select(Job.idempotency_key).order_by(Job.idempotency_key)).scalars().all()
    assert len(keys) == 2 and all(k.startswith("periodic:jobsdemo.tick:") for k in keys)
    runner().join()
    assert fresh(first[0]).status == "done"


def test_bad_enqueue_is_refused_and_writes_nothing(club):
    with pytest.raises(KeyError):
        runner().enqueue(db.session, "jobsdemo.nope", org_id=club.id)
    with pytest.raises(TypeError, match="JSON"):
        runner().enqueue(db.session, "jobsdemo.count", org_id=club.id, n=dt.date(2025, 1, 1))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
    assert queued_messages() == 0


def test_writes_of_a_job_are_audited_as_its_starter(club, jmake):
    starter = jmake.user(role="club_admin", org=club, password=None)
    person = jmake.person("Els", org=club)
    job = runner().enqueue(db.session, "jobsdemo.rename", org_id=club.id, created_by_id=starter.id,
                           person_id=person.id, first_name="Elise")
    db.session.commit()
    runner().join()
    assert fresh(job).status == "done"
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.entity_type == "person",
                                                         AuditLog.action == "update")).scalar_one()
    assert (entry.user_id, entry.org_id, entry.person_id) == (starter.id, club.id, person.id)
    assert entry.changes["first_name"] == ["Els", "Elise"]


def test_broker_down_after_commit_keeps_the_data_and_the_queued_job(make_app, caplog):
    app = make_app(plugins=[JobsDemoPlugin], REDIS_URL="redis://127.0.0.1:1/0", REDIS_NAMESPACE="federa-down",
                   PLUGINS=[])
    from tests.conftest import _clean

    _clean(app)
    with app.app_context():
        jobs = app.extensions["federa"].jobs
        job = jobs.enqueue(db.session, "jobsdemo.count", n=1)
        with caplog.at_level(logging.ERROR, logger="core.jobs"):
            db.session.commit()  # does not raise: the row is committed, the failure is logged
        assert "could not send job message" in caplog.text
        db.session.expire_all()
        assert db.session.get(Job, job.id).status == "queued"
        assert jobs.health() == {"broker": "redis", "status": "error", "error": "ConnectionError"}
        db.session.remove()
