"""Background jobs of the membership module. Each is idempotent: a retried or re-sent message does
not end, change or send anything twice (ended memberships are skipped; mails already sent by this job
are in `membership_mail_log`)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from core import mail
from core.jobs import JobFailed, JobSpec
from core.models import Organisation, Person
from core.services import DomainError
from plugins.membership import services
from plugins.membership.models import MailLog, Membership


def end_memberships_job(ctx, filters: dict, end_date: str, reason: str):
    """End every membership of a member-list filter ("all results"), with a progress bar."""
    try:
        result = services.end_filtered(ctx.session, ctx.org, filters, end_date, reason,
                                       progress=lambda done, total: ctx.progress(done, total))
    except DomainError as exc:
        raise JobFailed(exc.message) from None
    return {"ended": len(result.done), "skipped": len(result.skipped)}


def send_email_job(ctx, filters: dict, subject: str, body: str, membership_ids: list | None = None):
    """Send one e-mail to each person of a selection (a filter, or checked memberships)."""
    session = ctx.session
    try:
        mq = services.members_query(session, ctx.org, filters)
    except DomainError as exc:
        raise JobFailed(exc.message) from None
    query = mq.query
    if membership_ids:
        from plugins.membership.models import Membership

        query = query.where(Membership.id.in_([int(i) for i in membership_ids]))
    person_ids = list(dict.fromkeys(session.execute(sa.select(query.subquery().c.person_id)).scalars()))
    already = set(session.execute(sa.select(MailLog.person_id).where(MailLog.job_id == ctx.job.id)).scalars())
    total = len(person_ids)
    sent = skipped = 0
    for number, person_id in enumerate(person_ids, start=1):
        if person_id in already:
            continue
        person = session.get(Person, person_id)
        if not person.email:
            skipped += 1
            continue
        mail.send_mail(person.email, "membership/message", {"subject": subject, "body": body, "person": person,
                                                           "org_name": ctx.org.name}, lang=person.preferred_language)
        session.add(MailLog(job_id=ctx.job.id, person_id=person_id))
        sent += 1
        if number % 50 == 0 or number == total:
            ctx.progress(number, total)  # commits, so a retry knows who already has the mail
    return {"sent": sent + len(already), "without_email": skipped}


def send_cleanup_reminders_job(ctx, season_id: int):
    """Remind the contact people of the clubs that have not confirmed their clean-up yet."""
    session = ctx.session
    try:
        season = services.get_season(session, ctx.org, season_id)
    except DomainError as exc:
        raise JobFailed(exc.message) from None
    state = services.cleanup_state(session, ctx.org, season)
    pending = {c["org_id"]: c["name"] for c in state["pending"]}
    contacts = services.contact_people(session, list(pending))
    already = set(session.execute(sa.select(MailLog.person_id).where(MailLog.job_id == ctx.job.id)).scalars())
    sent = 0
    for number, (org_id, user) in enumerate(contacts, start=1):
        if user.person_id in already:
            continue
        mail.send_mail(user.email, "membership/cleanup_reminder", {
            "person": user.person, "club_name": pending[org_id], "season": season, "federation": ctx.org.name,
            "deadline": season.cleanup_deadline}, lang=user.person.preferred_language)
        session.add(MailLog(job_id=ctx.job.id, person_id=user.person_id))
        sent += 1
        ctx.progress(number, len(contacts))
    return {"reminded": sent + len(already), "clubs_pending": len(pending)}


def close_ended_job(ctx):
    """Daily: the stored status of memberships whose end date has passed becomes "ended"."""
    return {"closed": services.close_ended(ctx.session, dt.date.today())}


def application_mail_job(ctx, application_id: int, kind: str):
    """One e-mail about an application: "received" (to the applicant), "new" (to the club), "accepted" (the
    welcome to the new member) or "declined". Enqueued with an idempotency key per application and kind; it
    may run after the club decided (a busy worker), so an accepted application's names come from the person."""
    from core.auth import external_url
    from plugins.membership import applications
    from plugins.membership.models import Application

    session = ctx.session
    application = session.get(Application, application_id)
    if application is None or application.org_id != ctx.org.id:
        return {"sent": 0}  # erased in the meantime
    settings = applications.form_settings(session, ctx.app.extensions["federa"].settings, ctx.org)
    person = application.person
    first_name = person.first_name if person is not None else application.first_name
    last_name = person.last_name if person is not None else application.last_name
    context = {"club_name": ctx.org.name, "first_name": first_name, "last_name": last_name,
               "type_name": services.type_of(session, application).name if application.type_id else None,
               "waiting": application.status == "waiting"}
    applicant = [(application.email, application.preferred_language)] if application.email else []
    if kind == "received":
        recipients = applicant
        context["text"] = settings.confirmation_text
    elif kind == "new":
        recipients = applications.notify_recipients(session, ctx.org, settings)
        context["url"] = external_url("membership_web.application", org_id=ctx.org.id,
                                      application_id=application.id)
    elif kind == "accepted":
        membership = session.get(Membership, application.membership_id) if application.membership_id else None
        if membership is None:
            return {"sent": 0}
        recipients = applicant
        context.update(type_name=services.type_of(session, membership).name, starts_on=membership.starts_on,
                       text=settings.welcome_text)
    elif kind == "declined":
        recipients = applicant
        context["reason"] = application.decline_reason
    else:
        raise JobFailed(f"unknown kind of application mail: {kind}")
    for address, lang in recipients:
        mail.send_mail(address, f"membership/application_{kind}", context, lang=lang)
    return {"sent": len(recipients)}


def purge_applications_job(ctx):
    """Daily: erase declined applications past their club's retention period, and those never decided."""
    from plugins.membership import applications

    return {"erased": applications.purge_applications(ctx.session, ctx.app.extensions["federa"].settings)}


JOBS = [
    JobSpec("membership.end_memberships", end_memberships_job),
    JobSpec("membership.send_email", send_email_job),
    JobSpec("membership.send_cleanup_reminders", send_cleanup_reminders_job),
    JobSpec("membership.close_ended", close_ended_job, periodic_seconds=24 * 3600),
    JobSpec("membership.application_mail", application_mail_job),
    JobSpec("membership.purge_applications", purge_applications_job, periodic_seconds=24 * 3600),
]
