"""`jobsdemo`: a small test plugin with actors, an API to start them, and the fixtures of the job tests.

Used in-process through `make_app(plugins=[JobsDemoPlugin])` and, on the real Redis broker, by a
`federa worker` subprocess that loads it with `FEDERA_EXTRA_PLUGINS=tests.core.jobs_plugin:JobsDemoPlugin`.
"""
from __future__ import annotations

import marshmallow as ma
import pytest
from flask import g, request
from flask.views import MethodView

from core.api import ApiBlueprint, error
from core.db import db
from core.hookspecs import hookimpl
from core.jobs import JobFailed, JobSpec, job_runner
from core.models import Person
from core.permissions import Permission
from core.plugins import Plugin

#: job id -> attempts made in this process (flaky jobs read it to decide whether to fail again)
RUNS: dict[str, int] = {}


def _attempt(ctx) -> int:
    RUNS[ctx.job.id] = RUNS.get(ctx.job.id, 0) + 1
    return RUNS[ctx.job.id]


def count(ctx, n: int):
    _attempt(ctx)
    ctx.progress(0, total=n)
    for i in range(1, n + 1):
        ctx.progress(i, message=f"{i} of {n}")
    return {"counted": n}


def flaky(ctx, failures: int):
    attempt = _attempt(ctx)
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} went wrong")
    return {"attempts": attempt}


def boom(ctx):
    _attempt(ctx)
    raise RuntimeError("boom")


def reject(ctx):
    _attempt(ctx)
    raise JobFailed("nothing to import")


def rename(ctx, person_id: int, first_name: str):
    _attempt(ctx)
    person = ctx.session.get(Person, person_id)
    person.first_name = first_name
    ctx.session.commit()


def tick(ctx):
    _attempt(ctx)
    return {"ticked": True}


blp = ApiBlueprint("jobsdemo", __name__, url_prefix="/api/v1/orgs/<int:org_id>/jobsdemo",
                   description="Test plugin: start demo jobs")


class CountSchema(ma.Schema):
    n = ma.fields.Integer(required=True)


class RenameSchema(ma.Schema):
    first_name = ma.fields.String(required=True)


@blp.route("/count")
class CountResource(MethodView):
    @blp.requires("jobsdemo.run")
    @blp.arguments(CountSchema)
    def post(self, data, org_id):
        """Start a count job for this organisation (an `Idempotency-Key` header returns the same job)."""
        job = job_runner().enqueue(db.session, "jobsdemo.count", org_id=org_id, title="Counting",
                                   created_by_id=g.user.id, idempotency_key=request.headers.get("Idempotency-Key"),
                                   n=data["n"])
        db.session.commit()
        return {"job_id": job.id}, 202


@blp.route("/people/<int:person_id>")
class RenameResource(MethodView):
    @blp.requires("jobsdemo.run")
    @blp.arguments(RenameSchema)
    def patch(self, data, org_id, person_id):
        """Rename a person right away (an audited write through the API)."""
        person = db.session.get(Person, person_id)
        if person is None:
            error(404, "person not found")
        person.first_name = data["first_name"]
        db.session.commit()
        return {"id": person.id, "first_name": person.first_name}


class JobsDemoPlugin(Plugin):
    """Demo jobs for the tests."""

    name = "jobsdemo"
    label = "Jobs demo"

    @hookimpl
    def register_jobs(self):
        quick = {"min_backoff_ms": 1, "max_backoff_ms": 20}
        return [
            JobSpec("jobsdemo.count", count),
            JobSpec("jobsdemo.flaky", flaky, max_retries=2, **quick),
            JobSpec("jobsdemo.boom", boom, max_retries=1, **quick),
            JobSpec("jobsdemo.reject", reject, max_retries=3, **quick),
            JobSpec("jobsdemo.rename", rename),
            JobSpec("jobsdemo.tick", tick, periodic_seconds=3600),
        ]

    @hookimpl
    def register_permissions(self):
        return [Permission("jobsdemo.run", "Start demo jobs")]

    @hookimpl
    def register_blueprints(self, app):
        return [blp]


# --- fixtures (imported by the job test modules) ------------------------------------------------------

@pytest.fixture(scope="session")
def jobs_app(make_app):
    """An app with the jobsdemo plugin whose in-process worker starts only on `join()`, so a test can
    change the world between enqueueing and running."""
    return make_app(plugins=[JobsDemoPlugin], JOBS_INPROCESS_AUTOSTART=False, PLUGINS=[])


@pytest.fixture
def jctx(jobs_app):
    from tests.conftest import _clean

    _clean(jobs_app)
    RUNS.clear()
    with jobs_app.app_context():
        yield jobs_app
        db.session.remove()
    runner = jobs_app.extensions["federa"].jobs
    runner.stop()
    runner.broker.flush_all()


@pytest.fixture
def jmake(jctx):
    from tests.factories import Factory

    return Factory(db.session)


@pytest.fixture
def jclient(jctx):
    return jctx.test_client()
