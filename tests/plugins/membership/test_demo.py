"""The membership plugin's demo data: a season, federation-wide types and running memberships for the clubs
that have the module — and nothing twice."""
from __future__ import annotations

import sqlalchemy as sa

from core.db import db
from core.demo import load_demo_data
from core.gates import enabled_modules
from core.models import Organisation
from plugins.membership.models import Application, Membership, MembershipType, Season


def test_demo_members_have_memberships_in_clubs_with_the_module(ctx):
    summary = load_demo_data(people=200)
    assert "memberships" in summary
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Season)) == 1
    assert {t.name for t in db.session.execute(sa.select(MembershipType)).scalars()} == {"Jeugd", "Competitie",
                                                                                        "Recreant"}
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Membership))
    assert count > 100
    clubs_with = set(db.session.execute(sa.select(Membership.org_id).distinct()).scalars())
    for club in db.session.execute(sa.select(Organisation).where(Organisation.id.in_(clubs_with))).scalars():
        with ctx.test_request_context():
            assert "membership" in enabled_modules(club)
    load_demo_data(people=200)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership)) == count, "idempotent"


def test_the_demo_club_takes_applications(ctx, client):
    load_demo_data(people=200)
    load_demo_data(people=200)
    (club_id,) = set(db.session.execute(sa.select(Application.org_id)).scalars())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Application)) == 3
    club = db.session.get(Organisation, club_id)
    assert club.name == "Volleybalclub Antwerpen"
    assert "Volleybalclub Antwerpen" in client.get(f"/join/{club_id}/").get_data(as_text=True)
    # One applicant is someone the platform knows: the admin is shown the match.
    from plugins.membership import applications

    known = [a for a in db.session.execute(sa.select(Application)).scalars()
             if applications.matches(db.session, club, a)]
    assert len(known) == 1
