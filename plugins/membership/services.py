"""Membership domain logic: seasons, membership types, memberships, bulk actions, member lists, overview.

Plain functions taking a session and values; no Flask request objects. They raise
`core.services.DomainError` (422), `Conflict` (409) or `NotFound` (404) with the field at fault.

Rules worth knowing:
- Types and seasons belong to the organisation that defines them and apply to its whole subtree
  (a federation's types are valid in all its clubs). Seasons are kept by the club's federation
  (its nearest ancestor of kind "federation"; the root of the tree when there is none).
- Memberships run on from season to season until ended. The stored `status` is pending, active
  or ended; a membership with an end date in the future stays active until then, so lists use the
  *effective* status (`status_condition`), and the daily job `membership.close_ended` tidies the
  stored one.
- Ending many memberships is one set-based UPDATE (bulk statements bypass the ORM audit listener,
  so one summary audit entry is written here) followed by a `membership.ended` event per membership.
- Events (`membership.started`, `membership.ended`, `membership.changed`) go through the
  organisation-scoped `on_event` hook of the membership's club, payload as in `event_payload`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from flask_babel import gettext
from sqlalchemy.orm import Session

from core import validation
from core.db import utcnow
from core.models import AuditLog, Organisation, Person, PersonOrganisation, RoleAssignment, Role, User
from core.services import Conflict, DomainError, NotFound
from core.services import custom_fields as cf
from core.services import people
from core.services.organisations import in_subtree, subtree_ids
from plugins.membership.models import STATUSES, Cleanup, Membership, MembershipType, SavedFilter, Season

UNSCOPED = {"federa_unscoped": True}
# Types are joined as a table, not an entity: a federation's types lie above a club's query scope.
_types = MembershipType.__table__
# The club of a member-list row (one alias for every list: building it costs a column proxy per column).
_club = sa.orm.aliased(Organisation, name="club")
REASON_MAX = 200
CHUNK = 2000


# --- organisations ----------------------------------------------------------------------------------

def federation_of(session: Session, org: Organisation) -> Organisation:
    """The organisation that keeps the seasons for `org`: its nearest ancestor (or itself) of kind
    federation, else the root of its tree."""
    ids = org.ancestor_ids
    rows = {o.id: o for o in session.execute(sa.select(Organisation).where(Organisation.id.in_(ids))).scalars()}
    for org_id in reversed(ids):
        if rows.get(org_id) is not None and rows[org_id].kind == "federation":
            return rows[org_id]
    return rows.get(ids[0], org)


def _parse_date(value, field_name: str, required: bool = True) -> dt.date | None:
    if value in (None, ""):
        if required:
            raise DomainError("this field is required", field=field_name)
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise DomainError("not a valid date (YYYY-MM-DD)", field=field_name) from None


def _errors(errors: dict, message: str = "invalid data"):
    if errors:
        raise DomainError(message, errors=errors)


# --- seasons --------------------------------------------------------------------------------------------

def seasons_of(session: Session, org: Organisation) -> list[Season]:
    """The seasons that apply to `org` (those of its federation), newest first."""
    owner = federation_of(session, org)
    return list(session.execute(
        sa.select(Season).where(Season.org_id == owner.id).order_by(Season.starts_on.desc()),
        execution_options=UNSCOPED).scalars())


def current_season(session: Session, org: Organisation, today: dt.date | None = None) -> Season | None:
    today = today or dt.date.today()
    for season in seasons_of(session, org):
        if season.starts_on <= today <= season.ends_on:
            return season
    return None


def get_season(session: Session, org: Organisation, season_id: int) -> Season:
    for season in seasons_of(session, org):
        if season.id == season_id:
            return season
    raise NotFound("season not found", field="season_id")


def _season_values(data: Mapping, current: Season | None) -> dict:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if "name" in data or current is None:
        name = (data.get("name") or "").strip()
        if not name:
            errors["name"] = "this field is required"
        elif len(name) > 100:
            errors["name"] = "at most 100 characters"
        clean["name"] = name
    for key, required in (("starts_on", True), ("ends_on", True), ("cleanup_deadline", False)):
        if key in data or current is None:
            try:
                clean[key] = _parse_date(data.get(key), key, required)
            except DomainError as exc:
                errors[key] = exc.message
    starts = clean.get("starts_on", getattr(current, "starts_on", None))
    ends = clean.get("ends_on", getattr(current, "ends_on", None))
    deadline = clean.get("cleanup_deadline", getattr(current, "cleanup_deadline", None))
    if starts and ends and "ends_on" not in errors and ends <= starts:
        errors["ends_on"] = "the season must end after it starts"
    if deadline and starts and ends and "cleanup_deadline" not in errors and not (starts <= deadline <= ends):
        errors["cleanup_deadline"] = "the deadline must fall within the season"
    _errors(errors, "invalid season")
    return clean


def _check_season_overlap(session: Session, owner: Organisation, starts: dt.date, ends: dt.date,
                          exclude_id: int | None) -> None:
    query = sa.select(Season).where(Season.org_id == owner.id, Season.starts_on <= ends, Season.ends_on >= starts)
    if exclude_id is not None:
        query = query.where(Season.id != exclude_id)
    clash = session.execute(query, execution_options=UNSCOPED).scalars().first()
    if clash is not None:
        raise Conflict(f"overlaps season {clash.name}", field="starts_on", existing_season_id=clash.id)


def create_season(session: Session, org: Organisation, data: Mapping) -> Season:
    owner = federation_of(session, org)
    if owner.id != org.id:
        raise DomainError("seasons are kept by the federation", field="org_id", federation_id=owner.id)
    clean = _season_values(data, None)
    if session.execute(sa.select(Season.id).where(Season.org_id == org.id, Season.name == clean["name"]),
                       execution_options=UNSCOPED).first():
        raise Conflict("a season with this name exists", field="name")
    _check_season_overlap(session, org, clean["starts_on"], clean["ends_on"], None)
    season = Season(org_id=org.id, **clean)
    session.add(season)
    session.flush()
    return season


def update_season(session: Session, org: Organisation, season: Season, data: Mapping) -> Season:
    if season.org_id != org.id:
        raise NotFound("season not found")
    clean = _season_values(data, season)
    if "name" in clean and clean["name"] != season.name and session.execute(
            sa.select(Season.id).where(Season.org_id == org.id, Season.name == clean["name"]),
            execution_options=UNSCOPED).first():
        raise Conflict("a season with this name exists", field="name")
    _check_season_overlap(session, org, clean.get("starts_on", season.starts_on),
                          clean.get("ends_on", season.ends_on), season.id)
    for key, value in clean.items():
        setattr(season, key, value)
    session.flush()
    return season


def delete_season(session: Session, org: Organisation, season: Season) -> None:
    if season.org_id != org.id:
        raise NotFound("season not found")
    session.delete(season)
    session.flush()


# --- membership types ----------------------------------------------------------------------------------

def applicable_types(session: Session, org: Organisation, active_only: bool = False) -> list[MembershipType]:
    """Types defined by `org` and the organisations above it (federation first)."""
    depth = {org_id: i for i, org_id in enumerate(org.ancestor_ids)}
    query = sa.select(MembershipType).where(MembershipType.org_id.in_(org.ancestor_ids))
    if active_only:
        query = query.where(MembershipType.active.is_(True))
    types = session.execute(query, execution_options=UNSCOPED).scalars().all()
    return sorted(types, key=lambda t: (depth[t.org_id], t.name.lower(), t.id))


def get_type(session: Session, org: Organisation, type_id, field_name: str = "type_id") -> MembershipType:
    """A type that applies in `org`; one of another club or federation is refused (422)."""
    try:
        type_id = int(type_id)
    except (TypeError, ValueError):
        raise DomainError("choose a membership type", field=field_name) from None
    found = session.get(MembershipType, type_id, execution_options=UNSCOPED)
    if found is None or found.org_id not in org.ancestor_ids:
        raise DomainError("this membership type does not apply in this organisation", field=field_name)
    return found


def type_of(session: Session, m: Membership) -> MembershipType:
    """A membership's type; unscoped because a federation's type lies above the club's scope."""
    return session.get(MembershipType, m.type_id, execution_options=UNSCOPED)


def own_type(session: Session, org: Organisation, type_id: int) -> MembershipType:
    found = session.get(MembershipType, type_id, execution_options=UNSCOPED)
    if found is None or found.org_id != org.id:
        raise NotFound("membership type not found")
    return found


def _type_values(data: Mapping, current: MembershipType | None) -> dict:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if "name" in data or current is None:
        name = (data.get("name") or "").strip()
        if not name:
            errors["name"] = "this field is required"
        elif len(name) > 100:
            errors["name"] = "at most 100 characters"
        clean["name"] = name
    if "price" in data or current is None:
        raw = data.get("price")
        try:
            price = Decimal(str(raw).strip().replace(",", ".")) if raw not in (None, "") else Decimal("0")
            if not price.is_finite() or price < 0 or price >= Decimal("1e10"):
                raise InvalidOperation
            clean["price"] = price.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors["price"] = "a price is an amount of 0 or more (e.g. 25.00)"
    for key in ("min_age", "max_age"):
        if key in data:
            raw = data.get(key)
            if raw in (None, ""):
                clean[key] = None
                continue
            try:
                value = int(raw)
                if isinstance(raw, float) and raw != value:
                    raise ValueError
            except (TypeError, ValueError):
                errors[key] = "enter a whole number of years"
                continue
            if not 0 <= value <= 150:
                errors[key] = "an age is between 0 and 150"
            clean[key] = value
    for key in ("sporting", "active"):
        if key in data:
            clean[key] = bool(data[key]) if not isinstance(data[key], str) else data[key].lower() in (
                "1", "true", "on", "yes")
    low = clean.get("min_age", getattr(current, "min_age", None))
    high = clean.get("max_age", getattr(current, "max_age", None))
    if low is not None and high is not None and "max_age" not in errors and "min_age" not in errors and high < low:
        errors["max_age"] = "the maximum age is below the minimum age"
    _errors(errors, "invalid membership type")
    return clean


def _check_type_name(session: Session, org: Organisation, name: str, exclude_id: int | None) -> None:
    """A name must be unambiguous wherever the type applies: not used above, here, or below."""
    query = (sa.select(MembershipType.id).join(Organisation, Organisation.id == MembershipType.org_id)
             .where(sa.func.lower(MembershipType.name) == name.lower(),
                    sa.or_(MembershipType.org_id.in_(org.ancestor_ids), Organisation.path.like(org.path + "%"))))
    if exclude_id is not None:
        query = query.where(MembershipType.id != exclude_id)
    if session.execute(query, execution_options=UNSCOPED).first():
        raise Conflict("a membership type with this name already applies here or below", field="name")


def create_type(session: Session, org: Organisation, data: Mapping) -> MembershipType:
    clean = _type_values(data, None)
    _check_type_name(session, org, clean["name"], None)
    created = MembershipType(org_id=org.id, **clean)
    session.add(created)
    session.flush()
    return created


def update_type(session: Session, org: Organisation, mtype: MembershipType, data: Mapping) -> MembershipType:
    clean = _type_values(data, mtype)
    if "name" in clean and clean["name"] != mtype.name:
        _check_type_name(session, org, clean["name"], mtype.id)
    for key, value in clean.items():
        setattr(mtype, key, value)
    session.flush()
    return mtype


def delete_type(session: Session, mtype: MembershipType) -> None:
    used = session.execute(sa.select(Membership.id).where(Membership.type_id == mtype.id).limit(1),
                           execution_options=UNSCOPED).first()
    if used:
        raise Conflict("memberships of this type exist; make the type inactive instead", field="active")
    session.delete(mtype)
    session.flush()


# --- memberships -------------------------------------------------------------------------------------

def effective_status(m: Membership, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    if m.status == "ended" or (m.ends_on is not None and m.ends_on < today):
        return "ended"
    return m.status


def status_condition(status: str, today: dt.date):
    """SQL condition for the effective status: active, pending, ended, current (active or pending), all."""
    M = Membership
    not_over = sa.or_(M.ends_on.is_(None), M.ends_on >= today)
    if status == "active":
        return sa.and_(M.status == "active", not_over)
    if status == "pending":
        return sa.and_(M.status == "pending", not_over)
    if status == "ended":
        return sa.or_(M.status == "ended", M.ends_on < today)
    if status == "current":
        return sa.and_(M.status != "ended", not_over)
    return sa.true()


def event_payload(m: Membership | Mapping, **extra) -> dict:
    """What listeners receive with each membership event (JSON-serialisable); `m` is a membership or the
    column values of one inserted set-based."""
    get = m.get if isinstance(m, Mapping) else (lambda key: getattr(m, key))
    starts, ends = get("starts_on"), get("ends_on")
    return {"membership_id": get("id"), "person_id": get("person_id"), "org_id": get("org_id"),
            "type_id": get("type_id"), "starts_on": starts.isoformat(), "ends_on": ends.isoformat() if ends else None,
            "status": get("status"), "end_reason": get("end_reason"), **extra}


def emit(session: Session, event: str, payloads: Iterable[dict]) -> int:
    """Send `event` with each payload to the plugins enabled in the payload's organisation (gate 2)."""
    from core.gates import call_org_hook, prime_enabled_modules

    payloads = list(payloads)
    org_ids = sorted({p["org_id"] for p in payloads})
    orgs: dict[int, Organisation] = {}
    for chunk in _chunks(org_ids):
        orgs.update({o.id: o for o in session.execute(sa.select(Organisation).where(Organisation.id.in_(chunk)))
                     .scalars()})
    prime_enabled_modules(orgs.values())
    for payload in payloads:
        call_org_hook("on_event", orgs[payload["org_id"]], event=event, payload=payload)
    return len(payloads)


def ensure_link(session: Session, person_id: int, org_id: int) -> None:
    """The core link that makes a member visible in the organisation's people lists."""
    exists = session.execute(sa.select(PersonOrganisation.id).where(
        PersonOrganisation.person_id == person_id, PersonOrganisation.org_id == org_id),
        execution_options=UNSCOPED).first()
    if not exists:
        session.add(PersonOrganisation(person_id=person_id, org_id=org_id, relation="member"))
        session.flush()


def _age_on(birth_date: dt.date, day: dt.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def check_age(mtype: MembershipType, birth_date: dt.date | None, on: dt.date) -> str | None:
    """An error message (in the user's language: applicants read it too) when the age on `on` of someone born
    on `birth_date` falls outside the type's age range."""
    if birth_date is None or (mtype.min_age is None and mtype.max_age is None):
        return None
    age = _age_on(birth_date, on)
    if mtype.min_age is not None and age < mtype.min_age:
        return gettext("%(type)s is for members of at least %(min)s (this person is %(age)s)", type=mtype.name,
                       min=mtype.min_age, age=age)
    if mtype.max_age is not None and age > mtype.max_age:
        return gettext("%(type)s is for members of at most %(max)s (this person is %(age)s)", type=mtype.name,
                       max=mtype.max_age, age=age)
    return None


def overlapping(session: Session, person_id: int, org_id: int, type_id: int, starts: dt.date,
                ends: dt.date | None, exclude_id: int | None = None) -> Membership | None:
    """A membership of the same person, club and type whose period meets [starts, ends]."""
    M = Membership
    query = sa.select(M).where(
        M.person_id == person_id, M.org_id == org_id, M.type_id == type_id,
        sa.or_(M.ends_on.is_(None), M.ends_on >= starts),
    )
    if ends is not None:
        query = query.where(M.starts_on <= ends)
    if exclude_id is not None:
        query = query.where(M.id != exclude_id)
    return session.execute(query, execution_options=UNSCOPED).scalars().first()


def clean_iban(value) -> str | None:
    if value in (None, ""):
        return None
    try:
        return validation.iban(str(value))
    except ValueError as exc:
        raise DomainError(str(exc), field="iban") from None


def add_membership(session: Session, org: Organisation, person: Person, data: Mapping,
                   today: dt.date | None = None, emit_event: bool = True) -> Membership:
    """Start a membership of `person` in `org` (type, starts_on, optional ends_on, status, iban)."""
    today = today or dt.date.today()
    errors: dict[str, str] = {}
    mtype = None
    try:
        mtype = get_type(session, org, data.get("type_id"))
        if not mtype.active:
            errors["type_id"] = "this membership type is no longer in use"
    except DomainError as exc:
        errors["type_id"] = exc.message
    starts = ends = None
    try:
        starts = _parse_date(data.get("starts_on") or today, "starts_on")
    except DomainError as exc:
        errors["starts_on"] = exc.message
    try:
        ends = _parse_date(data.get("ends_on"), "ends_on", required=False)
    except DomainError as exc:
        errors["ends_on"] = exc.message
    if starts and ends and ends < starts:
        errors["ends_on"] = "the end date is before the start date"
    status = data.get("status") or ("pending" if starts and starts > today else "active")
    if status not in ("pending", "active"):
        errors["status"] = "a new membership is pending or active"
    iban = None
    try:
        iban = clean_iban(data.get("iban"))
    except DomainError as exc:
        errors["iban"] = exc.message
    if mtype is not None and starts and "type_id" not in errors:
        problem = check_age(mtype, person.birth_date, starts)
        if problem:
            errors["type_id"] = problem
    _errors(errors, "invalid membership")
    clash = overlapping(session, person.id, org.id, mtype.id, starts, ends)
    if clash is not None:
        raise Conflict("this person already has a membership of this type in this club in that period",
                       field="starts_on", existing_membership_id=clash.id)
    membership = Membership(org_id=org.id, person_id=person.id, type_id=mtype.id, starts_on=starts, ends_on=ends,
                            status="ended" if ends and ends <= today else status, iban=iban,
                            end_reason=(data.get("end_reason") or None) if ends else None,
                            transferred_from_id=data.get("transferred_from_id"))
    session.add(membership)
    session.flush()
    ensure_link(session, person.id, org.id)
    if emit_event:
        emit(session, "membership.started", [event_payload(membership)])
    return membership


def get_membership(session: Session, org: Organisation, membership_id: int) -> Membership:
    """A membership of `org` or a club below it; anything else is not found (404)."""
    found = session.execute(sa.select(Membership).where(Membership.id == membership_id,
                                                        Membership.org_id.in_(subtree_ids(org)))).scalar_one_or_none()
    if found is None:
        raise NotFound("membership not found")
    return found


def update_membership(session: Session, org: Organisation, m: Membership, data: Mapping,
                      today: dt.date | None = None) -> Membership:
    """Change type, dates, status, end reason or bank account of one membership."""
    today = today or dt.date.today()
    club = session.get(Organisation, m.org_id)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if "type_id" in data and data["type_id"] != m.type_id:
        try:
            mtype = get_type(session, club, data["type_id"])
            problem = check_age(mtype, m.person.birth_date, max(m.starts_on, today))
            if problem:
                errors["type_id"] = problem
            clean["type_id"] = mtype.id
        except DomainError as exc:
            errors["type_id"] = exc.message
    for key, required in (("starts_on", True), ("ends_on", False)):
        if key in data:
            try:
                clean[key] = _parse_date(data[key], key, required)
            except DomainError as exc:
                errors[key] = exc.message
    if "status" in data:
        if data["status"] not in STATUSES:
            errors["status"] = f"one of {', '.join(STATUSES)}"
        clean["status"] = data["status"]
    if "end_reason" in data:
        reason = (data["end_reason"] or "").strip() or None
        if reason and len(reason) > REASON_MAX:
            errors["end_reason"] = f"at most {REASON_MAX} characters"
        clean["end_reason"] = reason
    if "iban" in data:
        try:
            clean["iban"] = clean_iban(data["iban"])
        except DomainError as exc:
            errors["iban"] = exc.message
    starts = clean.get("starts_on", m.starts_on)
    ends = clean.get("ends_on", m.ends_on)
    if starts and ends and "ends_on" not in errors and "starts_on" not in errors and ends < starts:
        errors["ends_on"] = "the end date is before the start date"
    if clean.get("status") == "ended" and ends is None and "ends_on" not in errors:
        errors["ends_on"] = "give the date the membership ends"
    _errors(errors, "invalid membership")
    clash = overlapping(session, m.person_id, m.org_id, clean.get("type_id", m.type_id), starts, ends, exclude_id=m.id)
    if clash is not None:
        raise Conflict("this person already has a membership of this type in this club in that period",
                       field="starts_on", existing_membership_id=clash.id)
    was_open = m.ends_on is None and m.status != "ended"
    changes = {k: [_plain(getattr(m, k)), _plain(v)] for k, v in clean.items() if getattr(m, k) != v}
    for key, value in clean.items():
        setattr(m, key, value)
    if m.ends_on is not None and m.ends_on <= today:
        m.status = "ended"
    elif m.ends_on is None and m.status == "ended":
        m.status = "active"  # an end date taken away reopens the membership
        m.end_reason = None
    session.flush()
    if changes:
        ended_now = was_open and (m.ends_on is not None or m.status == "ended")
        emit(session, "membership.ended" if ended_now else "membership.changed",
             [event_payload(m, changes=changes)])
    return m


def _plain(value):
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    return value


# --- bulk actions ------------------------------------------------------------------------------------

@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    def as_dict(self, key: str = "ended") -> dict:
        return {key: len(self.done), "skipped": len(self.skipped), "membership_ids": self.done}


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _bulk_audit(session: Session, org: Organisation, what: str, ids: list[int], **details) -> None:
    from core.audit import _actor  # the same "who" as every other audit entry

    user_id, request_org_id, ip = _actor(session)
    session.add(AuditLog(user_id=user_id, org_id=org.id, action="update", entity_type="membership_membership",
                         entity_id=None, ip=ip, at=utcnow(),
                         changes={"bulk": what, "count": len(ids), "membership_ids": ids, **details}))


def _clean_end(end_date, reason) -> tuple[dt.date, str]:
    errors: dict[str, str] = {}
    day = None
    try:
        day = _parse_date(end_date, "end_date")
    except DomainError as exc:
        errors["end_date"] = exc.message
    reason = (reason or "").strip() if isinstance(reason, str) or reason is None else str(reason)
    if not reason:
        errors["reason"] = "give the reason the memberships end"
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"at most {REASON_MAX} characters"
    _errors(errors, "invalid end")
    return day, reason


def _selected_rows(session: Session, org: Organisation, ids: list[int]) -> dict[int, sa.Row]:
    """(id, person_id, org_id, type_id, starts_on, ends_on, status) of the given memberships inside `org`."""
    M = Membership
    found: dict[int, sa.Row] = {}
    for chunk in _chunks(sorted(set(ids))):
        for row in session.execute(
                sa.select(M.id, M.person_id, M.org_id, M.type_id, M.starts_on, M.ends_on, M.status)
                .where(M.id.in_(chunk), M.org_id.in_(subtree_ids(org)))):
            found[row.id] = row
    return found


def _membership_ids(membership_ids: Iterable) -> list[int]:
    """The selected membership ids as numbers; at least one."""
    try:
        ids = [int(i) for i in membership_ids]
    except (TypeError, ValueError):
        raise DomainError("membership ids are numbers", field="membership_ids") from None
    if not ids:
        raise DomainError("select at least one membership", field="membership_ids")
    return ids


def _rows_or_404(session: Session, org: Organisation, ids: list[int]) -> dict[int, sa.Row]:
    """`_selected_rows` of all `ids`; one outside `org`'s subtree answers NotFound (nothing changes)."""
    rows = _selected_rows(session, org, ids)
    missing = sorted(set(ids) - set(rows))
    if missing:
        raise NotFound("some memberships were not found in this organisation", field="membership_ids",
                       missing_ids=missing[:100])
    return rows


def person_ids_of(session: Session, org: Organisation, membership_ids: Iterable[int]) -> list[int]:
    """The people of the given memberships of `org`'s subtree (each once); an id outside it is not found."""
    rows = _rows_or_404(session, org, _membership_ids(membership_ids))
    return sorted({row.person_id for row in rows.values()})


def end_memberships(session: Session, org: Organisation, membership_ids: Iterable[int], end_date, reason: str,
                    today: dt.date | None = None) -> BulkResult:
    """End the given memberships of `org`'s subtree on `end_date` for `reason`, all or nothing.

    An id outside the subtree answers NotFound (nothing changes); an end date before a membership's
    start is refused naming those memberships. Memberships already ended (or with an end date) are
    skipped, so a retried request changes nothing twice."""
    today = today or dt.date.today()
    day, reason = _clean_end(end_date, reason)
    rows = _rows_or_404(session, org, _membership_ids(membership_ids))
    return _end_rows(session, org, list(rows.values()), day, reason, today)


def _end_rows(session: Session, org: Organisation, rows: list, day: dt.date, reason: str,
              today: dt.date) -> BulkResult:
    result = BulkResult()
    to_end = []
    for row in rows:
        if row.status == "ended" or row.ends_on is not None:
            result.skipped.append(row.id)
        else:
            to_end.append(row)
    too_early = sorted(r.id for r in to_end if r.starts_on > day)
    if too_early:
        raise DomainError("the end date is before the start of some memberships", field="end_date",
                          membership_ids=too_early[:100])
    values = {"ends_on": day, "end_reason": reason, "updated_at": utcnow()}
    if day <= today:
        values["status"] = "ended"  # with a later date the membership runs until then
    M = Membership.__table__
    for chunk in _chunks([r.id for r in to_end]):
        session.execute(sa.update(M).where(M.c.id.in_(chunk), M.c.ends_on.is_(None), M.c.status != "ended")
                        .values(**values))
    result.done = sorted(r.id for r in to_end)
    if result.done:
        _bulk_audit(session, org, "end", result.done, ends_on=day.isoformat(), end_reason=reason)
        # Loaded Membership objects must not keep the old values.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Membership) and obj.id in set(result.done):
                session.expire(obj)
        emit(session, "membership.ended", (
            {"membership_id": r.id, "person_id": r.person_id, "org_id": r.org_id, "type_id": r.type_id,
             "starts_on": r.starts_on.isoformat(), "ends_on": day.isoformat(),
             "status": "ended" if day <= today else r.status, "end_reason": reason} for r in to_end))
    return result


def end_filtered(session: Session, org: Organisation, filters: Mapping, end_date, reason: str,
                 today: dt.date | None = None, progress=None) -> BulkResult:
    """End every membership of a member-list filter, in chunks (the job behind "all results")."""
    today = today or dt.date.today()
    day, reason = _clean_end(end_date, reason)
    query = members_query(session, org, filters, today=today).query
    ids_query = sa.select(query.subquery().c.membership_id)
    ids = list(session.execute(ids_query).scalars())
    result = BulkResult()
    rows = _selected_rows(session, org, ids)
    ordered = [rows[i] for i in ids if i in rows]
    for number, chunk in enumerate(_chunks(ordered), start=1):
        part = _end_rows(session, org, chunk, day, reason, today)
        result.done += part.done
        result.skipped += part.skipped
        if progress is not None:
            progress(min(number * CHUNK, len(ordered)), len(ordered))
    return result


def change_type(session: Session, org: Organisation, membership_ids: Iterable[int], type_id,
                today: dt.date | None = None) -> BulkResult:
    """Give the selected memberships another type (one UPDATE), all or nothing."""
    today = today or dt.date.today()
    ids = _membership_ids(membership_ids)
    mtype = get_type(session, org, type_id)
    if not mtype.active:
        raise DomainError("this membership type is no longer in use", field="type_id")
    rows = _rows_or_404(session, org, ids)
    result = BulkResult()
    targets = []
    for row in rows.values():
        if row.type_id == mtype.id:
            result.skipped.append(row.id)
        else:
            targets.append(row)
    # The new type must not overlap another membership of that type of the same person and club.
    M = Membership
    clashes = []
    for chunk in _chunks(targets):
        pairs = {(r.person_id, r.org_id) for r in chunk}
        existing = session.execute(sa.select(M.person_id, M.org_id, M.starts_on, M.ends_on).where(
            M.type_id == mtype.id, M.person_id.in_({p for p, _ in pairs}))).all()
        by_pair: dict = {}
        for e in existing:
            by_pair.setdefault((e.person_id, e.org_id), []).append(e)
        for r in chunk:
            for e in by_pair.get((r.person_id, r.org_id), ()):
                if (e.ends_on is None or e.ends_on >= r.starts_on) and (r.ends_on is None or e.starts_on <= r.ends_on):
                    clashes.append(r.id)
    if clashes:
        raise Conflict("some members already have a membership of this type in that period", field="type_id",
                       membership_ids=sorted(clashes)[:100])
    age_problems = []
    persons = {}
    for chunk in _chunks(targets):
        persons.update({p.id: p for p in session.execute(
            sa.select(Person).where(Person.id.in_({r.person_id for r in chunk}))).scalars()})
    for r in targets:
        if check_age(mtype, persons[r.person_id].birth_date, r.starts_on if r.starts_on > today else today):
            age_problems.append(r.id)
    if age_problems:
        raise DomainError("some members are outside the age range of this type", field="type_id",
                          membership_ids=sorted(age_problems)[:100])
    now = utcnow()
    T = Membership.__table__
    for chunk in _chunks([r.id for r in targets]):
        session.execute(sa.update(T).where(T.c.id.in_(chunk)).values(type_id=mtype.id, updated_at=now),
                        execution_options={"synchronize_session": False})
    result.done = sorted(r.id for r in targets)
    if result.done:
        _bulk_audit(session, org, "change_type", result.done, type_id=mtype.id)
        done = set(result.done)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Membership) and obj.id in done:
                session.expire(obj)
        emit(session, "membership.changed", (
            {"membership_id": r.id, "person_id": r.person_id, "org_id": r.org_id, "type_id": mtype.id,
             "starts_on": r.starts_on.isoformat(), "ends_on": r.ends_on.isoformat() if r.ends_on else None,
             "status": r.status, "end_reason": None, "changes": {"type_id": [r.type_id, mtype.id]}}
            for r in targets))
    return result


def transfer(session: Session, org: Organisation, m: Membership, to_org: Organisation, on_date,
             type_id=None, today: dt.date | None = None) -> Membership:
    """Move a member to another club on `on_date`: the old membership ends the day before (reason
    "transfer"), a new one starts in `to_org` pointing back to it; both stay as history."""
    today = today or dt.date.today()
    day = _parse_date(on_date, "date")
    if to_org.id == m.org_id:
        raise DomainError("choose another club", field="to_org_id")
    if m.status == "ended" or (m.ends_on is not None and m.ends_on < day):
        raise Conflict("this membership has ended", field="membership_id")
    if day <= m.starts_on:
        raise DomainError("a transfer date is after the start of the membership", field="date")
    new_type = type_id if type_id not in (None, "") else m.type_id
    try:
        get_type(session, to_org, new_type)
    except DomainError:
        raise DomainError("this membership type does not apply in the new club; choose one that does",
                          field="type_id") from None
    old_end = m.ends_on
    m.ends_on = day - dt.timedelta(days=1)
    m.end_reason = "transfer"
    if m.ends_on <= today:
        m.status = "ended"
    session.flush()
    # A refusal here (overlap, age) leaves the caller to roll back the whole transfer.
    created = add_membership(session, to_org, m.person, {
        "type_id": new_type, "starts_on": day, "ends_on": old_end, "iban": m.iban,
        "transferred_from_id": m.id}, today=today, emit_event=False)
    emit(session, "membership.ended", [event_payload(m, transferred_to_org_id=to_org.id)])
    emit(session, "membership.started", [event_payload(created, transferred_from_org_id=m.org_id)])
    return created


def close_ended(session: Session, today: dt.date | None = None) -> int:
    """Set the stored status of memberships whose end date has passed (the daily job)."""
    today = today or dt.date.today()
    M = Membership.__table__
    result = session.execute(sa.update(M).where(M.c.status != "ended", M.c.ends_on < today)
                             .values(status="ended", updated_at=utcnow()))
    return result.rowcount or 0


def correct_person(session: Session, org: Organisation, person: Person, data: Mapping) -> Person:
    """Club admins may correct the name, first name and birth date of their members."""
    allowed = {k: v for k, v in data.items() if k in ("first_name", "last_name", "birth_date")}
    unknown = set(data) - set(allowed)
    if unknown:
        raise DomainError("only the name, first name and birth date can be corrected here",
                          errors={k: "cannot be changed here" for k in unknown})
    return people.update_person(session, org, person, allowed)


def member_person(session: Session, org: Organisation, person_id: int) -> Person:
    """A person with a membership in `org`'s subtree."""
    person = session.execute(sa.select(Person).where(Person.id == person_id, sa.exists(
        sa.select(Membership.id).where(Membership.person_id == Person.id, Membership.org_id.in_(subtree_ids(org)))
    ))).scalar_one_or_none()
    if person is None:
        raise NotFound("member not found")
    return person


# --- the member list -----------------------------------------------------------------------------------

LIST_STATUSES = ("current", "active", "pending", "ended", "all")
SORTS = {
    "name": ("last_name", "first_name"),
    "club": ("club", "last_name", "first_name"),
    "type": ("type", "last_name", "first_name"),
    "starts_on": ("starts_on", "last_name", "first_name"),
    "birth_date": ("birth_date", "last_name", "first_name"),
}
INT_FILTERS = ("type_id", "within", "season_id", "age_min", "age_max", "birth_year", "birthday_month")
TEXT_FILTERS = ("q", "status", "gender", "postal_code", "city", "sporting", "started_from", "started_to", "sort")
FILTER_KEYS = INT_FILTERS + TEXT_FILTERS


def clean_filters(raw: Mapping) -> dict:
    """Only the member-list filter keys (and `cf.<key>`), without empty values: what a saved filter stores."""
    return {k: str(v).strip() for k, v in raw.items()
            if (k in FILTER_KEYS or k.startswith("cf.")) and v is not None and str(v).strip() != ""}


@dataclass
class MemberQuery:
    query: Any  # select of (Membership, Person, club name, type name) rows
    count: Any  # select count(*) with the same filters
    filters: dict
    club: Any = None  # the aliased club organisation of `query`
    page_ids: Any = None  # select of the membership ids of `query`, in its order (what a page is cut from)
    rows: Any = None  # `query`'s columns and joins without filters or order (a page joins its ids to it)
    order: tuple = ()  # `query`'s ORDER BY clauses


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def members_query(session: Session, org: Organisation, raw: Mapping, today: dt.date | None = None) -> MemberQuery:
    """The member list of `org` (a club, or everything below a federation or region), filtered.

    Filters (strings, as from a query string): q, status (current | active | pending | ended | all,
    default current), type_id, sporting (true/false), within (an organisation below `org`: a region
    or club), season_id (memberships during that season), gender, age_min, age_max, birth_year,
    birthday_month, postal_code, city, started_from, started_to, cf.<custom field key>, sort.
    Raises DomainError naming each bad filter."""
    today = today or dt.date.today()
    filters = clean_filters(raw)
    errors: dict[str, str] = {}
    ints: dict[str, int] = {}
    for key in INT_FILTERS:
        if key in filters:
            try:
                ints[key] = int(filters[key])
            except ValueError:
                errors[key] = "enter a number"
    M, P = Membership, Person
    club = _club
    conditions = []
    person_conditions = []
    scope = org
    if "within" in ints and ints["within"] != org.id:
        sub = session.get(Organisation, ints["within"])
        if sub is None or not in_subtree(org, sub):
            errors["within"] = "not an organisation below this one"
        else:
            scope = sub
    conditions.append(M.org_id.in_(subtree_ids(scope)))
    status = filters.get("status", "current")
    if status not in LIST_STATUSES:
        errors["status"] = f"one of {', '.join(LIST_STATUSES)}"
    else:
        conditions.append(status_condition(status, today))
    if "type_id" in ints:
        conditions.append(M.type_id == ints["type_id"])
    if "sporting" in filters:
        word = filters["sporting"].lower()
        if word not in ("true", "false", "1", "0", "yes", "no"):
            errors["sporting"] = "yes or no (true/false)"
        else:
            sporting = word in ("true", "1", "yes")
            conditions.append(M.type_id.in_(sa.select(_types.c.id).where(_types.c.sporting.is_(sporting))))
    if "season_id" in ints:
        try:
            season = get_season(session, org, ints["season_id"])
            conditions.append(sa.and_(M.starts_on <= season.ends_on,
                                      sa.or_(M.ends_on.is_(None), M.ends_on >= season.starts_on)))
        except DomainError as exc:
            errors["season_id"] = exc.message
    for key, op in (("started_from", "ge"), ("started_to", "le")):
        if key in filters:
            try:
                day = dt.date.fromisoformat(filters[key])
                conditions.append(M.starts_on >= day if op == "ge" else M.starts_on <= day)
            except ValueError:
                errors[key] = "not a valid date (YYYY-MM-DD)"
    # Name, birth date and search text have copies on the membership (see Membership.person_search_text):
    # filtering on those needs no person row; the other person filters join it.
    if filters.get("q"):
        conditions.append(people.text_search(filters["q"], M.person_search_text))
    if "gender" in filters:
        gender = filters["gender"].upper()
        if gender not in people.GENDERS:
            errors["gender"] = "gender must be M, F or X"
        person_conditions.append(P.gender == gender)
    if "birth_year" in ints:
        year = ints["birth_year"]
        if not 1900 <= year <= 2100:
            errors["birth_year"] = "a year between 1900 and 2100"
        else:
            conditions.append(M.person_birth_date.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
    if "age_min" in ints:
        if not 0 <= ints["age_min"] <= 150:
            errors["age_min"] = "an age is between 0 and 150"
        else:
            conditions.append(M.person_birth_date <= _years_before(today, ints["age_min"]))
    if "age_max" in ints:
        if not 0 <= ints["age_max"] <= 150:
            errors["age_max"] = "an age is between 0 and 150"
        else:
            conditions.append(M.person_birth_date > _years_before(today, ints["age_max"] + 1))
    if "birthday_month" in ints:
        if not 1 <= ints["birthday_month"] <= 12:
            errors["birthday_month"] = "a month is 1 to 12"
        else:
            conditions.append(sa.extract("month", M.person_birth_date) == ints["birthday_month"])
    if "postal_code" in filters:
        person_conditions.append(P.postal_code == filters["postal_code"])
    if "city" in filters:
        person_conditions.append(sa.func.lower(P.city) == filters["city"].lower())
    custom = {k[3:]: v for k, v in filters.items() if k.startswith("cf.")}
    if custom:
        fields = cf.fields_by_key(session, scope)
        for key, value in custom.items():
            fdef = fields.get(key)
            if fdef is None:
                errors[f"cf.{key}"] = "unknown custom field"
                continue
            try:
                person_conditions.append(cf.filter_condition(fdef, value))
            except ValueError as exc:
                errors[f"cf.{key}"] = str(exc)
    sort = filters.get("sort", "name")
    descending = sort.startswith("-")
    if sort.lstrip("-") not in SORTS:
        errors["sort"] = f"sort by one of: {', '.join(SORTS)} (prefix - for descending)"
    _errors(errors, "invalid filter")
    columns = {"last_name": M.person_last_name, "first_name": M.person_first_name, "birth_date": M.person_birth_date,
               "starts_on": M.starts_on, "club": club.name, "type": _types.c.name}
    order = [columns[c] for c in SORTS[sort.lstrip("-")]] + [M.id]
    if filters.get("q"):
        # Matches of a name search sit together in name order; walking the name index to find them
        # reads most of the table, so sort the (few) trigram matches instead.
        order = [sa.func.lower(c) if c in (M.person_last_name, M.person_first_name) else c for c in order]
    order = [c.desc() if descending else c.asc() for c in order]
    # Outer joins (memberships always have a club and a type): PostgreSQL drops them where unused.
    rows = (sa.select(M.id.label("membership_id"), M, P, club.name.label("club_name"),
                      _types.c.name.label("type_name"))
            .join(P, P.id == M.person_id)
            .outerjoin(club, club.id == M.org_id)
            .outerjoin(_types, _types.c.id == M.type_id))
    query = rows.where(*conditions, *person_conditions).order_by(*order)
    # The ids and the count read the person only for the filters the membership holds no copy of (an inner
    # join is never dropped, even when unused).
    page_ids = (sa.select(M.id).select_from(M).outerjoin(club, club.id == M.org_id)
                .outerjoin(_types, _types.c.id == M.type_id))
    count = sa.select(sa.func.count(M.id)).select_from(M)
    if person_conditions:
        page_ids = page_ids.join(P, P.id == M.person_id)
        count = count.join(P, P.id == M.person_id)
    page_ids = page_ids.where(*conditions, *person_conditions).order_by(*order)
    count = count.where(*conditions, *person_conditions)
    # Both already keep to the subtree of `scope` (inside the request's organisation): without the option the
    # session's scope criteria would test every membership's organisation a second time.
    page_ids, count = page_ids.execution_options(**UNSCOPED), count.execution_options(**UNSCOPED)
    return MemberQuery(query=query, count=count, filters=filters, club=club, page_ids=page_ids, rows=rows,
                       order=tuple(order))


def member_page(session: Session, mq: MemberQuery, page: int, page_size: int) -> dict:
    """One page and the total, in one statement: the page's membership ids come from a narrow subquery
    (sorting few columns of thousands of matches is cheap), the outer query loads just their rows. With a text
    search the total comes with the ids (`count(*) OVER ()`), so the search runs once; without one a plain
    count is cheaper than counting inside a query that could stop early."""
    searching = bool(mq.filters.get("q"))
    ids = mq.page_ids.limit(page_size).offset((page - 1) * page_size)
    if searching:
        ids = ids.add_columns(sa.func.count().over().label("total"))
    ids = ids.subquery("page")
    statement = mq.rows.join(ids, ids.c.id == Membership.id).order_by(*mq.order)
    if searching:
        statement = statement.add_columns(ids.c.total)
    # The ids keep to the subtree already (see members_query).
    items = session.execute(statement, execution_options=UNSCOPED).all()
    total = items[0].total if searching and items else session.scalar(mq.count)
    return {"items": items, "total": total, "page": page, "page_size": page_size}


def selected_ids(session: Session, mq: MemberQuery) -> list[int]:
    return list(session.execute(sa.select(mq.query.subquery().c.membership_id)).scalars())


# --- saved filters -------------------------------------------------------------------------------------

def saved_filters(session: Session, org: Organisation) -> list[SavedFilter]:
    return list(session.execute(sa.select(SavedFilter).where(SavedFilter.org_id == org.id)
                                .order_by(SavedFilter.name)).scalars())


def save_filter(session: Session, org: Organisation, name: str, raw: Mapping, user_id: int | None) -> SavedFilter:
    name = (name or "").strip()
    if not name:
        raise DomainError("give the filter a name", field="name")
    if len(name) > 100:
        raise DomainError("at most 100 characters", field="name")
    filters = clean_filters(raw)
    filters.pop("page", None)
    members_query(session, org, filters)  # refuses a filter that would not run
    existing = session.execute(sa.select(SavedFilter).where(SavedFilter.org_id == org.id,
                                                            SavedFilter.name == name)).scalar_one_or_none()
    if existing is not None:
        existing.query = filters
        session.flush()
        return existing
    saved = SavedFilter(org_id=org.id, name=name, query=filters, created_by_id=user_id)
    session.add(saved)
    session.flush()
    return saved


def delete_filter(session: Session, org: Organisation, filter_id: int) -> None:
    saved = session.execute(sa.select(SavedFilter).where(SavedFilter.id == filter_id,
                                                         SavedFilter.org_id == org.id)).scalar_one_or_none()
    if saved is None:
        raise NotFound("saved filter not found")
    session.delete(saved)
    session.flush()


# --- person page, export, erase --------------------------------------------------------------------------

def memberships_of(session: Session, org: Organisation, person_id: int) -> list[tuple[Membership, str, str]]:
    """(membership, club name, type name) of a person within `org`'s subtree, newest first."""
    rows = session.execute(
        sa.select(Membership, Organisation.name, MembershipType.name)
        .join(Organisation, Organisation.id == Membership.org_id)
        .join(MembershipType, MembershipType.id == Membership.type_id)
        .where(Membership.person_id == person_id, Membership.org_id.in_(subtree_ids(org)))
        .order_by(Membership.starts_on.desc(), Membership.id.desc()),
        execution_options=UNSCOPED).all()
    return [(m, club, tname) for m, club, tname in rows]


def export_person(session: Session, org: Organisation, person: Person) -> dict:
    return {"memberships": [
        {"id": m.id, "club": club, "type": tname, "starts_on": m.starts_on.isoformat(),
         "ends_on": m.ends_on.isoformat() if m.ends_on else None, "status": m.status, "end_reason": m.end_reason,
         "iban": m.iban}
        for m, club, tname in memberships_of(session, org, person.id)]}


def erase_person(session: Session, org: Organisation, person: Person) -> dict:
    """Bank accounts and free-text end reasons go; the membership periods and types stay, because a
    federation must prove its affiliated (sporting) members for its recognition and subsidies."""
    M = Membership.__table__
    result = session.execute(sa.update(M).where(M.c.person_id == person.id, M.c.org_id.in_(subtree_ids(org)))
                             .values(iban=None, end_reason=sa.case((M.c.end_reason.is_(None), None), else_="erased")))
    return {"memberships": "kept: periods and types (proof of affiliation for the federation's subsidies)",
            "iban": "deleted", "end_reason": "deleted", "rows": result.rowcount or 0}


# --- federation overview and clean-up ----------------------------------------------------------------------

def overview(session: Session, org: Organisation, season: Season | None, today: dt.date | None = None) -> dict:
    """Counts of current members per club, region and type, members per season, and the clean-up state."""
    today = today or dt.date.today()
    M = Membership
    club = sa.orm.aliased(Organisation, name="club")
    parent = sa.orm.aliased(Organisation, name="parent")
    current = sa.and_(M.org_id.in_(subtree_ids(org)), status_condition("current", today))
    per_club = session.execute(
        sa.select(club.id, club.name, parent.name, sa.func.count(M.id))
        .join(club, club.id == M.org_id).outerjoin(parent, parent.id == club.parent_id)
        .where(current).group_by(club.id, club.name, parent.name).order_by(club.name)).all()
    per_region: dict[str, int] = {}
    for _, _, region, count in per_club:
        per_region[region or "—"] = per_region.get(region or "—", 0) + count
    per_type = session.execute(
        sa.select(_types.c.name, _types.c.sporting, sa.func.count(M.id))
        .join(_types, _types.c.id == M.type_id).where(current)
        .group_by(_types.c.name, _types.c.sporting).order_by(_types.c.name)).all()
    per_season = []
    for s in seasons_of(session, org):
        count = session.scalar(sa.select(sa.func.count(M.id)).where(
            M.org_id.in_(subtree_ids(org)), M.status != "pending", M.starts_on <= s.ends_on,
            sa.or_(M.ends_on.is_(None), M.ends_on >= s.starts_on)))
        per_season.append({"season_id": s.id, "name": s.name, "members": count})
    return {
        "total": sum(c for *_, c in per_club),
        "per_club": [{"org_id": i, "name": n, "region": r, "members": c} for i, n, r, c in per_club],
        "per_region": [{"name": n, "members": c} for n, c in sorted(per_region.items())],
        "per_type": [{"name": n, "sporting": s, "members": c} for n, s, c in per_type],
        "per_season": per_season,
        "cleanup": cleanup_state(session, org, season) if season else None,
    }


def clubs_below(session: Session, org: Organisation) -> list[Organisation]:
    return list(session.execute(sa.select(Organisation).where(
        Organisation.path.like(org.path + "%"), Organisation.kind == "club").order_by(Organisation.name)).scalars())


def cleanup_state(session: Session, org: Organisation, season: Season) -> dict:
    """Which clubs below `org` confirmed their clean-up for `season`, and which still have to."""
    done = dict(session.execute(sa.select(Cleanup.org_id, Cleanup.created_at).where(Cleanup.season_id == season.id),
                                execution_options=UNSCOPED).all())
    clubs = clubs_below(session, org)
    return {
        "season_id": season.id, "season": season.name,
        "deadline": season.cleanup_deadline.isoformat() if season.cleanup_deadline else None,
        "done": [{"org_id": c.id, "name": c.name, "at": done[c.id].isoformat()} for c in clubs if c.id in done],
        "pending": [{"org_id": c.id, "name": c.name} for c in clubs if c.id not in done],
    }


def confirm_cleanup(session: Session, club: Organisation, user_id: int | None, today: dt.date | None = None) -> Cleanup:
    season = current_season(session, club, today)
    if season is None:
        raise DomainError("no season is running; the federation sets up seasons first", field="season_id")
    existing = session.execute(sa.select(Cleanup).where(Cleanup.org_id == club.id, Cleanup.season_id == season.id),
                               execution_options=UNSCOPED).scalar_one_or_none()
    if existing is not None:
        return existing
    done = Cleanup(org_id=club.id, season_id=season.id, done_by_id=user_id)
    session.add(done)
    session.flush()
    return done


def contact_people(session: Session, club_ids: list[int], roles: tuple[str, ...] = ("club_contact",)
                   ) -> list[tuple[int, User]]:
    """(club id, user) of the contact person of each club (or of whoever holds one of `roles` there)."""
    return [(org_id, user) for org_id, user in session.execute(
        sa.select(RoleAssignment.org_id, User).join(User, User.id == RoleAssignment.user_id)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(Role.key.in_(roles), RoleAssignment.org_id.in_(club_ids), User.is_active.is_(True))
        .order_by(User.email)).all()]


def record_export(session: Session, org: Organisation, what: str, count: int, filters: Mapping) -> None:
    """One audit entry for a list of personal data leaving the platform (Excel, PDF, e-mail list)."""
    from core.audit import _actor

    user_id, _, ip = _actor(session)
    session.add(AuditLog(user_id=user_id, org_id=org.id, action="export", entity_type="membership_list",
                         ip=ip, at=utcnow(), changes={"format": what, "rows": count, "filters": dict(filters)}))


def member_app_items(session: Session, org: Organisation, person: Person) -> list:
    """`mobile_api.feed.FeedItem`s (kind "membership") for the person's memberships in `org` itself."""
    from mobile_api.feed import FeedItem

    rows = session.execute(
        sa.select(Membership, _types.c.name, _types.c.price)
        .join(_types, _types.c.id == Membership.type_id)
        .where(Membership.org_id == org.id, Membership.person_id == person.id)
        .order_by(Membership.starts_on.desc()),
        execution_options={"federa_unscoped": True},  # the type may belong to the federation above
    ).all()
    items = []
    for membership, type_name, price in rows:
        status = effective_status(membership)
        period = membership.starts_on.strftime("%d/%m/%Y") + (
            f" – {membership.ends_on.strftime('%d/%m/%Y')}" if membership.ends_on else "")
        items.append(FeedItem(kind="membership", id=str(membership.id), plugin="membership", title=type_name,
                              summary=period, status=status, amount=price, in_feed=False))
    return items
