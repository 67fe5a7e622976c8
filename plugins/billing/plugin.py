"""The billing plugin: invoices and credit notes, membership invoice runs, Belgian payments
(structured communication, EPC QR, Mollie, CODA), reminders, reports, Peppol BIS 3.0 e-invoices."""
from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.hookspecs import hookimpl
from core.plugins import Plugin


class BillingPlugin(Plugin):
    """Invoices, credit notes and payments."""

    name = "billing"
    label = _l("Billing")
    requires = ("membership",)

    @hookimpl
    def register_blueprints(self, app):
        from plugins.billing.api import blp, public_blp
        from plugins.billing.views import web

        return [blp, public_blp, web]

    @hookimpl
    def register_mobile_routes(self, app):
        from plugins.billing.api import me_blp

        return [me_blp]

    @hookimpl
    def register_permissions(self):
        from plugins.billing.permissions import PERMISSIONS

        return PERMISSIONS

    @hookimpl
    def register_settings(self):
        from plugins.billing.permissions import SETTINGS

        return SETTINGS

    @hookimpl
    def register_jobs(self):
        from plugins.billing.tasks import JOBS

        return JOBS

    @hookimpl
    def menu_items(self, org, access):
        from core.web import MenuItem

        if not access.has("billing.read", org):
            return []
        return [MenuItem(_l("Invoices"), "billing_web.invoices", icon="euro", position=30, plugin=self.name)]

    @hookimpl
    def member_profile_sections(self, org, person, access):
        from core.db import db
        from core.web import ProfileSection
        from plugins.billing import privacy, services

        if not access.has("billing.read", org):
            return []
        invoices = privacy.invoices_of_person(db.session, org, person.id)
        html = render_template("billing/_profile_section.html", invoices=invoices, org=org,
                               status_of=services.effective_status)
        return [ProfileSection(_l("Invoices"), Markup(html), position=30, plugin=self.name)]

    @hookimpl
    def person_export(self, org, person):
        from core.db import db
        from plugins.billing import privacy

        return privacy.export_person(db.session, org, person)

    @hookimpl
    def person_erase(self, org, person):
        from core.db import db
        from plugins.billing import privacy

        return privacy.erase_person(db.session, org, person)

    @hookimpl
    def mobile_feed(self, org, person, since):
        from core.db import db
        from plugins.billing import privacy

        return privacy.feed_items(db.session, org, person)
