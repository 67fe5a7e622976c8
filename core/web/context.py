"""What every admin page needs: the current organisation, the switcher and the menu from enabled modules."""
from __future__ import annotations

import sqlalchemy as sa
from flask import g
from flask_babel import get_locale

from core.access import current_access, visible_org_filter
from core.db import db
from core.gates import call_org_hook, flatten
from core.models import Organisation


def switcher_orgs(access) -> list[Organisation]:
    """The organisations a user holds a role on: the roots of what they can reach."""
    if not access.is_authenticated:
        return []
    ids = access.org_ids
    if access.is_platform_admin:
        return list(db.session.execute(
            sa.select(Organisation).where(Organisation.parent_id.is_(None)).order_by(Organisation.name)).scalars())
    if not ids:
        return []
    return list(db.session.execute(
        sa.select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.depth, Organisation.name)
    ).scalars())


def menu_for(org: Organisation, access) -> list:
    items = flatten(call_org_hook("menu_items", org, access=access))
    return sorted(items, key=lambda item: (item.position, item.label))


def inject_shell() -> dict:
    access = current_access()
    org = getattr(g, "org", None)
    return {
        "access": access,
        "current_org": org,
        "switcher_orgs": lambda: switcher_orgs(access),
        "menu": (lambda: menu_for(org, access)) if org is not None and access.is_authenticated else (lambda: []),
        "locale": str(get_locale()),
    }
