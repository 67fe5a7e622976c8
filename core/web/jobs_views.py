"""Admin pages for operations: jobs and their progress, the audit log, the e-mail outbox; and `/healthz`."""
from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from core import mail
from core.access import current_access
from core.api.jobs_api import can_follow, job_status
from core.db import db
from core.gates import platform_admin_endpoint, public_endpoint
from core.health import healthz
from core.models import AuditLog, Job, Organisation, Person, User
from core.validation import mask_iban, mask_national_number
from core.web import web
from core.web.guard import require

PAGE_SIZE = 50
LOCAL_TZ = ZoneInfo("Europe/Brussels")
AUDIT_ACTIONS = ("create", "update", "delete", "view", "export", "login")
# Values in audit changes shown masked to users without the right to see them.
MASKED_VALUES = {"national_number": mask_national_number, "iban": mask_iban}
SEE_MASKED = "core.people.national_number"

web.add_url_rule("/healthz", "healthz", public_endpoint(healthz))


def _page() -> int:
    page = request.args.get("page", default=1, type=int)
    return page if page and page > 0 else 1


def _pages(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))


def page_url(number: int) -> str:
    """This page's URL with the same filters, on page `number`."""
    args = request.args.to_dict()
    args["page"] = number
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def _subtree(org: Organisation):
    return sa.select(Organisation.id).where(Organisation.path.startswith(org.path))


# --- jobs ------------------------------------------------------------------------------------------

@web.route("/o/<int:org_id>/jobs")
@require("core.jobs.read")
def jobs(org_id: int):
    status = request.args.get("status") or ""
    below = request.args.get("below") == "1"
    errors = {}
    if status and status not in Job.STATUSES:
        errors["status"] = _("Unknown status.")
    query = sa.select(Job).order_by(Job.created_at.desc(), Job.id)
    query = query.where(Job.org_id.in_(_subtree(g.org)) if below else Job.org_id == g.org.id)
    if status and not errors:
        query = query.where(Job.status == status)
    page = _page()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars().all() if not errors else []
    org_names = _org_names({job.org_id for job in items})
    return render_template("core/jobs/list.html", jobs=items, total=total if not errors else 0, page=page,
                           pages=_pages(total), status=status, below=below, statuses=Job.STATUSES, errors=errors,
                           org_names=org_names, page_url=page_url), (400 if errors else 200)


def _job_or_404(job_id) -> Job:
    """The job, when it belongs to this organisation's subtree and the user may follow it; else 404."""
    job = db.session.get(Job, str(job_id))
    if job is None:
        abort(404)
    org = db.session.get(Organisation, job.org_id) if job.org_id else None
    in_subtree = org is None or org.path.startswith(g.org.path)
    if not in_subtree or not can_follow(current_access(), job, org):
        abort(404)
    return job


@web.route("/o/<int:org_id>/jobs/<job_id>")
def job(org_id: int, job_id):
    job = _job_or_404(job_id)
    return render_template("core/jobs/detail.html", job=job,
                           org_name=_org_names({job.org_id}).get(job.org_id))


def job_status_json(org_id: int, job_id):
    """What the progress bars of federa.js poll: {status, percent, progress, total, message}."""
    response = jsonify(job_status(_job_or_404(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


# Endpoint `web.job_status` (the function name would clash with `core.api.jobs_api.job_status`).
web.add_url_rule("/o/<int:org_id>/jobs/<job_id>.json", "job_status", job_status_json)


def _org_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())


# --- audit log --------------------------------------------------------------------------------------

def _local_day_start(value: str, field: str, errors: dict) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        errors[field] = _("Enter a date as YYYY-MM-DD.")
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TZ).astimezone(dt.timezone.utc)


def _audit_filters(args) -> tuple[list, dict, dict]:
    """SQL conditions from the filter form, the values to show back, and field errors."""
    errors: dict[str, str] = {}
    values = {key: (args.get(key) or "").strip() for key in ("person", "entity", "user", "action", "from", "to")}
    conditions = []
    person = values["person"]
    if person:
        if person.isdigit():
            conditions.append(AuditLog.person_id == int(person))
        else:
            conditions.append(AuditLog.person_id.in_(
                sa.select(Person.id).where(sa.func.lower(Person.first_name + " " + Person.last_name)
                                           .contains(person.lower(), autoescape=True))))
    entity = values["entity"]
    if entity:
        entity_type, _sep, entity_id = entity.partition(":")
        conditions.append(AuditLog.entity_type == entity_type.strip())
        if entity_id.strip():
            conditions.append(AuditLog.entity_id == entity_id.strip())
    user = values["user"]
    if user:
        if user.isdigit():
            conditions.append(AuditLog.user_id == int(user))
        else:
            conditions.append(AuditLog.user_id.in_(
                sa.select(User.id).where(User.email.contains(user.lower(), autoescape=True))))
    action = values["action"]
    if action:
        if action not in AUDIT_ACTIONS:
            errors["action"] = _("Unknown action.")
        else:
            conditions.append(AuditLog.action == action)
    start = _local_day_start(values["from"], "from", errors)
    end = _local_day_start(values["to"], "to", errors)
    if start is not None:
        conditions.append(AuditLog.at >= start)
    if end is not None:
        conditions.append(AuditLog.at < end + dt.timedelta(days=1))
    if start is not None and end is not None and end < start:
        errors["to"] = _("The end date is before the start date.")
    return conditions, values, errors


def _shown_changes(entry: AuditLog, see_masked: bool) -> list[tuple[str, object, object, bool]]:
    """(field, old, new, is_update) rows for the page, with identifiers masked when the user may not see them."""
    rows = []
    for key, value in sorted((entry.changes or {}).items()):
        if key == "id":
            continue
        old, new, is_update = (value[0], value[1], True) if entry.action == "update" and isinstance(value, list) \
            and len(value) == 2 else (None, value, False)
        mask = MASKED_VALUES.get(key)
        if mask is not None and not see_masked:
            old = mask(old) if isinstance(old, str) else old
            new = mask(new) if isinstance(new, str) else new
        rows.append((key, old, new, is_update))
    return rows


@web.route("/o/<int:org_id>/audit")
@require("core.audit.read")
def audit(org_id: int):
    conditions, values, errors = _audit_filters(request.args)
    page = _page()
    entries, total = [], 0
    if not errors:
        query = (sa.select(AuditLog).where(AuditLog.org_id.in_(_subtree(g.org)), *conditions)
                 .order_by(AuditLog.at.desc(), AuditLog.id.desc()))
        total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
        entries = db.session.execute(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars().all()
    users = {u.id: u for u in db.session.execute(
        sa.select(User).where(User.id.in_({e.user_id for e in entries if e.user_id}))).scalars()} if entries else {}
    people = dict(db.session.execute(
        sa.select(Person.id, Person.first_name + " " + Person.last_name)
        .where(Person.id.in_({e.person_id for e in entries if e.person_id}))).all()) if entries else {}
    see_masked = current_access().has(SEE_MASKED, g.org)
    rows = [(entry, _shown_changes(entry, see_masked)) for entry in entries]
    return render_template("core/ops/audit.html", rows=rows, total=total, page=page, pages=_pages(total),
                           values=values, errors=errors, actions=AUDIT_ACTIONS, users=users, people=people,
                           org_names=_org_names({e.org_id for e in entries}), page_url=page_url), (400 if errors else 200)


# --- e-mail outbox (platform admins) ---------------------------------------------------------------

@web.route("/admin/outbox")
@platform_admin_endpoint
def outbox():
    page = _page()
    messages, total = mail.list_outbox(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("core/ops/outbox.html", messages=messages, total=total, page=page, pages=_pages(total),
                           smtp=bool(current_app.config.get("SMTP_HOST")), page_url=page_url)


@web.route("/admin/outbox/<name>")
@platform_admin_endpoint
def outbox_message(name: str):
    message = mail.read_outbox(name)
    if message is None:
        abort(404)
    return render_template("core/ops/outbox_message.html", message=message)
