"""Admin web UI shell: the `web` blueprint, menu items and person-page sections from plugins."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint

web = Blueprint("web", __name__, template_folder="../templates", static_folder="../static",
                static_url_path="/static/core")


@dataclass(frozen=True)
class MenuItem:
    """An entry of the admin menu; `endpoint` is built with `org_id` of the current organisation."""

    label: str
    endpoint: str
    icon: str = ""
    position: int = 100
    plugin: str = "core"


@dataclass(frozen=True)
class DashboardPanel:
    """A block at the top of the dashboard: a title and already-rendered (escaped) HTML."""

    title: str
    html: str
    position: int = 100
    plugin: str = "core"


@dataclass(frozen=True)
class ProfileSection:
    """A block on the person page: a title and already-rendered (escaped) HTML."""

    title: str
    html: str
    position: int = 100
    plugin: str = "core"


# Importing the view modules registers their routes on `web`.
from core.web import (  # noqa: E402,F401
    auth_views, jobs_views, modules_views, orgs_views, people_views, roles_views, views)
