"""Fixtures of the documents tests: the membership world with the documents module on, and members."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from core.db import db
from tests.plugins.membership.conftest import NN_1985, NN_1990, add_member, build_world, enable


def build_docs_world(make) -> SimpleNamespace:
    w = build_world(make)
    enable(w.fed, w.region, w.club_a, w.club_b, w.other_fed, w.other_club, plugin="documents")
    w.club_a.kbo_number = "0123456749"
    db.session.commit()
    w.an, w.m_an = add_member(w.club_a, w.adult, "An", "Peeters", dt.date(1990, 2, 1), national_number=NN_1990,
                              street="Kerkstraat", house_number="1", postal_code="9000", city="Gent")
    w.jan, w.m_jan = add_member(w.club_a, w.adult, "Jan", "Janssens", dt.date(1985, 7, 30), national_number=NN_1985)
    w.bert, _ = add_member(w.club_b, w.adult, "Bert", "Brugs")
    w.stranger, _ = add_member(w.other_club, w.foreign, "Vreemde", "Eend")
    w.an_user = make.user("an@example.org", role="member", org=w.club_a, person=w.an)
    w.an_headers = make.headers(w.an_user)
    w.jan_headers = make.headers(make.user("jan@example.org", role="member", org=w.club_a, person=w.jan))
    return w


@pytest.fixture
def world(make):
    return build_docs_world(make)


def api(org, *parts) -> str:
    return "/".join([f"/api/v1/orgs/{org.id}/documents", *map(str, parts)])


def run_jobs(app) -> None:
    app.extensions["federa"].jobs.join()


@pytest.fixture(scope="session")
def app(make_app):
    """Only the plugins documents needs, so this suite does not depend on unrelated modules."""
    return make_app(PLUGINS=["membership", "billing", "documents", "mobile_api"])
