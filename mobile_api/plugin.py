"""The member app as an always-on plugin: its API, its web app, and (for now) the notification jobs."""
from __future__ import annotations

from core.hookspecs import hookimpl
from core.notifications import models as _notification_models  # noqa: F401  (tables in the metadata)
from core.plugins import Plugin


class MobileApiPlugin(Plugin):
    """The member app: my data under /api/v1/me and the installable web app at /app/."""

    name = "mobile_api"
    label = "Member app"
    optional = False

    @hookimpl
    def register_blueprints(self, app):
        from core.notifications import blueprint as notification_templates
        from mobile_api.views import app_bp

        return [app_bp, notification_templates]

    @hookimpl
    def register_mobile_routes(self, app):
        from mobile_api.api import blp

        return [blp]

    @hookimpl
    def register_jobs(self):
        # Core's notification service; declared here until core's own plugin declares it.
        from core.notifications.tasks import JOBS

        return JOBS

    @hookimpl
    def register_settings(self):
        from mobile_api.services import SETTINGS

        return SETTINGS
