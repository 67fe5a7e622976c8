"""Demo data of the membership plugin: the current season, three federation-wide types and a running
membership for every person linked to a club that has the module. Idempotent."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Organisation, Person, PersonOrganisation
from core.modules import compute_enabled
from plugins.membership.models import Membership, MembershipType, Season

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
    return f"{created} memberships" if created else None
