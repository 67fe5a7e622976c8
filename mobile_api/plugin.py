"""The member app as an always-on plugin: its API and its installable web app."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.hookspecs import hookimpl
from core.plugins import Plugin


class MobileApiPlugin(Plugin):
    """The member app: my data under /api/v1/me and the installable web app at /app/."""

    name = "mobile_api"
    label = _l("Member app")
    optional = False

    @hookimpl
    def register_blueprints(self, app):
        from mobile_api.views import app_bp

        return [app_bp]

    @hookimpl
    def register_mobile_routes(self, app):
        from mobile_api.api import blp

        return [blp]

    @hookimpl
    def register_settings(self):
        from mobile_api.services import SETTINGS

        return SETTINGS
