"""The hooks a Federa plugin can implement — the plugin contract, in one readable catalogue.

App-scoped hooks are called once at start-up for every loaded plugin.
Organisation-scoped hooks are only ever called through `core.gates.call_org_hook`, which
leaves out the plugins that are not enabled for that organisation (gate 2).
Every hook here is exercised by `tests/core/test_hookspecs.py`.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("federa")
hookimpl = pluggy.HookimplMarker("federa")


# --- app-scoped: called once at start-up --------------------------------------------------

@hookspec
def register_blueprints(app):
    """App. Return a list of Flask or flask-smorest blueprints of this plugin.

    flask-smorest blueprints go under `/api/v1`, Flask blueprints are the admin web UI.
    Endpoints without `org_id` in their URL must be marked `public_endpoint` or
    `platform_admin_endpoint` (checked at start-up)."""


@hookspec
def register_mobile_routes(app):
    """App. Return a list of flask-smorest blueprints for the member app API (`/api/v1/me/...`)."""


@hookspec
def register_permissions():
    """App. Return a list of `core.permissions.Permission`; duplicate names stop start-up."""


@hookspec
def register_settings():
    """App. Return a list of `core.settings.SettingSpec` (per-organisation settings with defaults)."""


@hookspec
def register_jobs():
    """App. Return a list of `core.jobs.JobSpec` (dramatiq actors, optionally periodic)."""


@hookspec
def register_cli():
    """App. Return a list of click commands or groups added to the `federa` CLI."""


@hookspec
def register_document_kinds():
    """App. Return a list of document kinds (see the documents plugin) this plugin offers."""


@hookspec
def register_notification_types():
    """App. Return a list of `core.notifications.NotificationType` this plugin sends."""


@hookspec
def register_search_fields():
    """App. Return a list of `core.services.people.SearchField`: extra person-list filters from this plugin."""


@hookspec
def load_demo_data(session, federation):
    """App. Add this plugin's demo data for the demo `federation` and everything below it (called by
    `federa demo-data` after core's own data). Must be idempotent; return a short summary string or None."""


# --- organisation-scoped: called through the gate --------------------------------------------

@hookspec
def menu_items(org, access):
    """Organisation. Return a list of `core.web.MenuItem` for the admin menu of `org`.

    `access` is the current user's `core.access.Access`; return only items the user may open."""


@hookspec
def member_profile_sections(org, person, access):
    """Organisation. Return a list of `core.web.ProfileSection` shown on the person page."""


@hookspec
def dashboard_panels(org, access):
    """Organisation. Return a list of `core.web.DashboardPanel` shown at the top of the dashboard of `org`
    (e.g. pop-up messages, things waiting for the user); only what `access` may see."""


@hookspec
def on_event(org, event, payload):
    """Organisation. React to a domain event (`membership.ended`, `invoice.paid`, `person.merged` ...).

    Return value ignored."""


@hookspec
def person_export(org, person):
    """Organisation. Return a dict (JSON-serialisable) of all data this plugin keeps about `person`."""


@hookspec
def person_erase(org, person):
    """Organisation. Erase or anonymise this plugin's data about `person`; return a short dict of what was done
    (and what was kept, with the legal reason)."""


@hookspec
def mobile_feed(org, person, since):
    """Organisation. Return a list of `mobile_api.feed.FeedItem` for the member app's feed."""
