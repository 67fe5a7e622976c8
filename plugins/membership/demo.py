"""Demo data of the membership plugin: the current season, three federation-wide types, a running
membership for every person linked to a club that has the module, and the open sign-up form of the demo
club admin's club with three applications (one of a person the platform already knows). Idempotent."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Organisation, Person, PersonOrganisation
from core.modules import compute_enabled
from plugins.membership.models import Application, Membership, MembershipType, Season

TYPES = [  # name, price, min age, max age
    ("Jeugd", Decimal("80.00"), None, 17),
    ("Competitie", Decimal("120.00"), 16, None),
    ("Recreant", Decimal("60.00"), None, None),
]


def season_bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    """A sports season runs from 1 September to 31 August."""
    start_year = today.year if today.month >= 9 else today.year - 1
    return dt.date(start_year, 9, 1), dt.date(start_year + 1, 8, 31)


def load(session: Session, federation: Organisation, registry) -> str | None:
    today = dt.date.today()
    starts, ends = season_bounds(today)
    created = 0
    if not session.scalar(sa.select(sa.func.count()).select_from(Season).where(Season.org_id == federation.id)):
        session.add(Season(org_id=federation.id, name=f"{starts.year}-{ends.year}", starts_on=starts, ends_on=ends,
                           cleanup_deadline=dt.date(ends.year, 4, 1)))
    types = {t.name: t for t in session.execute(
        sa.select(MembershipType).where(MembershipType.org_id == federation.id)).scalars()}
    for name, price, min_age, max_age in TYPES:
        if name not in types:
            types[name] = MembershipType(org_id=federation.id, name=name, price=price, min_age=min_age,
                                         max_age=max_age, sporting=name != "Recreant")
            session.add(types[name])
    session.flush()
    clubs = session.execute(sa.select(Organisation).where(
        Organisation.path.startswith(federation.path), Organisation.kind == "club")).scalars().all()
    for club in clubs:
        if "membership" not in compute_enabled(session, registry, club):
            continue
        have = set(session.execute(sa.select(Membership.person_id).where(Membership.org_id == club.id)).scalars())
        links = session.execute(
            sa.select(PersonOrganisation.person_id, Person.birth_date)
            .join(Person, Person.id == PersonOrganisation.person_id)
            .where(PersonOrganisation.org_id == club.id, PersonOrganisation.relation == "member")
        ).all()
        rows = []
        for person_id, birth_date in links:
            if person_id in have:
                continue
            age = (today - birth_date).days // 365 if birth_date else 30
            kind = "Jeugd" if age < 16 else ("Competitie" if person_id % 3 else "Recreant")
            joined = max(dt.date(2015, 9, 1), starts - dt.timedelta(days=365 * (person_id % 6)))
            rows.append({"org_id": club.id, "person_id": person_id, "type_id": types[kind].id, "starts_on": joined,
                         "status": "active", "created_at": utcnow(), "updated_at": utcnow()})
        if rows:
            # Bulk insert: thousands of rows in one statement (demo data only; no events, no audit rows).
            session.execute(sa.insert(Membership), rows)
            created += len(rows)
    applied = _load_applications(session, federation, types)
    parts = [f"{created} memberships" if created else "", f"{applied} applications" if applied else ""]
    return ", ".join(p for p in parts if p) or None


def _load_applications(session: Session, federation: Organisation, types: dict) -> int:
    from flask import current_app

    from core.demo import FIRST_CLUB, SECOND_CLUB, club_specs
    from core.settings import get_setting, set_setting

    specs = club_specs()
    by_name = {o.name: o for o in session.execute(sa.select(Organisation).where(
        Organisation.path.startswith(federation.path), Organisation.kind == "club")).scalars()}
    club, other = by_name.get(specs[FIRST_CLUB].name), by_name.get(specs[SECOND_CLUB].name)
    if club is None or other is None:
        return 0
    registry = current_app.extensions["federa"].settings
    if not get_setting(session, registry, club, "membership.signup_open"):
        set_setting(session, registry, club, "membership.signup_open", True)
        set_setting(session, registry, club, "membership.signup_intro",
                    "Welkom! Vul het formulier in, dan nemen we contact op voor een gratis proeftraining.")
    # Someone the platform knows from another club: the admin sees the match when accepting.
    known = session.execute(
        sa.select(Person).join(PersonOrganisation, PersonOrganisation.person_id == Person.id)
        .where(PersonOrganisation.org_id == other.id, Person.birth_date < dt.date(2000, 1, 1))
        .order_by(Person.id).limit(1)).scalar_one_or_none()
    applicants = [
        ("Lotte", "Vermeulen", dt.date(2012, 5, 14), "lotte.vermeulen@example.be", "Jeugd",
         "Ik speel al twee jaar volleybal op school."),
        ("Bart", "Hermans", dt.date(1992, 10, 3), "bart.hermans@example.be", "Competitie", None),
    ]
    if known is not None:
        applicants.append((known.first_name, known.last_name, known.birth_date, "nieuw.adres@example.be", "Recreant",
                           "Ik verhuis naar Antwerpen."))
    have = set(session.execute(sa.select(Application.email).where(Application.org_id == club.id)).scalars())
    created = 0
    for number, (first, last, birth, email, kind, remarks) in enumerate(applicants):
        if email in have:
            continue
        sent = utcnow() - dt.timedelta(days=3 - number)
        session.add(Application(org_id=club.id, status="new", first_name=first, last_name=last, birth_date=birth,
                                email=email, type_id=types[kind].id, remarks=remarks, preferred_language="nl",
                                postal_code="2000", city="Antwerpen", consent_at=sent, created_at=sent,
                                updated_at=sent))
        created += 1
    session.flush()
    return created
