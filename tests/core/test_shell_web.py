"""The admin web shell: start page, organisation switcher, dashboard, language links, error pages."""
from __future__ import annotations

import re

import pytest
from flask import Blueprint

from core.db import db
from core.hookspecs import hookimpl
from core.models import Job, ModuleOverride
from core.permissions import Permission
from core.plugins import Plugin
from core.services.users import assign_role, builtin_role
from core.web import MenuItem
from core.web.guard import require
from tests.conftest import _clean, web_login
from tests.factories import Factory

shell_web = Blueprint("shelltest_web", __name__)


@shell_web.route("/o/<int:org_id>/shelltest/")
@require("shelltest.read")
def index(org_id):
    from flask import render_template_string

    # Pages pass common names such as `person` and `orgs`: the shell must not overwrite them.
    return render_template_string(
        '{% extends "core/base.html" %}{% block content %}shelltest page [{{ person }}|{{ orgs }}]{% endblock %}',
        person="the page's person", orgs="the page's orgs")


class ShellTestPlugin(Plugin):
    """A module with one page and one menu item."""

    name = "shelltest"
    label = "Shell test"

    @hookimpl
    def register_blueprints(self, app):
        return [shell_web]

    @hookimpl
    def register_permissions(self):
        return [Permission("shelltest.read", "Read the shell test page")]

    @hookimpl
    def menu_items(self, org, access):
        items = [MenuItem("Broken item", "shelltest_web.no_such_view", icon="no-such-icon", plugin="shelltest")]
        if access.has("shelltest.read", org):
            items.append(MenuItem("Shell test page", "shelltest_web.index", icon="ticket", position=40,
                                  plugin="shelltest"))
        return items


@pytest.fixture(scope="module")
def shell_app(make_app):
    return make_app(plugins=[ShellTestPlugin])


@pytest.fixture
def make(shell_app):
    _clean(shell_app)
    with shell_app.app_context():
        yield Factory(db.session)
        db.session.remove()


@pytest.fixture
def client(shell_app, make):
    return shell_app.test_client()


@pytest.fixture
def tree(make):
    """A federation with two clubs, and a second federation nobody below may see."""
    fed = make.federation("Federatie Test")
    region = make.region(fed, "Regio Oost")
    club_a = make.club(region, "KV Aalst")
    club_b = make.club(region, "KV Brugge")
    other = make.federation("Andere Federatie")
    other_club = make.club(other, "FC Vreemd")
    return fed, region, club_a, club_b, other, other_club


def text(response) -> str:
    return response.get_data(as_text=True)


def switcher_options(html: str) -> list[str]:
    select = re.search(r'<select id="org-switcher".*?</select>', html, re.S).group(0)
    return re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)</option>", select)


# --- start page --------------------------------------------------------------------------------

def test_start_page_asks_anonymous_visitors_to_log_in(client):
    r = client.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_one_organisation_goes_straight_to_its_dashboard(client, make, tree):
    club_a = tree[2]
    make.user("one@example.org", role="club_admin", org=club_a)
    web_login(client, "one@example.org")
    r = client.get("/")
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/o/{club_a.id}/")


def test_several_organisations_get_a_chooser_with_only_their_own(client, make, tree):
    fed, region, club_a, club_b, other, other_club = tree
    user = make.user("two@example.org", role="club_admin", org=club_a)
    assign_role(db.session, user, builtin_role(db.session, "club_admin"), club_b)
    db.session.commit()
    web_login(client, "two@example.org")
    r = client.get("/")
    assert r.status_code == 200
    html = text(r)
    assert f'href="/o/{club_a.id}/"' in html and f'href="/o/{club_b.id}/"' in html
    assert "KV Aalst" in html and "KV Brugge" in html
    assert "FC Vreemd" not in html and "Andere Federatie" not in html
    assert switcher_options(html) == ["KV Aalst", "KV Brugge"]


def test_user_without_roles_sees_an_empty_chooser(client, make, tree):
    make.user("nobody@example.org")
    web_login(client, "nobody@example.org")
    r = client.get("/")
    assert r.status_code == 200
    assert "You have no role in any organisation yet." in text(r)


def test_platform_admin_switcher_lists_roots_and_own_roles(client, make, tree):
    fed, region, club_a, club_b, other, other_club = tree
    user = make.user("root@example.org", role="platform_admin")
    assign_role(db.session, user, builtin_role(db.session, "club_admin"), club_b)
    db.session.commit()
    web_login(client, "root@example.org")
    options = switcher_options(text(client.get("/")))
    assert options == ["Andere Federatie", "Federatie Test", "KV Brugge"]


# --- organisation switcher --------------------------------------------------------------------------

def test_switch_to_a_visible_organisation_opens_its_dashboard(client, make, tree):
    fed, region, club_a, club_b, other, other_club = tree
    make.user("sec@example.org", role="federation_secretariat", org=fed)
    web_login(client, "sec@example.org")
    r = client.get(f"/switch?org_id={club_b.id}")  # below the assignment: visible
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/o/{club_b.id}/")
    # The current organisation stays selected in the switcher even when it is below the user's role.
    html = text(client.get(f"/o/{club_b.id}/"))
    assert re.search(rf'<option value="{club_b.id}" selected>KV Brugge</option>', html)


@pytest.mark.parametrize("target", ["foreign", "missing", "garbage"])
def test_switch_to_an_organisation_outside_the_assignments_is_404(client, make, tree, target):
    fed, region, club_a, club_b, other, other_club = tree
    make.user("admin@example.org", role="club_admin", org=club_a)
    web_login(client, "admin@example.org")
    org_id = {"foreign": str(other_club.id), "missing": "99999", "garbage": "abc"}[target]
    r = client.get(f"/switch?org_id={org_id}")
    assert r.status_code == 404
    assert "FC Vreemd" not in text(r)
    assert client.get(f"/o/{other_club.id}/").status_code == 404


def test_switch_without_an_organisation_goes_to_the_start_page(client, make, tree):
    make.user("admin@example.org", role="club_admin", org=tree[2])
    web_login(client, "admin@example.org")
    r = client.get("/switch?org_id=")
    assert r.status_code == 302 and r.headers["Location"].endswith("/")


def test_switch_needs_login(client, tree):
    r = client.get(f"/switch?org_id={tree[2].id}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


# --- dashboard -------------------------------------------------------------------------------------

def _enable(make, org, plugin="shelltest"):
    make.session.add(ModuleOverride(org_id=org.id, plugin=plugin, enabled=True))
    make.session.commit()


def test_dashboard_shows_menu_items_of_enabled_modules_only(client, make, tree):
    fed, region, club_a, club_b, other, other_club = tree
    _enable(make, club_a)
    user = make.user("two@example.org", role="club_admin", org=club_a)
    assign_role(db.session, user, builtin_role(db.session, "club_admin"), club_b)
    db.session.commit()
    web_login(client, "two@example.org")

    on = text(client.get(f"/o/{club_a.id}/"))
    assert "Shell test page" in on
    assert f'href="/o/{club_a.id}/shelltest/"' in on
    assert 'data-plugin="shelltest"' in on and "Shell test" in on  # the module's label on its card
    assert "Broken item" not in on  # an endpoint that cannot be built is left out, not a 500

    off = client.get(f"/o/{club_b.id}/")
    assert off.status_code == 200
    assert "Shell test page" not in text(off) and "shelltest" not in text(off)
    assert client.get(f"/o/{club_b.id}/shelltest/").status_code == 404


def test_menu_items_respect_permissions(client, make, tree):
    club_a = tree[2]
    _enable(make, club_a)
    make.user("member@example.org", role="member", org=club_a)
    web_login(client, "member@example.org")
    html = text(client.get(f"/o/{club_a.id}/"))
    assert "Shell test page" not in html
    assert "No modules are available to you in this organisation." in html
    assert 'data-count="people"' not in html  # no right to read people: no people figure either


def test_sidebar_marks_the_current_module(client, make, tree):
    club_a = tree[2]
    _enable(make, club_a)
    make.user("admin@example.org", role="club_admin", org=club_a)
    web_login(client, "admin@example.org")
    html = text(client.get(f"/o/{club_a.id}/shelltest/"))
    assert "shelltest page [the page&#39;s person|the page&#39;s orgs]" in html
    active = re.findall(r'<a href="([^"]+)" aria-current="page">', html)
    assert active == [f"/o/{club_a.id}/shelltest/"]
    active = re.findall(r'<a href="([^"]+)" aria-current="page">', text(client.get(f"/o/{club_a.id}/")))
    assert active == [f"/o/{club_a.id}/"]


def test_dashboard_counts_people_suborganisations_and_running_jobs_of_the_subtree(client, make, tree):
    fed, region, club_a, club_b, other, other_club = tree
    make.person("Ann", "Aerts", org=club_a)
    both = make.person("Bart", "Bosmans", org=club_a)
    make.session.add(both.links[0].__class__(person_id=both.id, org_id=club_b.id))
    make.person("Vera", "Vreemd", org=other_club)
    for status, org in [("running", club_b), ("queued", fed), ("done", club_a), ("running", other_club)]:
        make.session.add(Job(id=f"job-{status}-{org.id}", org_id=org.id, actor="x", status=status))
    make.session.commit()
    make.user("sec@example.org", role="federation_secretariat", org=fed)
    web_login(client, "sec@example.org")

    html = text(client.get(f"/o/{fed.id}/"))
    figures = dict(re.findall(r'data-count="(\w+)">(\d+)<', html))
    # people: Ann, Bart (in two clubs, counted once) and the secretariat user (linked to the federation)
    assert figures == {"people": "3", "organisations": "3", "jobs": "2"}

    html = text(client.get(f"/o/{club_b.id}/"))
    assert dict(re.findall(r'data-count="(\w+)">(\d+)<', html)) == {"people": "1", "jobs": "1"}
    # The breadcrumb leads back up to the federation.
    assert f'href="/o/{fed.id}/">Federatie Test</a>' in html


def test_breadcrumb_hides_organisations_above_the_assignment(client, make, tree):
    fed, region, club_a = tree[:3]
    make.user("admin@example.org", role="club_admin", org=club_a)
    web_login(client, "admin@example.org")
    html = text(client.get(f"/o/{club_a.id}/"))
    assert "KV Aalst" in html
    assert "Federatie Test" not in html and "Regio Oost" not in html


def test_dashboard_of_a_foreign_organisation_is_404(client, make, tree):
    club_a, other = tree[2], tree[4]
    make.user("admin@example.org", role="club_admin", org=club_a)
    web_login(client, "admin@example.org")
    r = client.get(f"/o/{other.id}/")
    assert r.status_code == 404
    assert "Andere Federatie" not in text(r)
    assert client.get("/o/99999/").status_code == 404


# --- language ------------------------------------------------------------------------------------

def test_dutch_is_the_default_language(client, make, tree):
    make.user("admin@example.org", role="club_admin", org=tree[2])
    web_login(client, "admin@example.org")
    html = text(client.get(f"/o/{tree[2].id}/"))
    assert '<html lang="nl">' in html


def test_language_links_set_the_language_and_keep_the_page(client, make, tree):
    club_a = tree[2]
    make.user("admin@example.org", role="club_admin", org=club_a)
    web_login(client, "admin@example.org")
    page = f"/o/{club_a.id}/?x=1"
    html = text(client.get(page))
    link = re.search(r'<a href="([^"]+)" lang="fr"', html).group(1).replace("&amp;", "&")
    assert link.startswith("/lang/fr?next=")

    r = client.get(link)
    assert r.status_code == 302 and r.headers["Location"].endswith(page)
    html = text(client.get(f"/o/{club_a.id}/"))
    assert '<html lang="fr">' in html
    assert re.search(r'lang="fr" hreflang="fr" aria-current="true"', html)
    # The choice sticks for the rest of the visit.
    assert '<html lang="fr">' in text(client.get("/", follow_redirects=True))


def test_language_links_work_before_login_and_refuse_bad_input(client):
    r = client.get("/lang/en?next=/login")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert '<html lang="en">' in text(client.get("/login"))

    assert client.get("/lang/de?next=/login").status_code == 404
    assert '<html lang="en">' in text(client.get("/login"))  # unchanged
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example"]:
        r = client.get("/lang/nl", query_string={"next": target})
        assert r.status_code == 302 and "evil" not in r.headers["Location"]


# --- shell pages ---------------------------------------------------------------------------------

def test_error_pages_use_the_shell(client, make, tree):
    make.user("admin@example.org", role="club_admin", org=tree[2])
    web_login(client, "admin@example.org")
    r = client.get("/no/such/page")
    assert r.status_code == 404
    html = text(r)
    assert "Page not found" in html and 'class="topbar"' in html
    r = client.get(f"/o/{tree[2].id}/shelltest/")  # module off: 404 inside the organisation
    assert r.status_code == 404 and "Page not found" in text(r)


def test_static_assets_are_served(client):
    for name, kind in [("federa.css", "text/css"), ("federa.js", "javascript"), ("icons.svg", "svg")]:
        r = client.get(f"/static/core/{name}")
        assert r.status_code == 200 and kind in r.content_type
    assert b'id="i-users"' in client.get("/static/core/icons.svg").data
