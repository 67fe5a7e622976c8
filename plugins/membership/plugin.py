"""The membership plugin: seasons, membership types, memberships of people in clubs, member lists,
bulk actions, Excel export and import, the federation overview, the clubs' public sign-up forms."""
from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.hookspecs import hookimpl
from core.plugins import Plugin


class MembershipPlugin(Plugin):
    """Seasons, membership types and memberships of people in clubs."""

    name = "membership"
    label = _l("Membership")

    @hookimpl
    def register_blueprints(self, app):
        from plugins.membership.api import blp
        from plugins.membership.views import public, web

        return [blp, web, public]

    @hookimpl
    def load_demo_data(self, session, federation):
        from flask import current_app

        from plugins.membership.demo import load

        return load(session, federation, current_app.extensions["federa"].plugins)

    @hookimpl
    def register_permissions(self):
        from plugins.membership.permissions import PERMISSIONS

        return PERMISSIONS

    @hookimpl
    def register_settings(self):
        from plugins.membership.permissions import SETTINGS

        return SETTINGS

    @hookimpl
    def register_jobs(self):
        from plugins.membership.tasks import JOBS

        return JOBS

    @hookimpl
    def menu_items(self, org, access):
        from core.web import MenuItem

        items = []
        if access.has("membership.read", org):
            items.append(MenuItem(_l("Members"), "membership_web.members", icon="id-card", position=20,
                                  plugin=self.name))
            if org.kind != "club":
                items.append(MenuItem(_l("Membership overview"), "membership_web.overview", icon="chart",
                                      position=21, plugin=self.name))
            else:
                items.append(MenuItem(_l("Applications"), "membership_web.applications_list", icon="upload",
                                      position=21, plugin=self.name))
        return items

    @hookimpl
    def dashboard_panels(self, org, access):
        """Applications that wait for a decision of this club's admins."""
        from flask import render_template
        from flask_babel import gettext as _

        from core.db import db
        from core.web import DashboardPanel
        from plugins.membership import applications

        if org.kind != "club" or not access.has("membership.write", org):
            return []
        counts = applications.counts(db.session, org)
        if not counts["new"]:
            return []
        return [DashboardPanel(_("Applications"), render_template("membership/_applications_panel.html", org=org,
                                                                  counts=counts), position=20, plugin=self.name)]

    @hookimpl
    def member_profile_sections(self, org, person, access):
        from core.db import db
        from core.web import ProfileSection
        from plugins.membership import services

        if not access.has("membership.read", org):
            return []
        rows = services.memberships_of(db.session, org, person.id)
        html = render_template("membership/_profile_section.html", rows=rows, org=org, person=person,
                               can_write=access.has("membership.write", org),
                               status_of=services.effective_status)
        return [ProfileSection(_l("Memberships"), Markup(html), position=20, plugin=self.name)]

    @hookimpl
    def mobile_feed(self, org, person, since):
        """The member's own memberships in this club, for the app's memberships list."""
        from core.db import db
        from plugins.membership import services

        return services.member_app_items(db.session, org, person)

    @hookimpl
    def person_export(self, org, person):
        from core.db import db
        from plugins.membership import applications, services

        return {**services.export_person(db.session, org, person),
                "applications": applications.export_person(db.session, org, person)}

    @hookimpl
    def person_erase(self, org, person):
        from core.db import db
        from plugins.membership import applications, services

        return {**services.erase_person(db.session, org, person),
                "applications_erased": applications.erase_person(db.session, org, person)}
