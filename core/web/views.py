"""Core admin shell pages: start page, organisation switch, dashboard, language choice."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, g, redirect, render_template, request, url_for

from core.access import current_access
from core.db import db
from core.gates import call_org_hook, flatten, public_endpoint
from core.i18n import remember_language
from core.models import Job, Organisation, PersonOrganisation
from core.services.organisations import ancestors, subtree_ids
from core.web import web
from core.web.context import menu_entries, switcher_orgs

ACTIVE_JOB_STATUSES = ("queued", "running")


def safe_next(target: str | None, default: str) -> str:
    """A local path to go back to; anything pointing elsewhere (open redirect) becomes `default`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@web.route("/")
def home():
    """One organisation: straight to its dashboard; several: a chooser."""
    access = current_access()
    if not access.is_authenticated:
        return redirect(url_for("web.login"))
    orgs = switcher_orgs(access)
    if len(orgs) == 1:
        return redirect(url_for("web.dashboard", org_id=orgs[0].id))
    return render_template("core/home.html", orgs=orgs)


@web.route("/switch")
def switch_org():
    """The organisation switcher's target: to the dashboard of an organisation the user can see, else 404."""
    org_id = request.args.get("org_id", type=int)
    if org_id is None:
        if request.args.get("org_id"):
            abort(404)
        return redirect(url_for("web.home"))
    org = db.session.get(Organisation, org_id)
    if org is None or not current_access().can_see(org):
        abort(404)
    return redirect(url_for("web.dashboard", org_id=org.id))


@web.route("/lang/<code>")
@public_endpoint
def set_language(code: str):
    """The language links: remember the choice and return to the page the user was on."""
    if not remember_language(code):
        abort(404)
    return redirect(safe_next(request.args.get("next"), url_for("web.home")))


@web.route("/o/<int:org_id>/")
def dashboard(org_id: int):
    org: Organisation = g.org
    access = current_access()
    subtree = subtree_ids(org)
    counts = {}
    if access.has("core.people.read", org):
        counts["people"] = db.session.scalar(
            sa.select(sa.func.count(sa.distinct(PersonOrganisation.person_id)))
            .where(PersonOrganisation.org_id.in_(subtree)))
    if access.has("core.organisation.read", org):
        below = db.session.scalar(
            sa.select(sa.func.count()).select_from(Organisation)
            .where(Organisation.path.startswith(org.path), Organisation.id != org.id))
        if below:  # a club has none: no "0 sub-organisations" figure
            counts["organisations"] = below
    if access.has("core.jobs.read", org):
        counts["jobs"] = db.session.scalar(
            sa.select(sa.func.count()).select_from(Job)
            .where(Job.org_id.in_(subtree), Job.status.in_(ACTIVE_JOB_STATUSES)))
    modules = [entry for entry in menu_entries(org, access) if entry.item.endpoint != "web.dashboard"]
    # Only the ancestors this user may see: a club admin does not get the names above their assignment.
    trail = [o for o in ancestors(db.session, org) if access.can_see(o)]
    panels = sorted(flatten(call_org_hook("dashboard_panels", org, access=access)),
                    key=lambda panel: (panel.position, str(panel.title)))
    return render_template("core/dashboard.html", org=org, counts=counts, modules=modules, trail=trail,
                           panels=panels, plugin_labels=_plugin_labels())


def _plugin_labels() -> dict[str, str]:
    from core.gates import federa

    return {name: plugin.label or name for name, plugin in federa().plugins.plugins.items()}
