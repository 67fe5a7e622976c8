"""Applications for membership through a club's public sign-up form, and the club's decisions on them.

The form (`/join/<org_id>` and its API twin) takes an application when the club opened it
(`membership.signup_open`). It never touches people: an application keeps the applicant's own data until a
membership admin decides, because nobody who merely fills in a form may change a person record.

- Submitting: the fields are checked as a person's would be; the same application sent twice (a double click,
  a retry) is recognised and not stored again. With the waiting list on, an application waits when the club
  is full (`membership.signup_capacity`) or always when it has no maximum; without it, a full club takes none.
  One sender (a keyed hash of the client address) can send `MAX_PER_HOUR` applications an hour.
- Accepting: finds the person (national register number, else name and birth date; probable duplicates are
  shown to the admin, who says whether it is the same person; never merged silently) or creates one, links
  them to the club, fills only their empty contact fields from the application, and starts the membership
  (`membership.started` through the usual service). The copy of the data in the application is then emptied;
  its audit trail is attached to the person so their GDPR export and erasure include it.
- Declining: with an optional reason for the applicant; the application is erased (and its audit entries
  stripped of their values) `membership.signup_retention_days` after the decision by the daily
  `membership.purge_applications` job, which also erases applications nobody decided on for
  `membership.signup_undecided_days` (a year by default: a waiting list is not kept for ever).

E-mails (confirmation to the applicant, notice to the club, welcome, decline) go out as jobs after commit,
each at most once per application (idempotency keys).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.orm import Session

from core import audit, validation
from core.db import utcnow
from core.models import AuditLog, Organisation, Person
from core.services import Conflict, DomainError, NotFound
from core.services import people
from core.services.organisations import subtree_ids
from plugins.membership import services
from plugins.membership.models import APPLICATION_STATUSES, Application, Membership, MembershipType

MAX_PER_HOUR = 5
REMARKS_MAX = 2000
REASON_MAX = 500
# The applicant's own data: emptied when the application is accepted (the person record has it then).
PERSONAL_FIELDS = ("first_name", "last_name", "birth_date", "gender", "email", "phone", "street", "house_number",
                   "box", "postal_code", "city", "country", "national_number", "remarks")
ADDRESS_FIELDS = ("street", "house_number", "box", "postal_code", "city", "country")
# Person fields an accepted application may fill in when the person has none yet.
FILLABLE = ("gender", "email", "phone", "street", "house_number", "box", "postal_code", "city", "country",
            "national_number")
OPEN = ("new", "waiting")
UNSCOPED = {"federa_unscoped": True}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FormSettings:
    """How a club's sign-up form is set up (its settings, inherited from the federation where unset)."""

    open: bool
    waiting_list: bool
    capacity: int
    ask_address: bool
    ask_phone: bool
    ask_national_number: bool
    intro: str
    privacy_url: str
    confirmation_text: str
    welcome_text: str
    notify: str
    retention_days: int
    undecided_days: int


FORM_FIELDS = tuple(FormSettings.__dataclass_fields__)  # each is the setting membership.signup_<name>


def form_settings(session: Session, registry, org: Organisation) -> FormSettings:
    from core.settings import effective_settings

    values = {s.spec.key: s.value for s in effective_settings(session, registry, org, {"membership"})}
    return FormSettings(**{name: values[f"membership.signup_{name}"] for name in FORM_FIELDS})


@dataclass(frozen=True)
class FormState:
    """Whether the form takes an application now, and whether that one would go on the waiting list."""

    accepting: bool
    waits: bool


def form_state(session: Session, org: Organisation, settings: FormSettings) -> FormState:
    """With the waiting list on, an application waits when the club is full, or always without a maximum;
    without it, a full club takes none."""
    full = is_full(session, org, settings)
    return FormState(accepting=settings.open and (settings.waiting_list or not full),
                     waits=settings.waiting_list and (settings.capacity == 0 or full))


def asked_fields(settings: FormSettings) -> list[str]:
    """The person fields the form asks, as the club set it up (name, birth date and e-mail always)."""
    fields = ["first_name", "last_name", "birth_date", "gender", "email"]
    fields += ["phone"] if settings.ask_phone else []
    fields += list(ADDRESS_FIELDS) if settings.ask_address else []
    fields += ["national_number"] if settings.ask_national_number else []
    return fields


def club_of(org: Organisation) -> Organisation:
    """Sign-up forms and applications are a club's; anything else has none (NotFound)."""
    if org.kind != "club":
        raise NotFound(gettext("no such club"))
    return org


def type_names(session: Session, org: Organisation) -> dict[int, str]:
    """Names of the types that apply in the club (inactive ones too: older applications may name them)."""
    return {t.id: t.name for t in services.applicable_types(session, org)}


def offered_types(session: Session, org: Organisation) -> list[MembershipType]:
    """The membership types an applicant can choose from: the active types that apply in the club."""
    return services.applicable_types(session, org, active_only=True)


def member_count(session: Session, org: Organisation, today: dt.date | None = None) -> int:
    """People with a current (active or pending) membership of the club."""
    today = today or dt.date.today()
    return session.scalar(sa.select(sa.func.count(sa.distinct(Membership.person_id))).where(
        Membership.org_id == org.id, services.status_condition("current", today))) or 0


def is_full(session: Session, org: Organisation, settings: FormSettings) -> bool:
    return settings.capacity > 0 and member_count(session, org) >= settings.capacity


def source_hash(secret: str, address: str | None) -> str | None:
    """A keyed hash of a client address (the address itself is not kept)."""
    if not address:
        return None
    return hmac.new(secret.encode(), f"membership-signup:{address}".encode(), hashlib.sha256).hexdigest()


# --- submitting -------------------------------------------------------------------------------------------

class TooManyApplications(DomainError):
    status = 429


class FormClosed(DomainError):
    status = 409


def clean_application(session: Session, org: Organisation, settings: FormSettings, data: Mapping,
                      today: dt.date | None = None) -> dict:
    """The checked values of a submitted form; DomainError with every field at fault."""
    today = today or dt.date.today()
    asked = [*asked_fields(settings), "preferred_language"]
    person_data = {key: data.get(key) for key in asked if data.get(key) not in (None, "")}
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, value in list(person_data.items()):
        if isinstance(value, str) and _CONTROL.search(value):  # line breaks in a name end up in mail headers
            errors[key] = gettext("contains characters that are not allowed")
            del person_data[key]
    try:
        clean = people.normalise_fields(person_data, today=today)
    except DomainError as exc:
        errors.update(exc.details.get("errors") or {exc.field or "form": exc.message})
    for key in ("first_name", "last_name", "birth_date", "email"):
        if key not in errors and not str(person_data.get(key) or "").strip():
            errors[key] = gettext("this field is required")
    clean.setdefault("preferred_language", "nl")
    remarks = (data.get("remarks") or "").strip()
    if len(remarks) > REMARKS_MAX:
        errors["remarks"] = gettext("at most %(count)s characters", count=REMARKS_MAX)
    clean["remarks"] = remarks or None
    types = offered_types(session, org)
    type_id = data.get("type_id")
    chosen = None
    if type_id not in (None, ""):
        chosen = next((t for t in types if str(t.id) == str(type_id)), None)
        if chosen is None:
            errors["type_id"] = gettext("choose one of the membership types offered")
    elif len(types) == 1:
        chosen = types[0]
    elif types:
        errors["type_id"] = gettext("this field is required")
    if chosen is not None and "type_id" not in errors and "birth_date" not in errors:
        problem = services.check_age(chosen, clean.get("birth_date"), today)
        if problem:
            errors["type_id"] = problem
    clean["type_id"] = chosen.id if chosen is not None else None
    if not _truthy(data.get("consent")):
        errors["consent"] = gettext("the club needs your consent to process these data")
    if errors:
        raise DomainError(gettext("please check the form"), errors=errors)
    return clean


def _truthy(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes"))


def dedupe_key(clean: Mapping) -> str:
    """The same applicant (folded names, birth date, e-mail in any case) gives the same key."""
    text = "|".join((people.fold(clean["first_name"]), people.fold(clean["last_name"]),
                     clean["birth_date"].isoformat(), clean["email"].lower()))
    return hashlib.sha256(text.encode()).hexdigest()


def _open_with_key(session: Session, org: Organisation, key: str) -> Application | None:
    return session.execute(sa.select(Application).where(Application.org_id == org.id,
                                                        Application.dedupe_key == key)).scalar_one_or_none()


def submit(session: Session, org: Organisation, settings: FormSettings, data: Mapping, source: str | None = None,
           today: dt.date | None = None) -> tuple[Application, bool]:
    """Take an application from the public form and queue its e-mails (to the applicant and the club).
    Returns (application, whether it is new); an application sent again is returned as it was. Raises
    FormClosed, TooManyApplications or DomainError (fields)."""
    if not settings.open:
        raise FormClosed(gettext("this club does not take applications online at the moment"))
    if source is not None:
        since = utcnow() - dt.timedelta(hours=1)
        recent = session.scalar(sa.select(sa.func.count()).select_from(Application).where(
            Application.source_hash == source, Application.created_at >= since), execution_options=UNSCOPED) or 0
        if recent >= MAX_PER_HOUR:
            raise TooManyApplications(gettext("too many applications from this address; please try again later"))
    clean = clean_application(session, org, settings, data, today)
    key = dedupe_key(clean)
    existing = _open_with_key(session, org, key)
    if existing is not None:
        return existing, False
    state = form_state(session, org, settings)
    if not state.accepting:
        raise FormClosed(gettext("this club is full and takes no new members at the moment"))
    application = Application(org_id=org.id, status="waiting" if state.waits else "new", consent_at=utcnow(),
                              source_hash=source, dedupe_key=key, **clean)
    try:
        with session.begin_nested():  # the same application arriving at this very moment: keep the first
            session.add(application)
            session.flush()
    except sa.exc.IntegrityError:
        existing = _open_with_key(session, org, key)
        if existing is None:
            raise
        return existing, False
    # Anyone may fill in the form: the audit entry keeps no client address (the keyed hash above is enough).
    session.execute(sa.update(AuditLog).where(_audit_of([application.id]), AuditLog.user_id.is_(None))
                    .values(ip=None))
    queue_mail(session, application, "received")
    queue_mail(session, application, "new")
    return application, True


# --- the club's side --------------------------------------------------------------------------------------

def applications_query(org: Organisation, status: str | None = None):
    query = sa.select(Application).where(Application.org_id == org.id)
    if status in APPLICATION_STATUSES:
        query = query.where(Application.status == status)
    # The waiting list in order of arrival; decided ones newest first.
    if status in OPEN:
        return query.order_by(Application.created_at, Application.id)
    return query.order_by(Application.created_at.desc(), Application.id.desc())


def counts(session: Session, org: Organisation) -> dict[str, int]:
    rows = session.execute(sa.select(Application.status, sa.func.count()).where(Application.org_id == org.id)
                           .group_by(Application.status)).all()
    found = dict(rows)
    return {status: found.get(status, 0) for status in APPLICATION_STATUSES}


def get_application(session: Session, org: Organisation, application_id: int) -> Application:
    """An application to `org` itself; anything else is not found."""
    found = session.execute(sa.select(Application).where(Application.id == application_id,
                                                         Application.org_id == org.id)).scalar_one_or_none()
    if found is None:
        raise NotFound(gettext("application not found"))
    return found


def _audit_of(application_ids) -> sa.ColumnElement[bool]:
    """The audit entries about these applications (writes and views)."""
    return sa.and_(AuditLog.entity_type == Application.__tablename__,
                   AuditLog.entity_id.in_([str(i) for i in application_ids]))


def record_view(session: Session, application: Application) -> None:
    """Log that the current user saw the applicant's data (attached to the person if they become a member)."""
    audit.record_view(session, application.person_id, what=Application.__tablename__, org_id=application.org_id,
                      entity_id=str(application.id))


def waiting_position(session: Session, application: Application) -> int | None:
    if application.status != "waiting":
        return None
    return 1 + (session.scalar(sa.select(sa.func.count()).select_from(Application).where(
        Application.org_id == application.org_id, Application.status == "waiting",
        sa.or_(Application.created_at < application.created_at,
               sa.and_(Application.created_at == application.created_at, Application.id < application.id)))) or 0)


@dataclass(frozen=True)
class Match:
    """An existing person the applicant may be: `certain` for the same national register number (and name);
    `in_club` when the person is already known in the club (or below it)."""

    person: Person
    certain: bool
    in_club: bool


class NumberOfSomeoneElse(Conflict):
    """The national register number typed on the form belongs to a person with another name."""


def _same_name(person: Person, application: Application) -> bool:
    return ((people.fold(person.first_name), people.fold(person.last_name))
            == (people.fold(application.first_name), people.fold(application.last_name)))


def matches(session: Session, org: Organisation, application: Application) -> list[Match]:
    """People the applicant may already be, for the admin to choose from. The same national register number
    is the same person only with the same name; under another name it is reported (`NumberOfSomeoneElse`),
    never shown, so the form cannot be used to find out whose number it is."""
    if application.status not in OPEN:
        return []
    found: list[tuple[Person, bool]] = []
    if application.national_number:
        person = people.find_by_national_number(session, application.national_number)
        if person is not None:
            if not _same_name(person, application):
                raise NumberOfSomeoneElse(gettext(
                    "the national register number on this application belongs to a person with another name: "
                    "check it with the applicant, then add the member yourself or decline"), field="person_id")
            found.append((person, True))
    if not found:
        found = [(p, False) for p in people.probable_duplicates(session, application.first_name,
                                                                  application.last_name, application.birth_date)]
    if not found:
        return []
    linked = people.links_in(session, org, [p.id for p, _ in found])
    return [Match(person, certain, bool(linked.get(person.id))) for person, certain in found]


def _open_or_conflict(application: Application) -> None:
    if application.status not in OPEN:
        raise Conflict(gettext("this application has already been decided"), field="status")


def _claim(session: Session, application: Application, status: str) -> None:
    """Move an open application to `status` in one conditional statement: of two admins (or two clicks) deciding
    at the same moment, one wins and the other gets a Conflict, never a second person or membership."""
    claimed = session.execute(sa.update(Application).where(
        Application.id == application.id, Application.status.in_(OPEN)).values(status=status, dedupe_key=None)
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise Conflict(gettext("this application has already been decided"), field="status")
    session.refresh(application)


def put_on_waiting_list(session: Session, application: Application) -> Application:
    if application.status != "new":
        raise Conflict(gettext("only a new application can go on the waiting list"), field="status")
    application.status = "waiting"
    session.flush()
    return application


def accept(session: Session, org: Organisation, application: Application, data: Mapping, user_id: int | None,
           may_link_others: bool = True, today: dt.date | None = None) -> Membership:
    """Make the applicant a member: `person_id` one of `matches`, or "new" (required when there are probable
    duplicates: the admin says it is someone else), `type_id` (default: the type asked for), `starts_on`
    (default today), `custom_fields` for a new person. All or nothing; the welcome e-mail goes after commit.

    Linking a person not yet known in the club needs `may_link_others` (core.people.write). Only a person the
    club already knows gets empty contact fields filled in from the form; anyone else's record stays as it is."""
    today = today or dt.date.today()
    _open_or_conflict(application)
    found = matches(session, org, application)
    chosen = data.get("person_id")
    new_person = chosen == "new" or _truthy(data.get("new_person"))
    if chosen not in (None, "", "new"):
        try:
            chosen = int(chosen)
        except (TypeError, ValueError):
            raise DomainError(gettext("not a person this application may be"), field="person_id") from None
        match = next((m for m in found if m.person.id == chosen), None)
        if match is None:
            raise DomainError(gettext("not a person this application may be"), field="person_id")
        if not match.in_club and not may_link_others:
            raise DomainError(gettext("adding a person from another organisation needs the right to manage people"),
                              field="person_id")
        _claim(session, application, "accepted")
        person = match.person
        if match.in_club:
            for key in FILLABLE:
                value = getattr(application, key)
                if value and not getattr(person, key):
                    setattr(person, key, value)
        services.ensure_link(session, person.id, org.id)
    elif any(m.certain for m in found):
        raise Conflict(gettext("a person with this national register number exists: accept the application for "
                               "that person"), field="person_id", existing_person_id=found[0].person.id)
    elif found and not new_person:
        raise Conflict(gettext("people with the same name and birth date exist: choose one of them, or confirm "
                               "that this is someone else"), field="person_id",
                       existing_person_ids=[m.person.id for m in found])
    else:
        values = {key: getattr(application, key) for key in (*FILLABLE, "first_name", "last_name", "birth_date",
                                                               "preferred_language") if getattr(application, key)}
        _claim(session, application, "accepted")
        person = people.create_person(session, org, {**values, "custom_fields": data.get("custom_fields") or {}},
                                      confirm_duplicate=True)
    membership = services.add_membership(session, org, person, {
        "type_id": data.get("type_id") or application.type_id, "starts_on": data.get("starts_on") or today},
        today=today)
    application.person_id = person.id
    application.membership_id = membership.id
    application.decided_at = utcnow()
    application.decided_by_id = user_id
    for key in PERSONAL_FIELDS:
        if key != "email":  # kept for the welcome e-mail: the address the applicant gave
            setattr(application, key, None)
    session.flush()
    # The trail of the application (who applied, with what) now belongs to the person's GDPR record.
    session.execute(sa.update(AuditLog).where(_audit_of([application.id]), AuditLog.person_id.is_(None))
                    .values(person_id=person.id))
    queue_mail(session, application, "accepted")
    return membership


def invite_to_app(session: Session, org: Organisation, application: Application, registry, granter,
                  inviter_name: str | None) -> str | None:
    """Give the new member the member role in the club, and a login with an invitation to set a password when
    they have none, so they find their membership, documents and invoices in the member app. Best effort:
    returns why not (an e-mail address another login already uses ...) instead of undoing the acceptance."""
    from core.permissions import MEMBER
    from core.services import users

    person = application.person
    try:
        with session.begin_nested():
            users.grant_role(session, org, registry, role=users.builtin_role(session, MEMBER), person_id=person.id,
                             email=person.email or application.email, granter=granter, inviter_name=inviter_name)
    except DomainError as exc:
        return exc.message
    return None


def decline(session: Session, application: Application, reason: str | None, user_id: int | None,
            tell_applicant: bool = False) -> Application:
    """Decline an open application; with `tell_applicant`, the applicant gets the reason by e-mail."""
    reason = (reason or "").strip() or None
    if reason and len(reason) > REASON_MAX:
        raise DomainError(gettext("at most %(count)s characters", count=REASON_MAX), field="reason")
    _claim(session, application, "declined")
    application.decline_reason = reason
    application.decided_at = utcnow()
    application.decided_by_id = user_id
    session.flush()
    if tell_applicant:
        queue_mail(session, application, "declined")
    return application


def queue_mail(session: Session, application: Application, kind: str) -> None:
    """One e-mail about `application` ("received", "new", "accepted", "declined"), sent by a job after commit;
    at most once per application and kind, however often this is called."""
    from core.jobs import enqueue

    enqueue(session, "membership.application_mail", org_id=application.org_id, title=gettext("Application e-mail"),
            application_id=application.id, kind=kind,
            idempotency_key=f"membership.application:{application.id}:{kind}")


# --- privacy ------------------------------------------------------------------------------------------------

def _erase(session: Session, applications: list[Application]) -> int:
    """Delete applications and strip the recorded values from their audit entries (who did what, when stays)."""
    if not applications:
        return 0
    ids = [a.id for a in applications]
    for application in applications:
        session.delete(application)
    session.flush()
    session.execute(sa.update(AuditLog).where(_audit_of(ids)).values(changes=sa.null()))
    return len(ids)


def purge_applications(session: Session, registry, now: dt.datetime | None = None) -> int:
    """Erase, per club's settings, declined applications older than their retention period and applications
    nobody decided on for longer than `membership.signup_undecided_days` (daily job)."""
    now = now or utcnow()
    rows = session.execute(sa.select(Application).where(Application.status != "accepted")
                           .order_by(Application.org_id), execution_options=UNSCOPED).scalars()
    due: list[Application] = []
    settings_of: dict[int, FormSettings] = {}
    for application in rows:
        if application.org_id not in settings_of:
            settings_of[application.org_id] = form_settings(session, registry,
                                                            session.get(Organisation, application.org_id))
        settings = settings_of[application.org_id]
        if application.status == "declined":
            if application.decided_at <= now - dt.timedelta(days=settings.retention_days):
                due.append(application)
        elif application.created_at <= now - dt.timedelta(days=settings.undecided_days):
            due.append(application)
    return _erase(session, due)


def export_person(session: Session, org: Organisation, person: Person) -> list[dict]:
    """The person's accepted applications: what they still hold once the person record has the rest."""
    rows = session.execute(sa.select(Application).where(Application.person_id == person.id,
                                                        Application.org_id.in_(subtree_ids(org)))).scalars()
    return [{"id": a.id, "club_id": a.org_id, "status": a.status, "applied_at": a.created_at.isoformat(),
             "consent_at": a.consent_at.isoformat(), "decided_at": a.decided_at.isoformat() if a.decided_at else None,
             "membership_id": a.membership_id, "email": a.email, "preferred_language": a.preferred_language}
            for a in rows]


def erase_person(session: Session, org: Organisation, person: Person) -> int:
    rows = list(session.execute(sa.select(Application).where(
        Application.person_id == person.id, Application.org_id.in_(subtree_ids(org)))).scalars())
    return _erase(session, rows)


def notify_recipients(session: Session, org: Organisation, settings: FormSettings) -> list[tuple[str, str]]:
    """(address, language) of who hears of a new application: the addresses of the setting (invalid ones
    skipped; in Dutch), else the club's contact person, else its admins (each in their own language)."""
    addresses = _addresses(settings.notify or "", strict=False)
    if addresses:
        return [(address, "nl") for address in addresses]
    users = [user for _, user in services.contact_people(session, [org.id])]
    users = users or [user for _, user in services.contact_people(session, [org.id], roles=("club_admin",))]
    return list({user.email: (user.email, user.person.preferred_language or "nl") for user in users
                 if user.email}.values())


def _addresses(value: str, strict: bool) -> list[str]:
    found = []
    for part in value.replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            found.append(validation.email(part))
        except ValueError:
            if strict:
                raise ValueError(gettext("not a valid e-mail address: %(address)s", address=part.strip())) from None
    return list(dict.fromkeys(found))


def check_notify(value: str) -> str:
    """The notify setting as typed on the form page: every address valid, else ValueError naming the bad one."""
    return ", ".join(_addresses(value or "", strict=True))
