"""Core's own features, declared through the same hooks plugins use (datasette's `default_*` habit).

Always loaded, never switched off per organisation.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.hookspecs import hookimpl
from core.permissions import CORE_PERMISSIONS
from core.plugins import Plugin
from core.settings import CORE_SETTINGS


class CorePlugin(Plugin):
    """Organisations, people, users, roles, modules."""

    name = "core"
    label = _l("Core")
    optional = False

    @hookimpl
    def register_blueprints(self, app):
        from core.api import blueprints as api_blueprints
        from core.notifications import blueprint as notification_templates
        from core.web import web

        return [web, notification_templates, *api_blueprints()]

    @hookimpl
    def register_jobs(self):
        from core.notifications.tasks import JOBS

        return JOBS

    @hookimpl
    def register_permissions(self):
        return CORE_PERMISSIONS

    @hookimpl
    def register_settings(self):
        return CORE_SETTINGS

    @hookimpl
    def menu_items(self, org, access):
        from core.web import MenuItem

        items = [MenuItem(_l("Dashboard"), "web.dashboard", icon="home", position=0)]
        if access.has("core.people.read", org):
            items.append(MenuItem(_l("People"), "web.people", icon="users", position=10))
        if access.has("core.organisation.read", org):
            items.append(MenuItem(_l("Organisations"), "web.org_tree", icon="sitemap", position=80))
        if access.has("core.roles.read", org):
            items.append(MenuItem(_l("Roles and users"), "web.roles", icon="key", position=85))
        if access.has("core.modules.read", org):
            items.append(MenuItem(_l("Modules"), "web.modules", icon="puzzle", position=90))
        if access.has("core.jobs.read", org):
            items.append(MenuItem(_l("Jobs"), "web.jobs", icon="clock", position=95))
        if access.has("core.audit.read", org):
            items.append(MenuItem(_l("Audit log"), "web.audit", icon="list", position=96))
        return items
