"""REST API of the membership module, under `/api/v1/orgs/{org_id}/membership/...`.

Seasons, membership types, the member list (JSON and Excel), memberships (create, change with
ETags, end in bulk, change type in bulk, transfer), bulk e-mail, the Excel import, saved filters,
the federation overview with clean-up reminders, the public sign-up form and the club's applications.
Domain rules live in `services` and `applications`; this stays thin.
"""
from __future__ import annotations

import datetime as dt
import json

from flask import Response, current_app, g, jsonify, request, url_for
from flask.views import MethodView
from flask_babel import gettext

from core import audit
from core.access import current_access
from core.api import ApiBlueprint, error, paginate
from core.db import db
from core.gates import federa, is_enabled, public_endpoint
from core.jobs import job_runner
from core.models import Organisation, Person
from core.services import DomainError, NotFound
from core.services import people
from core.validation import mask_iban, mask_national_number
from plugins.membership import applications, exports, imports, services
from plugins.membership import permissions as perms
from plugins.membership import schemas as s
from plugins.membership.models import Membership

blp = ApiBlueprint("membership_api", __name__, url_prefix="/api/v1/orgs/<int:org_id>/membership",
                   description="Membership: seasons, types, members, bulk actions, import and export")


def see_identifiers(org: Organisation) -> bool:
    return current_access().has("core.people.national_number", org)


def membership_payload(m: Membership, club_name: str | None = None, type_name: str | None = None,
                       person: Person | None = None, today: dt.date | None = None) -> dict:
    person = person or m.person
    return {
        "id": m.id, "org_id": m.org_id, "club_name": club_name or m.organisation.name, "person_id": m.person_id,
        "person": person, "type_id": m.type_id, "type_name": type_name or services.type_of(db.session, m).name, "starts_on": m.starts_on,
        "ends_on": m.ends_on, "status": services.effective_status(m, today), "end_reason": m.end_reason,
        "iban": (m.iban if see_identifiers(g.org) else mask_iban(m.iban)) or None,
        "transferred_from_id": m.transferred_from_id, "updated_at": m.updated_at,
    }


def type_payload(t, org: Organisation) -> dict:
    return {"id": t.id, "org_id": t.org_id, "name": t.name, "price": t.price, "min_age": t.min_age,
            "max_age": t.max_age, "sporting": t.sporting, "active": t.active, "inherited": t.org_id != org.id}


def season_payload(season, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    return {"id": season.id, "org_id": season.org_id, "name": season.name, "starts_on": season.starts_on,
            "ends_on": season.ends_on, "cleanup_deadline": season.cleanup_deadline,
            "current": season.starts_on <= today <= season.ends_on}


def _list_filters() -> dict:
    """The member-list filters from the query string, as strings (what the services take)."""
    return {k: v for k, v in request.args.items() if k not in ("page", "page_size")}


def _idempotency_key(prefix: str) -> str | None:
    key = request.headers.get("Idempotency-Key")
    return f"{prefix}:{g.org.id}:{key[:120]}" if key else None


def _job_ref(job) -> dict:
    return {"job_id": job.id, "status": job.status,
            "url": url_for("web.job", org_id=g.org.id, job_id=job.id)}


# --- seasons ---------------------------------------------------------------------------------------------

@blp.route("/seasons")
class Seasons(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.SeasonSchema(many=True))
    def get(self, org_id):
        """The seasons of this organisation's federation, newest first."""
        return [season_payload(x) for x in services.seasons_of(db.session, g.org)]

    @blp.requires(perms.SEASONS_WRITE)
    @blp.arguments(s.SeasonSchema)
    @blp.response(201, s.SeasonSchema)
    def post(self, data, org_id):
        """Add a season (only on a federation); seasons may not overlap."""
        season = services.create_season(db.session, g.org, data)
        db.session.commit()
        return season_payload(season)


@blp.route("/seasons/<int:season_id>")
class SeasonResource(MethodView):
    @blp.requires(perms.READ)
    @blp.etag
    @blp.response(200, s.SeasonSchema)
    def get(self, org_id, season_id):
        return season_payload(services.get_season(db.session, g.org, season_id))

    @blp.requires(perms.SEASONS_WRITE)
    @blp.etag
    @blp.arguments(s.SeasonUpdateSchema)
    @blp.response(200, s.SeasonSchema)
    def patch(self, data, org_id, season_id):
        """Change a season of this federation (send `If-Match`)."""
        season = services.get_season(db.session, g.org, season_id)
        blp.check_etag(season_payload(season), s.SeasonSchema)
        services.update_season(db.session, g.org, season, data)
        db.session.commit()
        return season_payload(season)

    @blp.requires(perms.SEASONS_WRITE)
    @blp.response(204)
    def delete(self, org_id, season_id):
        season = services.get_season(db.session, g.org, season_id)
        services.delete_season(db.session, g.org, season)
        db.session.commit()


# --- membership types -------------------------------------------------------------------------------------

@blp.route("/types")
class Types(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.TypeSchema(many=True))
    def get(self, org_id):
        """The types that apply here: this organisation's and those of the organisations above."""
        return [type_payload(t, g.org) for t in services.applicable_types(db.session, g.org)]

    @blp.requires(perms.TYPES_WRITE)
    @blp.arguments(s.TypeSchema)
    @blp.response(201, s.TypeSchema)
    def post(self, data, org_id):
        """Define a type; on a federation it applies in all its clubs."""
        created = services.create_type(db.session, g.org, data)
        db.session.commit()
        return type_payload(created, g.org)


@blp.route("/types/<int:type_id>")
class TypeResource(MethodView):
    @blp.requires(perms.READ)
    @blp.etag
    @blp.response(200, s.TypeSchema)
    def get(self, org_id, type_id):
        for t in services.applicable_types(db.session, g.org):
            if t.id == type_id:
                return type_payload(t, g.org)
        raise NotFound("membership type not found")

    @blp.requires(perms.TYPES_WRITE)
    @blp.etag
    @blp.arguments(s.TypeUpdateSchema)
    @blp.response(200, s.TypeSchema)
    def patch(self, data, org_id, type_id):
        """Change a type this organisation defines (send `If-Match`)."""
        mtype = services.own_type(db.session, g.org, type_id)
        blp.check_etag(type_payload(mtype, g.org), s.TypeSchema)
        services.update_type(db.session, g.org, mtype, data)
        db.session.commit()
        return type_payload(mtype, g.org)

    @blp.requires(perms.TYPES_WRITE)
    @blp.response(204)
    @blp.alt_response(409, description="Memberships of this type exist")
    def delete(self, org_id, type_id):
        mtype = services.own_type(db.session, g.org, type_id)
        services.delete_type(db.session, mtype)
        db.session.commit()


# --- the member list ---------------------------------------------------------------------------------------

@blp.route("/members")
class Members(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.MemberListArgsSchema, location="query")
    @blp.response(200, s.MemberPageSchema)
    def get(self, args, org_id):
        """Memberships in this organisation (a federation or region lists all clubs below), filtered and
        paginated; `status` defaults to current (active and pending)."""
        mq = services.members_query(db.session, g.org, _list_filters())
        page = services.member_page(db.session, mq, args["page"], args["page_size"])
        page["items"] = [membership_payload(row.Membership, row.club_name, row.type_name, row.Person)
                         for row in page["items"]]
        return page


@blp.route("/members.xlsx")
class MembersExcel(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.MemberListArgsSchema, location="query")
    @blp.response(200, description="The member list as an Excel file (streamed)")
    def get(self, args, org_id):
        """The member list with the same filters as an Excel file; it can be edited and imported again."""
        return excel_response(g.org, _list_filters())


def excel_response(org: Organisation, filters: dict) -> Response:
    mq = services.members_query(db.session, org, filters)
    path = exports.temp_path(current_app.config["DATA_DIR"], ".xlsx")
    try:
        count = exports.write_xlsx(db.session, org, mq, path, see_identifiers(org))
    except BaseException:
        path.unlink(missing_ok=True)  # a half-written list of members' personal data is not left behind
        raise
    services.record_export(db.session, org, "excel", count, mq.filters)
    db.session.commit()
    name = f"leden-{org.id}-{dt.date.today().isoformat()}.xlsx"
    response = Response(exports.stream_file(path), direct_passthrough=True,
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Row-Count"] = str(count)
    return response


@blp.route("/members/<int:person_id>")
class Member(MethodView):
    @blp.requires(perms.READ)
    @blp.etag
    @blp.response(200, s.MemberPersonSchema)
    def get(self, org_id, person_id):
        """A member's name and birth date (the ETag is needed to correct them)."""
        person = services.member_person(db.session, g.org, person_id)
        audit.record_view(db.session, person.id)
        db.session.commit()
        return person

    @blp.requires(perms.WRITE)
    @blp.etag
    @blp.arguments(s.CorrectionSchema)
    @blp.response(200, s.MemberPersonSchema)
    def patch(self, data, org_id, person_id):
        """Correct the name, first name or birth date of a member (send `If-Match`)."""
        person = services.member_person(db.session, g.org, person_id)
        blp.check_etag(person, s.MemberPersonSchema)
        services.correct_person(db.session, g.org, person, data)
        db.session.commit()
        return person


# --- memberships -------------------------------------------------------------------------------------------

def _membership(membership_id: int) -> Membership:
    return services.get_membership(db.session, g.org, membership_id)


@blp.route("/memberships")
class Memberships(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.MembershipCreateSchema)
    @blp.response(201, s.MembershipSchema)
    @blp.alt_response(409, description="Overlapping membership, or a probable duplicate person")
    def post(self, data, org_id):
        """Start a membership in this organisation, for a person of it (`person_id`) or a new `person`."""
        if data.get("person_id") is not None:
            person = people.visible_person(db.session, g.org, data["person_id"])
        elif data.get("person"):
            person = people.create_person(db.session, g.org, data["person"],
                           confirm_duplicate=data.get("confirm_duplicate", False))
        else:
            error(422, "give person_id or person", person_id="give person_id or person")
        m = services.add_membership(db.session, g.org, person, data)
        db.session.commit()
        return membership_payload(m)


@blp.route("/memberships/<int:membership_id>")
class MembershipResource(MethodView):
    @blp.requires(perms.READ)
    @blp.etag
    @blp.response(200, s.MembershipSchema)
    def get(self, org_id, membership_id):
        return membership_payload(_membership(membership_id))

    @blp.requires(perms.WRITE)
    @blp.etag
    @blp.arguments(s.MembershipUpdateSchema)
    @blp.response(200, s.MembershipSchema)
    def patch(self, data, org_id, membership_id):
        """Change type, dates, status, end reason or bank account (send `If-Match`)."""
        m = _membership(membership_id)
        blp.check_etag(membership_payload(m), s.MembershipSchema)
        services.update_membership(db.session, g.org, m, data)
        db.session.commit()
        return membership_payload(m)


@blp.route("/memberships/end")
class EndMemberships(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.EndSchema)
    @blp.response(200, s.BulkResultSchema)
    @blp.alt_response(202, schema=s.JobRefSchema, description="`filter` given: a job ends all its results")
    @blp.alt_response(404, description="A membership is not in this organisation; nothing changed")
    def post(self, data, org_id):
        """End the checked memberships (`membership_ids`) on `end_date` for `reason`, all or nothing; or,
        with `filter`, every result of that member-list filter in a job (send an `Idempotency-Key`)."""
        if data.get("filter") is not None:
            services.members_query(db.session, g.org, data["filter"])
            services._clean_end(data["end_date"], data["reason"])
            job = job_runner().enqueue(
                db.session, "membership.end_memberships", org_id=g.org.id, title=gettext("End memberships"),
                idempotency_key=_idempotency_key("membership.end"), created_by_id=g.user.id,
                filters=services.clean_filters(data["filter"]), end_date=data["end_date"].isoformat(),
                reason=data["reason"])
            db.session.commit()
            # Not the 200 schema: a job reference goes out as is.
            response = jsonify(s.JobRefSchema().dump(_job_ref(job)))
            response.status_code = 202
            return response
        result = services.end_memberships(db.session, g.org, data.get("membership_ids") or [],
                       data["end_date"], data["reason"])
        db.session.commit()
        return result.as_dict("ended")


@blp.route("/memberships/change-type")
class ChangeType(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.ChangeTypeSchema)
    @blp.response(200, s.BulkResultSchema)
    def post(self, data, org_id):
        """Give the checked memberships another type, all or nothing."""
        result = services.change_type(db.session, g.org, data["membership_ids"], data["type_id"])
        db.session.commit()
        return result.as_dict("changed")


@blp.route("/memberships/<int:membership_id>/transfer")
class Transfer(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.TransferSchema)
    @blp.response(201, s.MembershipSchema)
    def post(self, data, org_id, membership_id):
        """Move the member to another club on `date`; the old membership ends the day before. Needs
        membership.write on the other club too."""
        m = _membership(membership_id)
        target = db.session.get(Organisation, data["to_org_id"])
        access = current_access()
        if target is None or not access.can_see(target):
            raise NotFound("no such club", field="to_org_id")
        if not is_enabled(target, "membership"):
            raise DomainError("the membership module is not enabled for that club", field="to_org_id")
        if not access.has(perms.WRITE, target):
            error(403, "you cannot add members to that club", to_org_id="you cannot add members to that club")
        created = services.transfer(db.session, g.org, m, target, data["date"], data.get("type_id"))
        db.session.commit()
        return membership_payload(created)


@blp.route("/emails")
class Emails(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.EmailSchema)
    @blp.response(202, s.JobRefSchema)
    def post(self, data, org_id):
        """Send an e-mail to every person of the selection (checked `membership_ids` or a `filter`), as a job."""
        filters = data.get("filter") or {}
        services.members_query(db.session, g.org, filters)
        if not data.get("membership_ids") and data.get("filter") is None:
            error(422, "select members or give a filter", membership_ids="select members or give a filter")
        job = job_runner().enqueue(
            db.session, "membership.send_email", org_id=g.org.id, title=gettext("E-mail to members"),
            idempotency_key=_idempotency_key("membership.email"), created_by_id=g.user.id,
            filters=services.clean_filters(filters), subject=data["subject"], body=data["body"],
            membership_ids=data.get("membership_ids"))
        db.session.commit()
        return _job_ref(job)


# --- import ------------------------------------------------------------------------------------------------

@blp.route("/imports")
class Imports(MethodView):
    @blp.requires(perms.IMPORT)
    @blp.arguments(s.ImportFileSchema, location="files")
    @blp.arguments(s.ImportFormSchema, location="form")
    @blp.response(201, s.ImportSummarySchema)
    @blp.alt_response(422, description='Errors: `{"rows": [{"row": n, "errors": {...}}]}`; nothing changed')
    def post(self, files, form, org_id):
        """Import members from an .xlsx file: every row is checked first, then all are written or none.

        Columns are recognised by their headers (those of the Excel export, in any UI language), or
        given as `mapping` (JSON `{"header": "field"}`)."""
        mapping = None
        if form.get("mapping"):
            try:
                mapping = json.loads(form["mapping"])
                if not isinstance(mapping, dict):
                    raise ValueError
            except ValueError:
                error(422, "mapping must be a JSON object", mapping='give {"header": "field"}')
        summary = imports.run_import(db.session, g.org, files["file"].stream, mapping=mapping,
                        sheet=form.get("sheet"), dry_run=form.get("dry_run", False), user_id=g.user.id)
        if summary.dry_run:
            db.session.rollback()
            return summary.as_dict(), 200
        db.session.commit()
        return summary.as_dict()


# --- saved filters --------------------------------------------------------------------------------------------

@blp.route("/saved-filters")
class SavedFilters(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.SavedFilterSchema(many=True))
    def get(self, org_id):
        return services.saved_filters(db.session, g.org)

    @blp.requires(perms.READ)
    @blp.arguments(s.SavedFilterSchema)
    @blp.response(201, s.SavedFilterSchema)
    def post(self, data, org_id):
        """Save a member-list filter under a name (the same name replaces it)."""
        saved = services.save_filter(db.session, g.org, data["name"], data["query"], g.user.id)
        db.session.commit()
        return saved


@blp.route("/saved-filters/<int:filter_id>")
class SavedFilterResource(MethodView):
    @blp.requires(perms.READ)
    @blp.response(204)
    def delete(self, org_id, filter_id):
        services.delete_filter(db.session, g.org, filter_id)
        db.session.commit()


# --- federation overview and clean-up ----------------------------------------------------------------------------

def _season_arg(season_id: int | None):
    if season_id:
        return services.get_season(db.session, g.org, season_id)
    return services.current_season(db.session, g.org)


@blp.route("/overview")
class Overview(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.OverviewArgsSchema, location="query")
    @blp.response(200)
    def get(self, args, org_id):
        """Current members per club, region and type; members per season; clubs that still have to clean
        up their list for the season (default: the current one)."""
        return services.overview(db.session, g.org, _season_arg(args.get("season_id")))


@blp.route("/cleanup")
class CleanupResource(MethodView):
    @blp.requires(perms.WRITE)
    @blp.response(201)
    def post(self, org_id):
        """Confirm that this club's member list is cleaned up for the current season."""
        done = services.confirm_cleanup(db.session, g.org, g.user.id)
        db.session.commit()
        return {"season_id": done.season_id, "org_id": done.org_id, "at": done.created_at.isoformat()}


@blp.route("/reminders")
class Reminders(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.ReminderSchema)
    @blp.response(202, s.JobRefSchema)
    def post(self, data, org_id):
        """E-mail the contact people of the clubs that have not confirmed their clean-up (a job)."""
        season = _season_arg(data.get("season_id"))
        if season is None:
            error(422, "no season is running", season_id="no season is running")
        job = job_runner().enqueue(
            db.session, "membership.send_cleanup_reminders", org_id=g.org.id, title=gettext("Clean-up reminders"),
            idempotency_key=_idempotency_key("membership.reminders"), created_by_id=g.user.id,
            season_id=season.id)
        db.session.commit()
        return _job_ref(job)


# --- the public sign-up form and the club's applications -------------------------------------------------------

@blp.route("/signup")
class Signup(MethodView):
    @public_endpoint
    @blp.response(200, s.SignupFormSchema)
    def get(self, org_id):
        """What the club's sign-up form asks (public: for a form on the club's own website)."""
        org = applications.club_of(g.org)
        settings = applications.form_settings(db.session, federa().settings, org)
        state = applications.form_state(db.session, org, settings)
        return {"club_name": org.name, "open": state.accepting, "waiting_list": state.waits,
                "fields": [*applications.asked_fields(settings), "type_id", "remarks", "consent"],
                "required": ["first_name", "last_name", "birth_date", "email", "consent"],
                "types": applications.offered_types(db.session, org), "intro": settings.intro,
                "privacy_url": settings.privacy_url}

    @public_endpoint
    @blp.arguments(s.SignupSchema)
    @blp.response(201, s.SignupReceivedSchema)
    @blp.alt_response(409, description="The form is closed, or the club is full")
    @blp.alt_response(429, description="Too many applications from this address")
    def post(self, data, org_id):
        """Apply for membership of the club (public). The same application sent again is answered with
        `already_received` and stored once."""
        org = applications.club_of(g.org)
        settings = applications.form_settings(db.session, federa().settings, org)
        item, new = applications.submit(db.session, org, settings, data,
                                        source=applications.source_hash(current_app.secret_key, request.remote_addr))
        db.session.commit()
        return {"status": item.status, "already_received": not new}


def application_payload(item, org: Organisation, with_matches: bool = False, type_names: dict | None = None,
                        position: int | None = None) -> dict:
    person = item.person
    payload = {column: getattr(item, column) for column in applications.PERSONAL_FIELDS}
    if person is not None and item.status == "accepted":
        payload.update(first_name=person.first_name, last_name=person.last_name)
    if payload["national_number"] and not see_identifiers(org):
        payload["national_number"] = mask_national_number(payload["national_number"])
    if type_names is None:
        type_names = {item.type_id: services.type_of(db.session, item).name} if item.type_id else {}
    payload.update(id=item.id, status=item.status, type_id=item.type_id, type_name=type_names.get(item.type_id),
                   preferred_language=item.preferred_language, created_at=item.created_at, decided_at=item.decided_at,
                   decline_reason=item.decline_reason, person_id=item.person_id, membership_id=item.membership_id,
                   waiting_position=position if position is not None else applications.waiting_position(db.session,
                                                                                                         item))
    if with_matches:
        try:
            found, payload["match_problem"] = applications.matches(db.session, org, item), None
        except applications.NumberOfSomeoneElse as exc:
            found, payload["match_problem"] = [], exc.message
        payload["matches"] = [{"person_id": m.person.id, "name": m.person.full_name,
                               "birth_date": m.person.birth_date.isoformat() if m.person.birth_date else None,
                               "certain": m.certain, "in_club": m.in_club} for m in found]
    return payload


@blp.route("/applications")
class Applications(MethodView):
    @blp.requires(perms.READ)
    @blp.arguments(s.ApplicationListArgsSchema, location="query")
    @blp.response(200, s.ApplicationPageSchema)
    def get(self, args, org_id):
        """Applications to this club: new ones and the waiting list in order of arrival, decided ones newest
        first. `waiting_position` is given when listing `status=waiting`."""
        org = applications.club_of(g.org)
        page = paginate(db.session, applications.applications_query(org, args.get("status")), args["page"],
                        args["page_size"])
        names = applications.type_names(db.session, org)
        first = (args["page"] - 1) * args["page_size"] + 1
        waiting = args.get("status") == "waiting"
        return {**page, "items": [application_payload(item, org, type_names=names,
                                                      position=first + number if waiting else None)
                                  for number, item in enumerate(page["items"])]}


def _application(application_id: int):
    return applications.get_application(db.session, applications.club_of(g.org), application_id)


@blp.route("/applications/<int:application_id>")
class ApplicationResource(MethodView):
    @blp.requires(perms.READ)
    @blp.response(200, s.ApplicationSchema)
    def get(self, org_id, application_id):
        """One application, with the existing people the applicant may be (`matches`)."""
        item = _application(application_id)
        if item.status != "accepted":
            applications.record_view(db.session, item)
        db.session.commit()
        return application_payload(item, g.org, with_matches=True)


@blp.route("/applications/<int:application_id>/accept")
class AcceptApplication(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.AcceptSchema)
    @blp.response(201, s.AcceptedSchema)
    @blp.alt_response(409, description="Decided already, or the admin must choose among existing people")
    def post(self, data, org_id, application_id):
        """Make the applicant a member: the person found (`person_id`, one of the matches) or a new one;
        with `invite_to_app`, invite them to the member app too (best effort: `invitation` says why not)."""
        access = current_access()
        if data.get("invite_to_app") and not access.has("core.roles.write", g.org):
            error(403, "inviting to the member app needs permission core.roles.write",
                  invite_to_app="needs permission core.roles.write")
        item = _application(application_id)
        membership = applications.accept(db.session, g.org, item, data, g.user.id,
                                         may_link_others=access.has("core.people.write", g.org))
        invitation = None
        if data.get("invite_to_app"):
            invitation = applications.invite_to_app(db.session, g.org, item, federa().permissions,
                                                    access.granter(g.org), g.user.person.full_name)
        db.session.commit()
        return {**membership_payload(membership), "invitation": invitation}


@blp.route("/applications/<int:application_id>/decline")
class DeclineApplication(MethodView):
    @blp.requires(perms.WRITE)
    @blp.arguments(s.DeclineSchema)
    @blp.response(200, s.ApplicationSchema)
    def post(self, data, org_id, application_id):
        """Decline the application, optionally telling the applicant why by e-mail."""
        item = _application(application_id)
        applications.decline(db.session, item, data.get("reason"), g.user.id,
                             tell_applicant=data.get("tell_applicant", False))
        db.session.commit()
        return application_payload(item, g.org)


@blp.route("/applications/<int:application_id>/wait")
class WaitApplication(MethodView):
    @blp.requires(perms.WRITE)
    @blp.response(200, s.ApplicationSchema)
    def post(self, org_id, application_id):
        """Put a new application on the waiting list."""
        item = _application(application_id)
        applications.put_on_waiting_list(db.session, item)
        db.session.commit()
        return application_payload(item, g.org)
