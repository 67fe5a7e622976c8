"""A club's sign-up form in a real browser: someone applies on their phone, the club admin finds the
application on the dashboard and accepts it, and the applicant is a member."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import current_app

from core.db import db
from core.models import ModuleOverride, Person
from core.settings import set_setting
from plugins.membership.models import Application, Membership, MembershipType
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def club(make):
    fed = make.federation("Vlaamse Sportfederatie")
    club = make.club(make.region(fed, "Regio Gent"), "KSV Deinze")
    for org in (fed, club):
        db.session.add(ModuleOverride(org_id=org.id, plugin="membership", enabled=True))
    db.session.add_all([MembershipType(org_id=fed.id, name="Jeugd", price=Decimal("80"), max_age=17),
                        MembershipType(org_id=fed.id, name="Recreant", price=Decimal("60"))])
    set_setting(db.session, current_app.extensions["federa"].settings, club, "membership.signup_open", True)
    make.user("contact@ksvdeinze.be", role="club_contact", org=club)
    db.session.commit()
    return club


def test_someone_applies_on_a_phone_and_the_club_accepts(browser, live_server, page, club):
    phone = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844}, locale="nl-BE",
                                is_mobile=True, has_touch=True)
    applicant = phone.new_page()
    applicant.goto(f"/join/{club.id}/")
    assert "Become a member of KSV Deinze" in applicant.locator("h1").inner_text()
    assert applicant.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
    applicant.fill("input[name=first_name]", "Mila")
    applicant.fill("input[name=last_name]", "De Clercq")
    applicant.fill("input[name=birth_date]", "2014-03-09")
    applicant.fill("input[name=email]", "mila.declercq@example.be")
    applicant.select_option("select[name=type_id]", label="Recreant (€ 60.00)")
    applicant.click("button[type=submit]")
    # Forgot the consent: told so, and what was typed is still there.
    applicant.wait_for_selector(".field-error")
    assert applicant.locator("input[name=first_name]").input_value() == "Mila"
    applicant.check("input[name=consent]")
    applicant.select_option("select[name=type_id]", label="Jeugd (€ 80.00)")
    applicant.click("button[type=submit]")
    applicant.wait_for_url(re.compile(r"/sent"))
    assert "Thank you" in applicant.locator("h1").inner_text()
    phone.close()

    log_in(page, "contact@ksvdeinze.be")
    page.goto(f"/o/{club.id}/")
    page.get_by_role("link", name=re.compile("Look at them")).click()
    page.get_by_role("link", name=re.compile("Mila De Clercq")).click()
    assert "2014" in page.locator("main").inner_text()
    page.get_by_role("button", name=re.compile("Accept and add")).click()
    page.wait_for_url(re.compile(rf"/o/{club.id}/people/\d+"))
    assert "Mila" in page.locator("main h1").inner_text()

    person = db.session.execute(sa.select(Person).where(Person.first_name == "Mila")).scalar_one()
    membership = db.session.execute(sa.select(Membership).where(Membership.person_id == person.id)).scalar_one()
    assert (membership.org_id, membership.status) == (club.id, "active")
    assert db.session.execute(sa.select(Application.status)).scalar_one() == "accepted"
