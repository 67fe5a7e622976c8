"""The admin shell in a real browser: log in, switch organisation, find and open a person; layout on a phone."""
from __future__ import annotations

import re

import pytest

from core.db import db
from core.services.users import assign_role, builtin_role
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_clubs(make):
    """A club admin of two clubs; the person to find is in the second club only."""
    fed = make.federation("Vlaamse Sportfederatie")
    region = make.region(fed, "Regio Antwerpen")
    club_a = make.club(region, "KV Kontich")
    club_b = make.club(region, "TC Boechout")
    for first, last in [("Lotte", "Claes"), ("Jonas", "Wouters"), ("Marieke", "Janssens")]:
        make.person(first, last, org=club_b)
    make.person("Pieter", "Janssens", org=club_a)  # same surname, other club: must not show up in club B
    user = make.user("clubadmin@example.org", role="club_admin", org=club_a)
    assign_role(db.session, user, builtin_role(db.session, "club_admin"), club_b)
    db.session.commit()
    return club_a, club_b


def test_club_admin_switches_organisation_and_opens_a_person(page, two_clubs):
    club_a, club_b = two_clubs
    log_in(page, "clubadmin@example.org")

    # Two organisations: the start page lets the user choose.
    page.get_by_role("link", name=re.compile("KV Kontich")).click()
    page.wait_for_url(re.compile(rf"/o/{club_a.id}/$"))
    assert page.locator("main h1").inner_text() == "KV Kontich"

    # The switcher in the top bar changes organisation on its own (federa.js auto-submit).
    page.select_option("#org-switcher", str(club_b.id))
    page.wait_for_url(re.compile(rf"/o/{club_b.id}/$"))
    assert page.locator("main h1").inner_text() == "TC Boechout"
    assert page.locator("#org-switcher").input_value() == str(club_b.id)

    # People, from the menu; search by name.
    page.locator("nav.sidebar").get_by_role("link", name=re.compile("People|Personen|Leden")).click()
    page.wait_for_url(re.compile(rf"/o/{club_b.id}/people"))
    page.fill("input[name=q]", "Janssens")
    page.locator("input[name=q]").press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=Janssens"))
    results = page.locator("main")
    assert results.get_by_text("Marieke").count() >= 1
    assert results.get_by_text("Pieter").count() == 0  # another club's person stays out
    assert results.get_by_text("Lotte").count() == 0  # the search filtered

    page.locator("main").get_by_role("link", name=re.compile("Marieke|Janssens")).first.click()
    page.wait_for_load_state()
    assert re.search(r"/people/\d+", page.url)
    assert "Marieke Janssens" in page.locator("main h1").inner_text()


def test_dashboard_layout_on_laptop_and_phone(page, two_clubs):
    """Screenshots for a human look (/tmp/federa-dashboard-*.png) and the phone menu toggle."""
    club_a, _ = two_clubs
    log_in(page, "clubadmin@example.org")
    page.goto(f"/o/{club_a.id}/")
    assert page.locator("nav.sidebar").is_visible()
    assert not page.locator("button.menu-toggle").is_visible()
    page.screenshot(path="/tmp/federa-dashboard-1280.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/o/{club_a.id}/")
    toggle = page.locator("button.menu-toggle")
    assert toggle.is_visible()
    # Nothing sticks out sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    sidebar_box = page.locator("nav.sidebar").bounding_box()
    assert sidebar_box is None or sidebar_box["x"] + sidebar_box["width"] <= 0  # off screen
    page.screenshot(path="/tmp/federa-dashboard-390.png", full_page=True)

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    page.wait_for_function("document.querySelector('nav.sidebar').getBoundingClientRect().left >= 0")
    page.screenshot(path="/tmp/federa-dashboard-390-menu.png")
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"

    # The user menu holds the language links on a phone.
    page.locator("details.user-menu > summary").click()
    page.locator("details.user-menu").get_by_role("link", name="FR").click()
    page.wait_for_url(re.compile(rf"/o/{club_a.id}/$"))
    assert page.locator("html").get_attribute("lang") == "fr"
