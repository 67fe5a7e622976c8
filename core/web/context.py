"""What every admin page needs: the current organisation, the switcher and the menu from enabled modules.

`inject_shell` is the app's context processor; everything it exposes is lazy (a callable), so a page
that does not draw the shell (e-mail templates, error pages without login) runs no query for it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app, g, request, url_for
from flask_babel import get_locale
from markupsafe import Markup
from werkzeug.routing import BuildError

from core.access import current_access
from core.db import db
from core.gates import call_org_hook, flatten
from core.models import Organisation, OrganisationKind

log = logging.getLogger(__name__)

# Icons drawn in core/static/icons.svg (symbol ids "i-<name>"); other names fall back to a generic one.
ICONS = frozenset({
    "home", "users", "user", "sitemap", "key", "puzzle", "clock", "list", "euro", "file", "news", "ticket",
    "shield", "upload", "mail", "calendar", "settings", "id-card", "heart", "chart", "box", "search",
    "menu", "chevron", "logout", "globe",
})


def icon_name(name: str | None) -> str:
    """The symbol to draw for a menu icon name."""
    return name if name in ICONS else "box"


def icon(name: str | None, label: str | None = None) -> Markup:
    """An icon from the sprite; decorative unless `label` is given."""
    href = url_for("web.static", filename="icons.svg") + "#i-" + icon_name(name)
    aria = Markup('role="img" aria-label="{}"').format(label) if label else Markup('aria-hidden="true"')
    return Markup('<svg class="icon" {} focusable="false"><use href="{}"></use></svg>').format(aria, href)


def switcher_orgs(access) -> list[Organisation]:
    """The organisations a user holds a role on, plus the roots of the tree for platform admins."""
    if not access.is_authenticated:
        return []
    condition = Organisation.id.in_(access.org_ids) if access.org_ids else sa.false()
    if access.is_platform_admin:
        condition = sa.or_(condition, Organisation.parent_id.is_(None))
    return list(db.session.execute(
        sa.select(Organisation).where(condition).order_by(Organisation.depth, Organisation.name)
    ).scalars())


def menu_for(org: Organisation, access) -> list:
    """Menu items of core and the modules enabled for `org` (gate 2), in menu order."""
    items = flatten(call_org_hook("menu_items", org, access=access))
    return sorted(items, key=lambda item: (item.position, str(item.label)))


@dataclass(frozen=True)
class MenuEntry:
    item: object  # core.web.MenuItem
    url: str
    active: bool

    @property
    def icon(self) -> str:
        return icon_name(self.item.icon)


def menu_entries(org: Organisation, access) -> list[MenuEntry]:
    """The menu with URLs built for `org`; the entry whose URL is the longest prefix of this page is active.

    An item whose endpoint cannot be built (a plugin bug) is left out and logged rather than
    breaking every admin page of the organisation. Computed once per request (sidebar and dashboard)."""
    cache = g.setdefault("_menu_entries", {})
    if org.id not in cache:
        cache[org.id] = _build_menu_entries(org, access)
    return cache[org.id]


def _build_menu_entries(org: Organisation, access) -> list[MenuEntry]:
    built = []
    for item in menu_for(org, access):
        try:
            built.append((item, url_for(item.endpoint, org_id=org.id)))
        except BuildError:
            log.warning("menu item %r of plugin %s: endpoint %s cannot be built", str(item.label), item.plugin,
                        item.endpoint)
    path = request.path if request else ""
    home = url_for("web.dashboard", org_id=org.id)

    def covers(url: str) -> bool:
        # The dashboard URL is a prefix of every page of the organisation: it is active only on itself.
        return path == url or (url != home and path.startswith(url.rstrip("/") + "/"))

    best = max((url for _, url in built if covers(url)), key=len, default=None)
    return [MenuEntry(item, url, url == best) for item, url in built]


def kind_label(kind: str) -> str:
    """The organisation kind's label in the current language (kinds are data; loaded once per request)."""
    labels = g.get("_kind_labels")
    if labels is None:
        lang = str(get_locale() or "nl")
        labels = g._kind_labels = {k.key: k.label(lang) for k in db.session.execute(sa.select(OrganisationKind)).scalars()}
    return labels.get(kind, kind)


def lang_url(code: str) -> str:
    """Link that switches the UI language and comes back to this page."""
    here = request.full_path.rstrip("?") if request else "/"
    return url_for("web.set_language", code=code) + "?" + urlencode({"next": here})


def inject_shell() -> dict:
    access = current_access()
    org = getattr(g, "org", None)
    in_org = org is not None and access.is_authenticated
    return {
        "access": access,
        "current_org": org,
        "switcher_orgs": lambda: switcher_orgs(access),
        "menu": (lambda: menu_for(org, access)) if in_org else (lambda: []),
        "menu_entries": (lambda: menu_entries(org, access)) if in_org else (lambda: []),
        "locale": str(get_locale()),
        "languages": current_app.config["LANGUAGES"],
        "lang_url": lang_url,
        "kind_label": kind_label,
        "icon": icon,
    }
