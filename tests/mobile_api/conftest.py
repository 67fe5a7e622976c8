"""An app with the member-app test plugin, and a member of a club whose package enables it."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.db import db
from core.models import Organisation, Person, User
from tests.conftest import _clean
from tests.factories import Factory
from tests.mobile_api.feed_plugin import FeedTestPlugin


@pytest.fixture(scope="session")
def mobile_app(make_app):
    return make_app(plugins=[FeedTestPlugin])


@pytest.fixture
def mctx(mobile_app):
    _clean(mobile_app)
    mobile_app.extensions["federa"].plugins["feedtest"].calls.clear()
    with mobile_app.app_context():
        yield mobile_app
        db.session.remove()


@pytest.fixture
def mmake(mctx) -> Factory:
    return Factory(db.session)


@pytest.fixture
def mclient(mctx):
    return mctx.test_client()


@dataclass
class World:
    federation: Organisation
    club: Organisation
    other_club: Organisation
    member: User
    other: User
    headers: dict
    other_headers: dict

    @property
    def person(self) -> Person:
        return self.member.person


@pytest.fixture
def world(mmake) -> World:
    """A federation with two clubs; the first club's package has the feed module; a member in each club."""
    federation = mmake.federation("Volleybal Vlaanderen")
    club = mmake.club(federation, "VC Gent")
    other_club = mmake.club(federation, "VC Brugge")
    mmake.subscribe(club, mmake.package("app", ["feedtest"]))
    member = mmake.user("lid@example.org", role="member", org=club)
    other = mmake.user("ander@example.org", role="member", org=other_club)
    return World(federation, club, other_club, member, other, mmake.headers(member), mmake.headers(other))
