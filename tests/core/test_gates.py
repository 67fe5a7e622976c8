"""The three central gates: routes, organisation-scoped hooks and jobs keep a disabled module out."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import url_for

from core.db import db
from core.gates import call_org_hook, flatten
from core.models import Job, ModuleOverride
from tests.conftest import csrf_token, web_login
from tests.sample_plugin.models import SampleNote

SAMPLE_BLUEPRINTS = ("sample_api", "sample_web")


def switch(org, plugin: str, enabled: bool | None) -> None:
    row = db.session.execute(sa.select(ModuleOverride).where(
        ModuleOverride.org_id == org.id, ModuleOverride.plugin == plugin)).scalar_one_or_none()
    if row is not None:
        db.session.delete(row)
        db.session.flush()
    if enabled is not None:
        db.session.add(ModuleOverride(org_id=org.id, plugin=plugin, enabled=enabled))
    db.session.commit()


@pytest.fixture
def world(sample_make):
    fed = sample_make.federation("Federatie")
    club = sample_make.club(fed, "Club A")
    other = sample_make.club(fed, "Club B")
    secretariat = sample_make.user("sec@example.org", role="federation_secretariat", org=fed)
    note = SampleNote(org_id=club.id, text="note of A")
    db.session.add_all([note, SampleNote(org_id=other.id, text="note of B")])
    db.session.commit()
    return {"fed": fed, "club": club, "other": other, "secretariat": secretariat, "note": note}


def plugin_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".", 1)[0] in SAMPLE_BLUEPRINTS and "org_id" in rule.arguments:
            yield rule


def call_every_plugin_endpoint(app, client, headers, org_id, note_id):
    """Request every method of every sample endpoint that carries an organisation; return {(url, method): status}."""
    results = {}
    with app.test_request_context():
        urls = [(rule, url_for(rule.endpoint, org_id=org_id,
                               **{a: note_id for a in rule.arguments if a != "org_id"})) for rule in plugin_rules(app)]
    assert len(urls) >= 4, "the sample plugin must expose several org-scoped endpoints"
    for rule, url in urls:
        order = ["GET", "POST", "PUT", "PATCH", "DELETE"]  # delete last, so later reads find the row
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}, key=order.index):
            kwargs = {"headers": headers}
            if method in ("POST", "PUT", "PATCH"):
                if url.startswith("/api/"):
                    kwargs["json"] = {"text": "x"}
                else:
                    kwargs["data"] = {"text": "x", "csrf_token": csrf_token(client, "/login")}
            response = client.open(url, method=method, **kwargs)
            results[(url, method)] = response
    return results


def test_route_gate_walks_every_plugin_endpoint(sample_ctx, sample_client, world):
    """Module off for the organisation: every plugin endpoint answers 404; on: none does."""
    client, club = sample_client, world["club"]
    api_headers = {"Authorization": f"Bearer {__import__('tests.factories').factories.Factory(db.session).token(world['secretariat'])}"}
    web_login(client, "sec@example.org")

    off = call_every_plugin_endpoint(sample_ctx, client, api_headers, club.id, world["note"].id)
    for (url, method), response in off.items():
        assert response.status_code == 404, f"{method} {url} leaked with the module off: {response.status_code}"
        if url.startswith("/api/"):
            assert response.json["message"] == "module not enabled for this organisation"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SampleNote)) == 2, "nothing changed"

    switch(club, "sample", True)
    on = call_every_plugin_endpoint(sample_ctx, client, api_headers, club.id, world["note"].id)
    for (url, method), response in on.items():
        assert response.status_code in (200, 201, 204), f"{method} {url} -> {response.status_code}"


def test_module_on_for_one_club_stays_off_for_its_sibling(sample_ctx, sample_client, sample_make, world):
    switch(world["club"], "sample", True)
    headers = sample_make.headers(world["secretariat"])
    assert sample_client.get(f"/api/v1/orgs/{world['club'].id}/sample/notes", headers=headers).status_code == 200
    assert sample_client.get(f"/api/v1/orgs/{world['other'].id}/sample/notes", headers=headers).status_code == 404


def test_package_granted_by_federation_enables_module_in_clubs(sample_ctx, sample_client, sample_make, world):
    package = sample_make.package("extra", ["sample_extra"])
    sample_make.subscribe(world["fed"], package, include_descendants=True)
    headers = sample_make.headers(world["secretariat"])
    response = sample_client.get(f"/api/v1/orgs/{world['other'].id}/sample/notes", headers=headers)
    assert response.status_code == 200, "sample_extra requires sample, so sample is on too"
    switch(world["other"], "sample", False)
    assert sample_client.get(f"/api/v1/orgs/{world['other'].id}/sample/notes", headers=headers).status_code == 404


def test_queries_are_scoped_to_the_organisation_of_the_url(sample_ctx, sample_client, sample_make, world):
    for org in (world["club"], world["other"], world["fed"]):
        switch(org, "sample", True)
    headers = sample_make.headers(world["secretariat"])
    club_notes = sample_client.get(f"/api/v1/orgs/{world['club'].id}/sample/notes", headers=headers).json
    assert [n["text"] for n in club_notes] == ["note of A"]
    fed_notes = sample_client.get(f"/api/v1/orgs/{world['fed'].id}/sample/notes", headers=headers).json
    assert sorted(n["text"] for n in fed_notes) == ["note of A", "note of B"]
    # Club B's note through club A's URL: the scoped query does not find it.
    other_note = db.session.execute(sa.select(SampleNote).where(SampleNote.org_id == world["other"].id)).scalar_one()
    url = f"/api/v1/orgs/{world['club'].id}/sample/notes/{other_note.id}"
    assert sample_client.get(url, headers=headers).status_code == 404


def test_plugin_endpoints_without_organisation_follow_their_mark(sample_ctx, sample_client, sample_make, world):
    assert sample_client.get("/api/v1/sample/info").status_code == 200  # public
    assert sample_client.get("/api/v1/sample/stats").status_code == 401  # platform admin: login first
    headers = sample_make.headers(world["secretariat"])
    assert sample_client.get("/api/v1/sample/stats", headers=headers).status_code == 404
    admin = sample_make.user("root@example.org", role="platform_admin")
    assert sample_client.get("/api/v1/sample/stats", headers=sample_make.headers(admin)).json == {"notes": 2}


def test_hook_gate_reaches_only_enabled_plugins(sample_ctx, sample_make, world):
    from core.access import load_access

    club, registry = world["club"], sample_ctx.extensions["federa"]
    access = load_access(db.session, world["secretariat"], registry.permissions)
    with sample_ctx.test_request_context():
        labels = [item.label for item in flatten(call_org_hook("menu_items", club, access=access))]
        assert "Sample notes" not in labels and "People" in labels
        call_org_hook("on_event", club, event="membership.ended", payload={"id": 1})
    assert registry.plugins["sample"].events == []

    switch(club, "sample", True)
    with sample_ctx.test_request_context():
        access = load_access(db.session, world["secretariat"], registry.permissions)
        labels = [item.label for item in flatten(call_org_hook("menu_items", club, access=access))]
        assert "Sample notes" in labels and "Sample extra" not in labels
        call_org_hook("on_event", club, event="membership.ended", payload={"id": 1})
    assert registry.plugins["sample"].events == [(club.id, "membership.ended", {"id": 1})]


def test_job_gate_skips_a_job_whose_module_was_switched_off(sample_ctx, sample_make, world):
    runner = sample_ctx.extensions["federa"].jobs
    club = world["club"]
    switch(club, "sample", True)
    kept = runner.enqueue(db.session, "sample.count_notes", org_id=club.id, label="kept")
    db.session.commit()
    runner.join()
    db.session.expire_all()
    assert db.session.get(Job, kept.id).status == "done"
    assert db.session.get(Job, kept.id).result == {"notes": 1, "label": "kept"}, "the job ran scoped to its club"

    skipped = runner.enqueue(db.session, "sample.count_notes", org_id=club.id, label="late")
    switch(club, "sample", False)  # commits: the message is sent with the module already off
    runner.join()
    db.session.expire_all()
    job = db.session.get(Job, skipped.id)
    assert job.status == "skipped"
    assert "not enabled" in job.message


def test_always_on_plugins_pass_every_gate(make_app):
    """A plugin with `optional = False` (like mobile_api) is on for every organisation: routes and jobs."""
    from flask import Blueprint

    from core.hookspecs import hookimpl
    from core.jobs import JobSpec
    from core.plugins import Plugin
    from tests.factories import Factory

    bp = Blueprint("always_web", __name__)

    @bp.route("/o/<int:org_id>/always/")
    def page(org_id):
        return "always here"

    class Always(Plugin):
        name = "always"
        optional = False

        @hookimpl
        def register_blueprints(self, app):
            return [bp]

        @hookimpl
        def register_jobs(self):
            return [JobSpec("always.ping", lambda ctx: {"pong": ctx.org.id}, max_retries=0)]

    app = make_app(plugins=[Always])
    from tests.conftest import _clean, web_login

    _clean(app)
    with app.app_context():
        make = Factory(db.session)
        fed = make.federation()
        make.user("always@example.org", role="federation_secretariat", org=fed)
        client = app.test_client()
        web_login(client, "always@example.org")
        assert client.get(f"/o/{fed.id}/always/").get_data(as_text=True) == "always here"
        runner = app.extensions["federa"].jobs
        job = runner.enqueue(db.session, "always.ping", org_id=fed.id)
        db.session.commit()
        runner.join()
        db.session.expire_all()
        assert db.session.get(Job, job.id).status == "done"


def test_many_organisations_at_once_get_what_each_gets_alone(sample_ctx, sample_make, world):
    """A bulk action over many clubs computes their modules in two queries (`prime_enabled_modules`): the
    result must be what each club gets alone, whatever grants or refuses a module."""
    import datetime as dt

    from core.gates import enabled_modules, prime_enabled_modules
    from core.modules import compute_enabled, compute_enabled_many

    fed, club, other = world["fed"], world["club"], world["other"]
    region = sample_make.region(fed, "Regio")
    deep = sample_make.club(region, "Club C")
    lone = sample_make.club(sample_make.federation("Andere"), "Club D")
    extra = sample_make.package("extra", ["sample_extra"])
    sample_make.subscribe(region, extra, include_descendants=True)          # inherited by Club C only
    sample_make.subscribe(fed, sample_make.package("own", ["sample"]))       # the federation itself only
    sample_make.subscribe(lone, extra, ends_on=dt.date(2021, 1, 1))          # expired
    switch(other, "sample", True)
    switch(deep, "sample", False)                                            # and what requires it
    registry = sample_ctx.extensions["federa"].plugins
    orgs = [fed, region, club, other, deep, lone]
    alone = {org.id: compute_enabled(db.session, registry, org) for org in orgs}
    assert alone == {fed.id: {"sample"}, region.id: {"sample", "sample_extra"}, club.id: set(),
                     other.id: {"sample"}, deep.id: set(), lone.id: set()}
    assert compute_enabled_many(db.session, registry, orgs, chunk=4) == alone
    with sample_ctx.test_request_context():
        prime_enabled_modules(orgs)
        assert {org.id: enabled_modules(org) for org in orgs} == alone
