"""Meta-tests that keep the hook catalogue honest (datasette keeps the same)."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from core import hookspecs
from core.db import db
from core.gates import call_org_hook, flatten
from core.models import ModuleOverride

HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
               if hasattr(fn, "federa_spec"))
ROOT = Path(__file__).resolve().parents[2]


def test_catalogue_is_complete():
    expected = {"dashboard_panels", "load_demo_data", "register_blueprints", "register_mobile_routes", "register_permissions", "register_settings",
                "register_jobs", "register_cli", "register_document_kinds", "register_notification_types",
                "register_search_fields", "menu_items", "member_profile_sections", "on_event", "person_export",
                "person_erase", "mobile_feed"}
    assert expected <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_saying_its_scope(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert doc.startswith(("App.", "Organisation.")), f"{hook}: say whether it is app- or organisation-scoped"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_implemented_by_the_sample_plugin(sample_app, hook):
    impls = getattr(sample_app.extensions["federa"].plugins.pm.hook, hook).get_hookimpls()
    assert "sample" in [impl.plugin_name for impl in impls]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_for_plugin_authors(hook):
    docs = "\n".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    assert hook in docs, f"docs/ do not mention the hook {hook}"


def test_app_scoped_hooks_reach_the_app(sample_app):
    state = sample_app.extensions["federa"]
    rules = {rule.rule for rule in sample_app.url_map.iter_rules()}
    assert "/api/v1/orgs/<int:org_id>/sample/notes" in rules          # register_blueprints (API)
    assert "/o/<int:org_id>/sample/" in rules                         # register_blueprints (web)
    assert "/api/v1/me/sample/hello" in rules                         # register_mobile_routes
    assert state.permissions.get("sample.read") is not None           # register_permissions
    assert "sample.greeting" in state.settings                        # register_settings
    assert "sample.count_notes" in state.jobs.specs                   # register_jobs
    assert "sample-hello" in sample_app.cli.commands                  # register_cli
    collected = dict(state.plugins.collect("register_document_kinds"))
    assert collected["sample"]["key"] == "sample_letter"              # register_document_kinds
    assert dict(state.plugins.collect("register_notification_types"))["sample"]["key"] == "sample.note_added"
    assert dict(state.plugins.collect("register_search_fields"))["sample"].key == "sample.has_note"


def test_org_scoped_hooks_go_through_the_gate(sample_ctx, sample_make):
    from core.access import load_access

    fed = sample_make.federation()
    club = sample_make.club(fed)
    person = sample_make.person("An", "Claes", org=club)
    user = sample_make.user(role="club_contact", org=club)
    plugin = sample_ctx.extensions["federa"].plugins["sample"]
    access = load_access(db.session, user, sample_ctx.extensions["federa"].permissions)

    def run_all():
        with sample_ctx.test_request_context():
            return {
                "member_profile_sections": [s.title for s in flatten(call_org_hook(
                    "member_profile_sections", club, person=person, access=access))],
                "person_export": call_org_hook("person_export", club, person=person),
                "person_erase": call_org_hook("person_erase", club, person=person),
                "mobile_feed": flatten(call_org_hook("mobile_feed", club, person=person, since=None)),
                "dashboard_panels": [p.title for p in flatten(call_org_hook("dashboard_panels", club,
                                                                            access=access))],
            }

    off = run_all()
    assert "Sample notes" not in off["member_profile_sections"]
    assert {"sample_notes": []} not in off["person_export"]
    assert plugin.erased == [] and off["mobile_feed"] == []
    assert "Sample notes" not in off["dashboard_panels"]

    db.session.add(ModuleOverride(org_id=club.id, plugin="sample", enabled=True))
    db.session.commit()
    on = run_all()
    assert "Sample notes" in on["member_profile_sections"]
    assert {"sample_notes": []} in on["person_export"]
    assert plugin.erased == [person.id]
    assert on["mobile_feed"] == [{"plugin": "sample", "title": f"Notes of {club.name}"}]
    assert "Sample notes" in on["dashboard_panels"]
