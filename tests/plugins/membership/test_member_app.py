"""Members see their own memberships in the member app (GET /api/v1/me/memberships), nobody else's."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from core.db import db
from core.models import User
from plugins.membership.models import Membership
from tests.plugins.membership.conftest import add_member


def test_member_sees_own_memberships_only(client, world):
    member = db.session.execute(sa.select(User).where(User.email == "lid-a@example.org")).scalar_one()
    db.session.add(Membership(org_id=world.club_a.id, person_id=member.person_id, type_id=world.adult.id,
                              starts_on=dt.date(2021, 9, 1), status="active"))
    db.session.commit()
    add_member(world.club_a, world.youth, first="Ander", last="Lid")  # someone else in the same club
    response = client.get("/api/v1/me/memberships", headers=world.member_a)
    assert response.status_code == 200, response.json
    items = [i for i in response.json["items"] if i["kind"] == "membership"]
    assert [(i["title"], i["status"], i["org_name"]) for i in items] == [("Volwassene", "active", "SK Gent")]
    assert items[0]["summary"].startswith("01/09/2021")
