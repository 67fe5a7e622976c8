"""Fixtures of the billing tests: a federation with a region and two clubs (addresses, IBANs, KBO
numbers), billing on everywhere, a season and membership types, admins and a fake Mollie."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from core.db import db
from plugins.billing.delivery import MolliePayment
from plugins.membership.models import MembershipType, Season
from tests.plugins.membership.conftest import add_member, enable

TODAY = dt.date.today()
ADDRESS = {"street": "Kerkstraat 1", "postal_code": "9000", "city": "Gent"}


class FakeMollie:
    """Stands in for the Mollie API: remembers created payments; tests set their status."""

    def __init__(self):
        self.payments: dict[str, MolliePayment] = {}
        self.fetched: list[str] = []

    def create_payment(self, api_key, amount, description, redirect_url, webhook_url, metadata):
        pid = f"tr_test{len(self.payments) + 1}"
        self.payments[pid] = MolliePayment(pid, "open", Decimal(amount), "EUR", dict(metadata),
                                           f"https://mollie.test/checkout/{pid}")
        return self.payments[pid]

    def get_payment(self, api_key, payment_id):
        self.fetched.append(payment_id)
        return self.payments[payment_id]

    def set_status(self, pid, status, **changes):
        p = self.payments[pid]
        self.payments[pid] = MolliePayment(changes.get("id", p.id), status, changes.get("amount", p.amount),
                                           p.currency, changes.get("metadata", p.metadata), p.checkout_url)


def build_world(make):
    w = SimpleNamespace()
    w.fed = make.federation("Sportfederatie", kbo_number="0403170701", iban="BE71096123456769",
                            bic="BBRUBEBB", email="fed@example.org", **ADDRESS)
    w.region = make.region(w.fed, "Regio Oost")
    w.club_a = make.club(w.region, "SK Gent", kbo_number="0202239951", iban="BE43068999999501",
                         email="club-a@example.org", **ADDRESS)
    w.club_b = make.club(w.region, "SK Brugge", iban="BE62510007547061", **ADDRESS)
    w.other_fed = make.federation("Andere federatie")
    w.other_club = make.club(w.other_fed, "Club Elders", iban="BE71096123456769", **ADDRESS)
    enable(w.fed, w.region, w.club_a, w.club_b, w.other_fed, w.other_club)
    enable(w.fed, w.region, w.club_a, w.club_b, w.other_fed, w.other_club, plugin="billing")
    w.adult = MembershipType(org_id=w.fed.id, name="Volwassene", price=Decimal("30.00"), sporting=True)
    w.youth = MembershipType(org_id=w.fed.id, name="Jeugd", price=Decimal("15.00"), sporting=True)
    w.supporter = MembershipType(org_id=w.club_a.id, name="Steunend lid", price=Decimal("10.00"), sporting=False)
    w.season = Season(org_id=w.fed.id, name="2025-2026", starts_on=TODAY - dt.timedelta(days=100),
                      ends_on=TODAY + dt.timedelta(days=200))
    db.session.add_all([w.adult, w.youth, w.supporter, w.season])
    db.session.commit()
    w.admin_a = make.headers(make.user("admin-a@example.org", role="club_admin", org=w.club_a))
    w.admin_b = make.headers(make.user("admin-b@example.org", role="club_admin", org=w.club_b))
    w.secretariat = make.headers(make.user("sec@example.org", role="federation_secretariat", org=w.fed))
    w.member_a = make.headers(make.user("lid-a@example.org", role="member", org=w.club_a))
    w.jan, w.jan_m = add_member(w.club_a, w.adult, "Jan", "Peeters", email="jan@example.org", **{
        "street": "Dorpstraat", "house_number": "5", "postal_code": "9000", "city": "Gent"})
    return w


@pytest.fixture
def world(make, ctx):
    yield build_world(make)
    # Deliveries run in the background: let them finish before the next test empties the tables.
    ctx.extensions["federa"].jobs.join()


@pytest.fixture
def mollie(ctx):
    fake = FakeMollie()
    ctx.extensions.setdefault("billing", {})["mollie"] = fake
    yield fake
    ctx.extensions["billing"].pop("mollie", None)


def api(org, *parts) -> str:
    return "/".join([f"/api/v1/orgs/{org.id}/billing", *map(str, parts)])


def manual(person=None, org=None, lines=None, **extra) -> dict:
    body = {"lines": lines or [{"description": "T-shirt", "quantity": "2", "unit_price": "12.50",
                                "vat_category": "S", "vat_rate": "21"}], **extra}
    if person is not None:
        body["recipient_person_id"] = person.id
    if org is not None:
        body["recipient_org_id"] = org.id
    return body


def jobs_done():
    from flask import current_app

    current_app.extensions["federa"].jobs.join()
