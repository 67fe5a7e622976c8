"""Tenant isolation, walked over the whole URL map: a user never reaches an organisation outside
their assignments — every organisation-scoped route, core or plugin, any method, answers 404."""
from __future__ import annotations

import pytest
from flask import url_for

from core.db import db
from core.models import ModuleOverride
from tests.conftest import csrf_token, web_login

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Organisation-scoped pages anyone may open without logging in (a club's sign-up form). They pass the module
# gate like every other route; a new one must be added here on purpose.
PUBLIC_ORG_ROUTES = {("/join/{org}/", "GET"), ("/join/{org}/", "POST"), ("/join/{org}/sent", "GET"),
                     ("/api/v1/orgs/{org}/membership/signup", "GET"), ("/api/v1/orgs/{org}/membership/signup", "POST")}


def org_scoped_urls(app, org_id: int, other_id: int):
    """Every (url, methods) whose rule carries `org_id`, other arguments filled with `other_id`."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "org_id" not in rule.arguments:
                continue
            values = {}
            for arg in rule.arguments:
                converter = rule._converters.get(arg)
                kind = type(converter).__name__ if converter else ""
                values[arg] = org_id if arg == "org_id" else (other_id if "Integer" in kind else "x")
            urls.append((url_for(rule.endpoint, **values), sorted((rule.methods or set()) & set(METHODS))))
    return urls


@pytest.fixture
def two_clubs(sample_make):
    fed = sample_make.federation("Federatie")
    club_a = sample_make.club(fed, "Club A")
    club_b = sample_make.club(fed, "Club B")
    other_fed = sample_make.federation("Andere federatie")
    for org in (fed, club_a, club_b, other_fed):
        db.session.add(ModuleOverride(org_id=org.id, plugin="sample", enabled=True))
    db.session.commit()
    person_b = sample_make.person("Bert", "Baert", org=club_b)
    admin_a = sample_make.user("admin-a@example.org", role="club_contact", org=club_a)
    secretariat = sample_make.user("sec@example.org", role="federation_secretariat", org=other_fed)
    return {"fed": fed, "a": club_a, "b": club_b, "other_fed": other_fed, "person_b": person_b,
            "admin_a": admin_a, "secretariat": secretariat}


@pytest.mark.parametrize("who,target", [
    ("admin_a", "b"),            # sibling club
    ("admin_a", "fed"),          # the club's own federation (no role there)
    ("secretariat", "fed"),      # secretariat of another federation
    ("secretariat", "a"),
])
def test_every_org_route_answers_404_outside_assignments(sample_ctx, sample_client, sample_make, two_clubs, who, target):
    client = sample_client
    user = two_clubs[who]
    org = two_clubs[target]
    headers = sample_make.headers(user)
    web_login(client, user.email)
    token = csrf_token(client, "/login")
    urls = org_scoped_urls(sample_ctx, org.id, two_clubs["person_b"].id)
    assert len(urls) > 10
    leaks = []
    for url, methods in urls:
        for method in methods:
            if url.startswith("/api/"):
                response = client.open(url, method=method, headers=headers, json={})
            else:
                response = client.open(url, method=method, data={"csrf_token": token})
            if response.status_code != 404:
                leaks.append(f"{method} {url} -> {response.status_code}")
    assert not leaks, "routes reachable outside the user's organisations:\n" + "\n".join(leaks)


def public_org_routes(app, org_id: int) -> set[tuple[str, str]]:
    """(url, method) of the organisation-scoped views marked public."""
    from core.gates import PUBLIC, exposure_of

    found = set()
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "org_id" in rule.arguments and rule.arguments == {"org_id"}:
                view = app.view_functions[rule.endpoint]
                for method in (rule.methods or set()) & set(METHODS):
                    if exposure_of(view, method) == PUBLIC:
                        found.add((url_for(rule.endpoint, org_id=org_id), method))
    return found


def test_anonymous_requests_need_login_everywhere(sample_ctx, sample_client, two_clubs):
    client = sample_client
    org_id = two_clubs["a"].id
    public = public_org_routes(sample_ctx, org_id)
    assert public == {(url.replace("{org}", str(org_id)), method) for url, method in PUBLIC_ORG_ROUTES}
    for url, methods in org_scoped_urls(sample_ctx, org_id, 1):
        for method in methods:
            response = client.open(url, method=method)
            if (url, method) in public:
                # The membership module is off in this club: the gate answers 404 to anyone.
                assert response.status_code == 404, f"{method} {url} -> {response.status_code}"
                continue
            if url.startswith("/api/"):
                assert response.status_code == 401, f"{method} {url} -> {response.status_code}"
                assert response.json["code"] == 401
            else:
                assert response.status_code == 302, f"{method} {url} -> {response.status_code}"
                assert "/login" in response.headers["Location"]
