"""`/api/v1/jobs/{job_id}` and `/api/v1/orgs/{org_id}/jobs`: follow background jobs.

A job is visible to the user who started it and to users with `core.jobs.read` on its organisation;
to anyone else it does not exist (404).
"""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import g
from flask.views import MethodView
from marshmallow import validate

from core.access import Access, current_access
from core.api import ApiBlueprint, PageArgs, error, page_schema, paginate
from core.db import db
from core.gates import authenticated_endpoint
from core.models import Job, Organisation

blp = ApiBlueprint("jobs", __name__, url_prefix="/api/v1", description="Background jobs and their progress")

READ = "core.jobs.read"


def can_follow(access: Access, job: Job, org: Organisation | None) -> bool:
    """The starter of a job, or a user with `core.jobs.read` on its organisation, may follow it."""
    if not access.is_authenticated:
        return False
    if job.created_by_id is not None and job.created_by_id == access.user.id:
        return True
    if org is None:
        return access.is_platform_admin
    return access.can_see(org) and access.has(READ, org)


def job_status(job: Job) -> dict:
    """What a progress bar needs (also `web.job_status`)."""
    return {"status": job.status, "percent": job.percent, "progress": job.progress, "total": job.total,
            "message": job.message}


class JobSchema(ma.Schema):
    id = ma.fields.String()
    org_id = ma.fields.Integer(allow_none=True)
    plugin = ma.fields.String(allow_none=True)
    actor = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"enum": list(Job.STATUSES)})
    percent = ma.fields.Integer()
    progress = ma.fields.Integer()
    total = ma.fields.Integer(allow_none=True)
    message = ma.fields.String(allow_none=True)
    result = ma.fields.Dict(allow_none=True)
    created_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    started_at = ma.fields.AwareDateTime(allow_none=True)
    finished_at = ma.fields.AwareDateTime(allow_none=True)


JobPageSchema = page_schema(JobSchema, "JobPageSchema")


class JobListArgs(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(Job.STATUSES))
    include_descendants = ma.fields.Boolean(
        load_default=False, metadata={"description": "Also list jobs of the organisations below this one"})


@blp.route("/jobs/<string:job_id>")
class JobResource(MethodView):
    @authenticated_endpoint
    @blp.requires()
    @blp.response(200, JobSchema)
    @blp.alt_response(404, description="No such job, or not yours to follow")
    def get(self, job_id):
        """One job: status, progress and result."""
        job = db.session.get(Job, job_id)
        org = db.session.get(Organisation, job.org_id) if job is not None and job.org_id else None
        if job is None or not can_follow(current_access(), job, org):
            error(404, "job not found")
        return job


@blp.route("/orgs/<int:org_id>/jobs")
class OrgJobsResource(MethodView):
    @blp.requires(READ)
    @blp.arguments(JobListArgs, location="query")
    @blp.response(200, JobPageSchema)
    def get(self, args, org_id):
        """The organisation's jobs, newest first; filter on `status`."""
        query = sa.select(Job).order_by(Job.created_at.desc(), Job.id)
        if args["include_descendants"]:
            query = query.where(Job.org_id.in_(sa.select(Organisation.id).where(Organisation.path.startswith(g.org.path))))
        else:
            query = query.where(Job.org_id == g.org.id)
        if args.get("status"):
            query = query.where(Job.status == args["status"])
        return paginate(db.session, query, args["page"], args["page_size"])
