"""The admin shell in a real browser: log in, switch organisation, find and open a person; layout on a phone."""
from __future__ import annotations

import re

import pytest

from core.db import db
from core.services.people import search_text_for
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
    people = [make.person(first, last, org=club_b)
              for first, last in [("Lotte", "Claes"), ("Jonas", "Wouters"), ("Marieke", "Janssens")]]
    people.append(make.person("Pieter", "Janssens", org=club_a))  # same surname, other club: not found in club B
    for person in people:  # the factory skips the people service, which keeps the search text
        person.search_text = search_text_for(person)
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

    # The user menu holds the language links on a phone; its links are readable on the white panel.
    page.locator("details.user-menu > summary").click()
    logout = page.locator("details.user-menu button[type=submit]")
    assert logout.is_visible()
    assert logout.evaluate("el => getComputedStyle(el).color") != "rgb(255, 255, 255)"
    page.locator("details.user-menu").get_by_role("link", name="FR").click()
    page.wait_for_url(re.compile(rf"/o/{club_a.id}/$"))
    assert page.locator("html").get_attribute("lang") == "fr"


PLAYGROUND = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/core/federa.css"></head><body>
<div class="progress" data-job-url="/fake-job" data-done-url="/login?finished=1"><div class="progress-bar" style="width:0%"></div></div>
<form id="bulk" method="get" action="/login">
  <table class="table"><tr><th><input type="checkbox" data-select-all></th></tr>
  <tr><td><input type="checkbox" name="ids" value="1"></td></tr>
  <tr><td><input type="checkbox" name="ids" value="2"></td></tr></table>
  <button type="submit" name="go" value="1" data-confirm="Really?">Delete</button>
</form>
<form><input type="checkbox" name="ids" value="9" id="other"></form>
<script src="/static/core/federa.js"></script></body></html>"""


def test_federa_js_progress_select_all_and_confirm(page, live_server):
    """federa.js on a page of its own: the job URL is answered by the test (running, then done)."""
    answers = iter([{"status": "running", "percent": 40, "message": "40 of 100"}])

    def job(route):
        route.fulfill(json=next(answers, {"status": "done", "percent": 100, "message": "finished"}))

    page.route("**/fake-job", job)
    page.route("**/playground", lambda route: route.fulfill(body=PLAYGROUND, content_type="text/html"))
    page.goto("/playground")

    # Select all toggles the boxes of its own form only.
    page.check("input[data-select-all]")
    assert page.locator("#bulk input[name=ids]:checked").count() == 2
    assert not page.is_checked("#other")
    page.uncheck("#bulk input[name=ids] >> nth=0")
    assert page.evaluate("document.querySelector('[data-select-all]').indeterminate")

    # data-confirm: dismissing keeps the page, which meanwhile follows the job.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("text=Delete")
    assert "/playground" in page.url
    # The bar shows 40 %, then the job is done and the page goes to data-done-url.
    page.wait_for_url(re.compile(r"/login\?finished=1"))


def test_federa_js_confirm_accepted_submits(page, live_server):
    page.route("**/playground", lambda route: route.fulfill(body=PLAYGROUND.replace(
        'data-job-url="/fake-job"', 'data-job-url="/fake-job" data-reload="false"'), content_type="text/html"))
    page.route("**/fake-job", lambda route: route.fulfill(json={"status": "running", "percent": 40, "message": "40 of 100"}))
    page.goto("/playground")
    page.wait_for_function("document.querySelector('.progress-bar').style.width === '40%'")
    assert "40 of 100" in page.locator(".progress-label").inner_text()
    assert page.get_attribute(".progress", "data-status") == "running"
    page.check("input[data-select-all]")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Delete")
    page.wait_for_url(re.compile(r"/login\?ids=1&ids=2&go=1"))
